"""A router that answers 503 after every retry is busy: seen now, reachable, not "offline (last seen never)"."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.conftest import run_cli as run
from tests.live.conftest import LiveFleet, Simulator

Start = Callable[..., Simulator]
Make = Callable[..., LiveFleet]


def test_plan_and_apply_report_a_busy_router_as_busy(live_fleet: Make, simulator: Start,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Busy beyond its retries: plan says busy (not offline), the snapshot says when it was seen, apply says busy."""
    fleet = live_fleet()
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.2")
    sim.poke("24130002", "busy", {"count": 1000})
    code, out, _ = run(["plan", str(fleet.root), "--live", "--format", "json", *fleet.options(sim.url)], capsys)
    devices = {d["device"]: d for d in json.loads(out)["devices"]}
    assert devices["ber-r02"]["status"] == "busy"
    assert "busy, not offline" in devices["ber-r02"]["notes"][0] and "offline (last seen" not in out
    code, out, _ = run(["observe", str(fleet.root), *fleet.options(sim.url)], capsys)
    seen = {d["name"]: d for d in json.loads(out)["devices"]}["ber-r02"]
    assert (seen["online"], seen["busy"]) == (False, True) and seen["last_seen"] is not None
    code, out, _ = run(["apply", str(fleet.root), "--yes", *fleet.options(sim.url)], capsys)
    assert code == 1
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:] if line.strip()}
    assert rows == {"ber-r01": "converged", "ber-r02": "busy", "nwk-r01": "converged"}
