"""Live edge cases: snapshots, TLS, a router lost mid-apply, and an apply interrupted and resumed."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.cli import main
from tests.conftest import PROJECT
from tests.conftest import run_cli as run
from tests.live.conftest import LIVE_MANAGEMENT, LiveFleet, Simulator
from tests.live.test_apply import SERIALS, outcomes

Start = Callable[..., Simulator]
Make = Callable[..., LiveFleet]


def test_an_observed_snapshot_plans_like_plan_live(live_fleet: Make, simulator: Start, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """`observe --out` writes the snapshot `plan --observed` reads; both plans name the same changes."""
    fleet = live_fleet()
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect")
    snapshot = tmp_path / "observed.json"
    assert run(["observe", str(fleet.root), "--out", str(snapshot), *fleet.options(sim.url)], capsys)[0] == 0
    _, from_file, _ = run(["plan", str(fleet.root), "--observed", str(snapshot), "--format", "json"], capsys)
    _, live, _ = run(["plan", str(fleet.root), "--live", "--format", "json", *fleet.options(sim.url)], capsys)
    assert _actions(from_file) == _actions(live)
    assert len(_actions(live)) == 3


def _actions(plan_json: str) -> dict[str, list[str]]:
    return {d["device"]: [a["kind"] for a in d["actions"]] for d in json.loads(plan_json)["devices"] if d["actions"]}


def test_routers_over_https_are_verified_against_the_ca(live_fleet: Make, simulator: Start, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """With the simulator's CA the fleet converges over HTTPS; without it, no router is trusted."""
    fleet = live_fleet()
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.2",
                    "--tls", str(tmp_path / "tls"))
    assert sim.url.startswith("https://")
    code, out, _ = run(["apply", str(fleet.root), "--yes", *fleet.options(sim.url)], capsys)
    assert code == 1
    assert set(outcomes(out).values()) == {"unreachable"}
    assert "TLS: " in out
    code, out, _ = run(["apply", str(fleet.root), "--yes", "--ca", str(tmp_path / "tls" / "ca.pem"),
                        *fleet.options(sim.url)], capsys)
    assert code == 0, out
    assert set(outcomes(out).values()) == {"converged"}


def test_a_router_lost_during_its_firmware_reboot_fails_alone(live_fleet: Make, simulator: Start,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A router that does not come back from its reboot fails (after reboot_timeout); the others converge."""
    fleet = live_fleet(LIVE_MANAGEMENT.replace("reboot_timeout: 5s", "reboot_timeout: 2s"))
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.6")
    victim = SERIALS["ber-r01"]

    def pull_the_plug() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            state = sim.state(victim)
            if not state["online"]:  # rebooting after its firmware update
                sim.poke(victim, "offline")
                return
            time.sleep(0.02)

    plug = threading.Thread(target=pull_the_plug)
    plug.start()
    code, out, _ = run(["apply", str(fleet.root), "--yes", *fleet.options(sim.url)], capsys)
    plug.join()
    assert code == 1
    assert outcomes(out) == {"ber-r01": "failed", "ber-r02": "converged", "nwk-r01": "converged"}
    assert "not back with firmware 10.6" in out


def test_an_interrupted_apply_records_what_it_did_and_the_next_one_finishes_the_rest(
        live_fleet: Make, simulator: Start) -> None:
    """SIGINT: no new router starts, exit 130; the next apply does only what is left; nothing is applied twice."""
    fleet = live_fleet(LIVE_MANAGEMENT.replace("max_parallel: 4", "max_parallel: 1"))
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.5")
    command = [sys.executable, "-m", "reconciler", "apply", str(fleet.root), "--yes", *fleet.options(sim.url)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT)
    assert process.stderr is not None
    for line in process.stderr:
        if ": converged" in line:  # the first router is done: stop now
            process.send_signal(signal.SIGINT)
            break
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted" in err
    converged_first = _converged(fleet)
    assert 1 <= len(converged_first) < 3
    assert main(["apply", str(fleet.root), "--yes", *fleet.options(sim.url)]) == 0
    assert _converged(fleet) == set(SERIALS)
    with sqlite3.connect(fleet.data_dir / "state.sqlite3") as db:
        done = db.execute("select device, count(*) from run_steps where step = 'configuration' and outcome = 'done'"
                          " group by device").fetchall()
    assert dict(done) == dict.fromkeys(SERIALS, 1)


def _converged(fleet: LiveFleet) -> set[str]:
    with sqlite3.connect(fleet.data_dir / "state.sqlite3") as db:
        rows = db.execute("select name from devices where last_outcome = 'converged'").fetchall()
    return {row[0] for row in rows}
