"""kill -9 in the middle of a wave: the next apply closes the interrupted run, continues the rollout at the same
wave in a new run, and applies nothing twice."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable

import pytest

from tests.conftest import PROJECT
from tests.conftest import run_cli as run
from tests.live.conftest import LIVE_MANAGEMENT, LiveFleet, Simulator

Start = Callable[..., Simulator]
Make = Callable[..., LiveFleet]
ROLLOUTS = """\
strategies:
  default:
    waves: [canary, 100%]
    canary: {balance_by: [model]}
"""


def test_kill_9_mid_wave_then_apply_continues_the_same_rollout_without_applying_twice(
        live_fleet: Make, simulator: Start, capsys: pytest.CaptureFixture[str]) -> None:
    """Killed after the first canary router converged: the rollout resumes in wave 1; each router configured once."""
    fleet = live_fleet(LIVE_MANAGEMENT.replace("max_parallel: 4", "max_parallel: 1"), extra={"rollouts.yaml": ROLLOUTS})
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.5")
    command = [sys.executable, "-m", "reconciler", "apply", str(fleet.root), "--yes", *fleet.options(sim.url)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT)
    assert process.stderr is not None
    for line in process.stderr:
        if ": converged" in line:  # one canary router is done, the other is not: kill without a chance to clean up
            process.send_signal(signal.SIGKILL)
            break
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL

    code, out, err = run(["apply", str(fleet.root), "--yes", *fleet.options(sim.url)], capsys)
    assert code == 0, out + err
    assert "was left open by a process that ended; closed as interrupted" in err
    assert "rollout 1: succeeded" in err  # the same rollout, not a new one
    code, out, _ = run(["rollout", "status", "--format", "json", "--data-dir", str(fleet.data_dir)], capsys)
    status = json.loads(out)
    assert status["id"] == 1 and {d["state"] for d in status["devices"]} == {"succeeded"}
    with sqlite3.connect(fleet.data_dir / "state.sqlite3") as db:
        done = db.execute("select device, count(*) from run_steps where step = 'configuration' and outcome = 'done'"
                          " group by device").fetchall()
        runs = db.execute("select status from runs order by id").fetchall()
    assert dict(done) == {"ber-r01": 1, "ber-r02": 1, "nwk-r01": 1}
    assert [row[0] for row in runs] == ["interrupted", "done"]
