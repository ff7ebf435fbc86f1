"""A reconcile loop that dies is restarted with backoff, counted, and never looks healthy while it is down."""

from __future__ import annotations

import datetime as dt
import itertools
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon.conftest import FleetRepo, ServeProcess, call, wait_for
from tests.daemon.test_a_connection_flood_leaves_the_daemon_acting import metric

pytestmark = pytest.mark.slow

FAULT = "RECONCILER_TEST_FAULT_FETCH"  # the daemon's test-only hook: fetches fail (EMFILE) while the file exists


def test_a_dead_loop_turns_healthz_and_readyz_503_is_restarted_with_backoff_and_logged_once_per_burst(
        fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess], tmp_path: Path) -> None:
    """Fetches fail as when descriptors run out: /healthz and /readyz answer 503 with the error, the restarts
    are counted, one traceback is logged for the whole burst with its count, and once fetching works again
    the loop runs, the daemon is healthy and a new commit is applied."""
    repo = fleet_repo()
    fault = tmp_path / "fault"
    config = tmp_path / "reconciler.yaml"
    config.write_text("restart_backoff: 0.1\n")
    daemon = serve(repo.root, "--simulate", "--poll", "0.2", "--config", str(config), key=repo.key_file,
                   env={FAULT: str(fault)})
    wait_for(lambda: daemon.converged_at(repo.head), what="the first revision applied")
    assert daemon.get("/healthz").status == 200 and metric(daemon, "reconciler_loop_up") == 1.0

    fault.touch()
    health = wait_for(lambda: (answer := call(daemon.url + "/healthz")).status == 503 and answer, what="unhealthy")
    assert health.body["status"] == "failing" and "Too many open files" in health.body["loop"]["error"]
    ready = call(daemon.url + "/readyz")
    assert ready.status == 503 and ready.body["ready"] is False
    wait_for(lambda: metric(daemon, "reconciler_loop_restarts_total") >= 3, what="three restarts")

    fault.unlink()
    wait_for(lambda: call(daemon.url + "/healthz").status == 200, what="healthy again")
    pushed = repo.commit({**repo.files, "fleet.yaml": repo.files["fleet.yaml"].replace("pool", "back")}, "after")
    wait_for(lambda: daemon.converged_at(pushed), what="a commit applied after the restart")
    assert call(daemon.url + "/readyz").status == 200
    restarts = int(metric(daemon, "reconciler_loop_restarts_total"))
    assert daemon.get("/healthz").body["loop"] == {"running": True, "restarts": restarts, "error": None,
                                                   "down_since": None}

    assert daemon.stop(signal.SIGTERM) == 0
    for reader in daemon.readers:
        reader.join(timeout=10)
    failures = [r for r in daemon.log_records() if r["message"].startswith("the reconcile loop stopped")]
    assert len(failures) == 2, failures  # the first with its traceback, then the count of the rest
    assert "OSError" in failures[0]["error"] and "error" not in failures[1]
    assert failures[1]["repeated"] == restarts - 1 and "repeated" in failures[1]["message"]
    restarted = [dt.datetime.fromisoformat(r["time"]) for r in daemon.log_records()
                 if r["message"].startswith("restarting the reconcile loop")]
    assert len(restarted) == restarts
    for number, (earlier, later) in enumerate(itertools.pairwise(restarted[:4]), start=1):
        assert (later - earlier).total_seconds() >= 0.1 * 2 ** number  # the wait doubles: 0.1 s, 0.2 s, 0.4 s, …
