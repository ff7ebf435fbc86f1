"""kill -9 in the middle of an apply: the next start closes the run with an audit row naming what it changed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.shell.store import Store
from tests.conftest import PROJECT
from tests.conftest import run_cli as run
from tests.live.conftest import LIVE_MANAGEMENT, LiveFleet, Simulator

Start = Callable[..., Simulator]
Make = Callable[..., LiveFleet]


def test_a_run_killed_mid_apply_is_reported_then_closed_with_an_audit_row(
        live_fleet: Make, simulator: Start, capsys: pytest.CaptureFixture[str]) -> None:
    """verify names the unaudited run; the next live command closes it, naming the converged routers; verify passes."""
    fleet = live_fleet(LIVE_MANAGEMENT.replace("max_parallel: 4", "max_parallel: 1"))
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.5")
    command = [sys.executable, "-m", "reconciler", "apply", str(fleet.root), "--yes", *fleet.options(sim.url)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT)
    assert process.stderr is not None
    converged = []
    for line in process.stderr:
        if ": converged" in line:  # the first router is done: kill the process without a chance to clean up
            converged.append(line.split(": ")[1])  # "applying: ber-r01: converged"
            process.send_signal(signal.SIGKILL)
            break
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL

    code, out, _ = run(["audit", "--verify", "--data-dir", str(fleet.data_dir)], capsys)
    assert code == 1
    assert "run 1 (apply) changed or touched" in out and "has no audit row" in out

    code, _, err = run(["observe", str(fleet.root), *fleet.options(sim.url)], capsys)
    assert code == 0
    assert "run 1 (apply) was left open by a process that ended; closed as interrupted" in err
    code, out, _ = run(["audit", "--data-dir", str(fleet.data_dir), "--format", "json"], capsys)
    rows = json.loads(out)
    assert [(row["action"], row["outcome"], row["run"]) for row in rows] == [("apply", "interrupted", 1)]
    assert set(converged) <= set(rows[0]["devices"])
    assert run(["audit", "--verify", "--data-dir", str(fleet.data_dir)], capsys)[0] == 0


def test_a_run_of_a_process_still_at_work_is_left_open(tmp_path: Path) -> None:
    """Only runs whose process has ended are closed: a daemon beside `apply` keeps its own run open."""
    store = Store(tmp_path / "data")
    run_id = store.start_run("reconcile", "daemon", "abc", None)
    store.record_step(run_id, "r1", "configuration", "started")
    assert store.close_interrupted_runs() == []
    assert store.runs()[0].status == "running"
    assert store.verify_audit() == []  # in progress is not a break
