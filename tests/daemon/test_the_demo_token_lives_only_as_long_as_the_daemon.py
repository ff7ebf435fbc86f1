"""`serve --simulate` prints an admin token for the demo: it stops working when that daemon stops, or is killed."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.shell.store import Store
from tests.daemon.conftest import FleetRepo, ServeProcess, call

pytestmark = pytest.mark.slow


def demo_token_rows(data_dir: Path) -> list[dict[str, object]]:
    store = Store(data_dir)
    try:
        return [row.as_dict() for row in store.tokens() if row.created_by == "serve --simulate"]
    finally:
        store.close()


def test_the_demo_token_is_revoked_when_the_daemon_stops_and_after_a_kill_at_the_next_start(
        fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess], tmp_path: Path) -> None:
    """SIGTERM: the printed token is revoked (and audited) before the process exits; SIGKILL: the next start of
    the daemon revokes the token the killed one printed, so no demo token outlives its demo."""
    repo = fleet_repo()
    data_dir = tmp_path / "data"
    first = serve(repo.root, "--simulate", "--poll", "0.2", key=repo.key_file, data_dir=data_dir)
    assert first.token is not None and first.get("/api/v1/tokens").status == 200
    assert first.stop(signal.SIGTERM) == 0
    [row] = demo_token_rows(data_dir)
    assert row["revoked_at"], "the demo token is still valid after the daemon stopped"
    first_name = row["name"]

    second = serve(repo.root, "--simulate", "--poll", "0.2", key=repo.key_file, data_dir=data_dir)
    assert second.token is not None and second.token != first.token
    assert call(second.url + "/api/v1/status", token=first.token).status == 401
    second.stop(signal.SIGKILL)
    assert [bool(row["revoked_at"]) for row in demo_token_rows(data_dir)] == [True, False]  # killed: no cleanup
    second_name = demo_token_rows(data_dir)[1]["name"]

    third = serve(repo.root, "--poll", "0.2", key=repo.key_file, data_dir=data_dir)  # not even a demo
    assert call(third.url + "/api/v1/status", token=second.token).status == 401
    assert all(row["revoked_at"] for row in demo_token_rows(data_dir))
    revoked = [row for row in third.get("/api/v1/audit").body["rows"] if row["action"] == "token-revoke"]
    assert [(row["outcome"], row["detail"]) for row in revoked] == [  # newest first
        (second_name, "the demo token: left by a daemon that did not stop cleanly"),
        (first_name, "the demo token: the daemon stopped")]
