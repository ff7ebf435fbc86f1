"""A plan from CI or a laptop (a store that never applied to these routers) cannot know their packets:
it reports them unknown, apart from its changes, instead of claiming installs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import run_cli as run
from tests.live.conftest import LiveFleet, Simulator

Start = Callable[..., Simulator]
Make = Callable[..., LiveFleet]


def test_a_fresh_store_reports_packets_unknown_not_to_install(live_fleet: Make, simulator: Start, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """After a converging apply, `plan --live` with a fresh --data-dir plans no change and names the unknown packet."""
    fleet = live_fleet()
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.2")
    assert run(["apply", str(fleet.root), "--yes", *fleet.options(sim.url)], capsys)[0] == 0
    laptop = [*fleet.options(sim.url)]
    laptop[laptop.index("--data-dir") + 1] = str(tmp_path / "laptop")

    code, out, _ = run(["plan", str(fleet.root), "--live", "--detailed-exitcode", *laptop], capsys)
    assert code == 0, out
    assert "0 devices to change (3 in-sync); 2 with packets unknown to this store" in out
    assert "packet tools: unknown (no record in this store) on 2 devices" in out  # the two of the packet's group
    assert "install" not in out

    code, out, _ = run(["plan", str(fleet.root), "--live", "--format", "json", *laptop], capsys)
    devices = json.loads(out)["devices"]
    assert {(d["status"], len(d["actions"])) for d in devices} == {("in-sync", 0)}
    assert sorted(d["unknown"] for d in devices) == [[], *[["packet tools: unknown (no record in this store)"]] * 2]

    code, out, _ = run(["plan", str(fleet.root), "--live", "--detailed-exitcode", *fleet.options(sim.url)], capsys)
    assert code == 0
    assert "unknown" not in out  # the store that applied knows


def test_a_router_changed_from_a_fresh_store_gets_its_packets_and_a_record(
        live_fleet: Make, simulator: Start, capsys: pytest.CaptureFixture[str]) -> None:
    """apply from a store without a record installs the packets of the routers it changes, then knows them."""
    fleet = live_fleet()
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.2")
    code, out, _ = run(["plan", str(fleet.root), "--live", *fleet.options(sim.url)], capsys)
    assert "packet tools: unknown (no record in this store)" in out  # factory routers, nothing recorded yet
    assert run(["apply", str(fleet.root), "--yes", *fleet.options(sim.url)], capsys)[0] == 0
    assert sum(bool(sim.state(serial)["scripts"]) for serial in ("24130001", "24130002", "24130003")) == 2
    code, out, _ = run(["plan", str(fleet.root), "--live", "--detailed-exitcode", *fleet.options(sim.url)], capsys)
    assert code == 0 and "unknown" not in out
