"""The daemon's API over HTTP: tokens and roles, problem bodies, the OpenAPI document, metrics, schemathesis."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate as validate_openapi
from prometheus_client.parser import text_string_to_metric_families
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from reconciler.daemon.openapi import DOCUMENT
from tests.conftest import PROJECT
from tests.daemon.conftest import FleetRepo, ServeProcess, _handshake, call, wait_for

pytestmark = pytest.mark.slow


def make_token(data_dir: Path, role: str, name: str) -> str:
    """`reconciler token create` as a user runs it: the token is the only thing on stdout."""
    result = subprocess.run([sys.executable, "-m", "reconciler", "token", "create", "--role", role, "--name", name,
                             "--data-dir", str(data_dir)], capture_output=True, text=True, check=True, cwd=PROJECT)
    assert f"token {name!r} ({role}) created" in result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """One converged daemon for the module (the API tests only read it, or poke it harmlessly)."""
    root = tmp_path_factory.mktemp("api")
    repo = FleetRepo(root / "repo")
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "serve", str(repo.root), "--simulate", "--listen", "127.0.0.1:0",
         "--data-dir", str(root / "data"), "--poll", "0.5", "--log-format", "json", "--secrets-key",
         str(repo.key_file), "--poll-interval", "0.05", "--shutdown-grace", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT)
    handle = _handshake(process)
    wait_for(lambda: handle.converged_at(repo.head), what="converged")
    handle.data_dir = root / "data"  # type: ignore[attr-defined]
    yield handle
    handle.stop()
    for reader in handle.readers:
        reader.join(timeout=10)
    for stream in (process.stdout, process.stderr):
        assert stream is not None
        stream.close()


def test_requests_without_a_valid_token_get_401_as_a_problem_body(daemon: ServeProcess) -> None:
    """No token, a made-up token: 401 with an RFC 9457 body and WWW-Authenticate; never a traceback."""
    for token in ("", "rcl_made-up"):
        answer = call(daemon.url + "/api/v1/status", token=token or None)
        assert answer.status == 401
        assert answer.headers["Content-Type"].startswith("application/problem+json")
        assert answer.headers["WWW-Authenticate"] == "Bearer"
        assert answer.body["status"] == 401 and "token" in answer.body["detail"]
    missing = daemon.get("/api/v1/devices/no-such-router")
    assert missing.status == 404 and missing.body["title"] == "Not Found"
    bad = daemon.get("/api/v1/audit?limit=lots")
    assert bad.status == 400 and "limit" in bad.body["detail"]
    assert daemon.get("/api/v1/nothing-here").status == 404


def test_roles_viewer_reads_operator_syncs_admin_manages_tokens(daemon: ServeProcess) -> None:
    """viewer < operator < admin; too little role is 403; tokens are shown once, revocable, and audited by name."""
    data_dir: Path = daemon.data_dir  # type: ignore[attr-defined]
    viewer, operator = make_token(data_dir, "viewer", "v-ann"), make_token(data_dir, "operator", "o-bob")
    assert daemon.get("/api/v1/status", viewer).status == 200
    assert daemon.post("/api/v1/sync", token=viewer).status == 403
    assert daemon.get("/api/v1/tokens", operator).status == 403
    assert daemon.post("/api/v1/sync", token=operator).status == 202

    made = daemon.post("/api/v1/tokens", {"role": "viewer", "name": "dashboard"})
    assert made.status == 201 and made.body["token"].startswith("rcl_")
    assert daemon.get("/api/v1/devices", made.body["token"]).status == 200
    listed = daemon.get("/api/v1/tokens").body["tokens"]
    assert {"v-ann", "o-bob", "dashboard"} <= {t["name"] for t in listed}
    assert not any(made.body["token"] in str(t) for t in listed)
    assert daemon.post("/api/v1/tokens", {"role": "root"}).status == 400
    assert call(daemon.url + "/api/v1/tokens/dashboard", "DELETE", token=daemon.token).status == 204
    assert daemon.get("/api/v1/devices", made.body["token"]).status == 401

    rows = daemon.get("/api/v1/audit?limit=1000").body["rows"]
    actions = {(row["actor"], row["action"]) for row in rows}
    assert ("token:o-bob", "sync") in actions
    assert any(actor.startswith("token:admin-") and action == "token-revoke" for actor, action in actions)
    listing = subprocess.run([sys.executable, "-m", "reconciler", "token", "list", "--data-dir", str(data_dir)],
                             capture_output=True, text=True, check=True, cwd=PROJECT).stdout
    assert "dashboard" in listing and "REVOKED" in listing and "rcl_" not in listing


def test_devices_filter_and_detail_show_what_an_operator_looks_for(daemon: ServeProcess) -> None:
    """Filter by group, model, site, status; the detail has serial, firmware, location, last connection, events."""
    everything = daemon.get("/api/v1/devices").body
    assert everything["total"] == 3
    assert {d["name"] for d in daemon.get("/api/v1/devices?group=europe").body["devices"]} == {"ber-r01", "ber-r02"}
    assert [d["name"] for d in daemon.get("/api/v1/devices?model=MRX6%20DSL").body["devices"]] == ["nwk-r01"]
    assert daemon.get("/api/v1/devices?site=newark&status=in-sync").body["total"] == 1
    assert daemon.get("/api/v1/devices?status=failed").body["total"] == 0
    detail = daemon.get("/api/v1/devices/ber-r01").body
    assert detail["serial"] == "24130001" and detail["firmware"] == {"desired": "10.6", "applied": "10.6"}
    assert detail["location"]["timezone"] == "Europe/Berlin" and detail["location"]["lat"] == 52.52
    assert detail["last_connection"] and detail["last_outcome"] == "converged"
    assert {"firmware", "device"} <= {e["step"] for e in detail["events"]}
    groups = {g["name"]: g for g in daemon.get("/api/v1/groups").body["groups"]}
    assert groups["europe"]["devices"] == 2 and groups["europe"]["statuses"] == {"in-sync": 2}


def test_the_openapi_document_is_valid_3_1_and_every_answer_matches_it(daemon: ServeProcess) -> None:
    """openapi-spec-validator accepts the document; each GET's answer validates against its response schema."""
    served = call(daemon.url + "/api/v1/openapi.json").body
    assert served == DOCUMENT and served["openapi"] == "3.1.0"
    validate_openapi(served)
    for path, item in DOCUMENT["paths"].items():
        if "get" not in item or "{" in path or path.endswith("openapi.json"):
            continue
        answer = daemon.get(path)
        schema = item["get"]["responses"][str(answer.status)]["content"]
        media = next(iter(schema.values()))["schema"]
        jsonschema.Draft202012Validator({**media, "components": DOCUMENT["components"]}).validate(answer.body)
    detail = DOCUMENT["paths"]["/api/v1/devices/{name}"]["get"]["responses"]["200"]["content"]
    jsonschema.Draft202012Validator({**detail["application/json"]["schema"], "components": DOCUMENT["components"]}
                                    ).validate(daemon.get("/api/v1/devices/nwk-r01").body)


