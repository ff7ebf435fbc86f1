"""The API's document and lists, and the metrics' names, as clients and Prometheus expect them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from reconciler.shell import clock
from tests.daemon.conftest import FleetRepo, ServeProcess, call, wait_for

pytestmark = pytest.mark.slow


def test_every_operation_has_an_id_a_bogus_status_is_400_and_audit_and_runs_are_newest_first(
        fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess]) -> None:
    """operationId on every operation; status=bogus answers 400 (not an empty list); /runs and /audit both list
    the newest first, as the document says, and /audit pages back from the newest."""
    repo = fleet_repo()
    daemon = serve(repo.root, "--simulate", "--poll", "0.2", key=repo.key_file)
    wait_for(lambda: daemon.converged_at(repo.head), what="the first revision applied")
    pushed = repo.commit({**repo.files, "fleet.yaml": repo.files["fleet.yaml"].replace("pool", "second")}, "more")
    wait_for(lambda: daemon.converged_at(pushed), what="the second revision applied")
    for _ in range(3):
        assert daemon.post("/api/v1/sync").status == 202

    document = call(daemon.url + "/api/v1/openapi.json").body
    operations = [op for item in document["paths"].values() for op in item.values()]
    ids = [op.get("operationId") for op in operations]
    assert all(ids) and len(set(ids)) == len(operations), ids
    for path in ("/api/v1/runs", "/api/v1/audit"):
        assert "Newest first" in document["paths"][path]["get"]["description"]

    bogus = daemon.get("/api/v1/devices?status=bogus")
    assert bogus.status == 400 and bogus.headers["Content-Type"].startswith("application/problem+json")
    assert "in-sync" in bogus.body["detail"] and "'bogus'" in bogus.body["detail"]
    assert daemon.get("/api/v1/devices?status=in-sync").body["total"] == 3

    runs = [run["id"] for run in daemon.get("/api/v1/runs").body["runs"]]
    assert len(runs) >= 2 and runs == sorted(runs, reverse=True)
    page = daemon.get("/api/v1/audit?limit=1000").body
    rows = [row["id"] for row in page["rows"]]
    assert len(rows) == page["total"] >= 5 and rows == sorted(rows, reverse=True)
    assert page["rows"][0]["action"] == "sync"  # the newest: the last POST /sync
    assert [row["id"] for row in daemon.get("/api/v1/audit?limit=2&offset=1").body["rows"]] == rows[1:3]
    assert [row["id"] for row in daemon.get(f"/api/v1/audit?limit=5&offset={len(rows) - 1}").body["rows"]] == [
        min(rows)]
    assert daemon.get(f"/api/v1/audit?offset={len(rows)}").body == {"total": len(rows), "offset": len(rows),
                                                                    "rows": []}


def test_counters_end_in_total_there_are_no_created_series_and_the_last_success_is_a_timestamp(
        fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess]) -> None:
    """Every counter's samples end in `_total`, no `_created` series, and the last successful reconcile, the loop
    and the HTTP connections are exported."""
    repo = fleet_repo()
    daemon = serve(repo.root, "--simulate", "--poll", "0.2", key=repo.key_file)
    wait_for(lambda: daemon.converged_at(repo.head), what="the first revision applied")
    text = call(daemon.url + "/metrics").body
    families = list(text_string_to_metric_families(text))
    samples = {sample.name: sample.value for family in families for sample in family.samples}
    counters = [family for family in families if family.type == "counter"]
    assert {"reconciler_apply_outcomes", "reconciler_cycles", "reconciler_loop_restarts",
            "reconciler_http_connections_closed"} <= {family.name for family in counters}
    for family in counters:
        assert all(sample.name == family.name + "_total" for sample in family.samples), family
    assert not [name for name in samples if name.endswith("_created")]
    assert "_created" not in text
    last = samples["reconciler_last_successful_reconcile_timestamp_seconds"]
    assert last == clock.now().timestamp()  # Unix time by the daemon's clock (which the tests pin)
    assert samples["reconciler_cycles_total"] >= 1 and samples["reconciler_loop_up"] == 1.0
    assert samples["reconciler_loop_restarts_total"] == 0 and samples["reconciler_http_connections"] >= 1