def test_metrics_parse_with_prometheus_clients_parser(daemon: ServeProcess) -> None:
    """/metrics: revision, degraded, devices by status, drift, apply outcomes, cycle and request latencies."""
    answer = call(daemon.url + "/metrics")
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/plain")
    families = {family.name: family for family in text_string_to_metric_families(answer.body)}
    value = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    head = daemon.status()["revision"]["applied"]
    info = next(s for s in families["reconciler_revision_info"].samples)
    assert info.labels["applied"] == head and info.value == 1.0
    assert value[("reconciler_degraded", ())] == 0.0
    assert value[("reconciler_devices", (("status", "in-sync"),))] == 3.0
    assert value[("reconciler_drifted_devices", ())] == 0.0
    assert value[("reconciler_apply_outcomes_total", (("outcome", "converged"),))] == 3.0
    assert value[("reconciler_reconcile_duration_seconds_count", ())] >= 1
    requests = [s for s in families["reconciler_driver_request_duration_seconds"].samples
                if s.name.endswith("_count")]
    assert sum(s.value for s in requests) > 10
    assert call(daemon.url + "/healthz").body["status"] == "ok"
    assert call(daemon.url + "/readyz").body["ready"] is True


def test_schemathesis_finds_no_server_error_and_no_answer_off_the_document(daemon: ServeProcess) -> None:
    """Generated calls (15 per operation) with an admin token: never a 5xx; status, type and body as documented."""
    assert call(daemon.url + "/api/v1/openapi.json").body == DOCUMENT
    loaded = schemathesis.openapi.from_dict(DOCUMENT)
    headers = {"Authorization": f"Bearer {daemon.token}"}
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    operations = [result.ok() for result in loaded.get_all_operations()]
    assert len(operations) == sum(len(item) for item in DOCUMENT["paths"].values())

    calls = []
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, database=None, derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
        def run(case: Any) -> None:
            response = case.call_and_validate(base_url=daemon.url, headers=headers, checks=checks)
            calls.append((case.operation.label, response.status_code))

        run()
    assert len({label for label, _ in calls}) == len(operations) and len(calls) > 5 * len(operations)
