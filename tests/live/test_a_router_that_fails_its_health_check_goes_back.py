"""A change that takes a router's WAN down (the simulator's break rule, as a bad template would) fails the
router's health check: it goes back to its last good configuration, counts as failed, and the rollout pauses."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.conftest import run_cli as run
from tests.live.conftest import LiveFleet, Simulator

Start = Callable[..., Simulator]
Make = Callable[..., LiveFleet]
NTP = "administration.time.ntp_server[1].server"
ROLLOUTS = """\
strategies:
  default:
    waves: [100%]
    health: {deadline: 10s, checks: [management, wan]}
    revert: true
    failure: {max_rate: 0%, min_devices: 1, action: pause}
"""


def test_a_router_whose_wan_goes_down_is_reverted_and_counts_as_failed(
        live_fleet: Make, simulator: Start, capsys: pytest.CaptureFixture[str]) -> None:
    """Good first (a good state is kept); then a bad NTP server breaks the Berlin routers' WAN: both go back."""
    fleet = live_fleet(extra={"rollouts.yaml": ROLLOUTS})
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.2",
                    "--break", f"MRX5 LTE={NTP}=ntp.bad.example.net")
    assert run(["apply", str(fleet.root), "--yes", *fleet.options(sim.url)], capsys)[0] == 0
    groups = (fleet.root / "groups.yaml").read_text()
    (fleet.root / "groups.yaml").write_text(groups.replace("ntp.eu.example.net", "ntp.bad.example.net"))
    code, out, err = run(["apply", str(fleet.root), "--yes", *fleet.options(sim.url)], capsys)
    assert code == 3, out + err
    assert "paused" in err
    for serial in ("24130001", "24130002"):
        state = sim.state(serial)
        assert state["configuration"][NTP] == "ntp.eu.example.net"  # put back
        assert state["status"]["wan"]["state"] == "up"
    code, out, _ = run(["rollout", "status", "--format", "json", "--data-dir", str(fleet.data_dir)], capsys)
    devices = {d["device"]: d for d in json.loads(out)["devices"]}
    assert {devices[name]["state"] for name in ("ber-r01", "ber-r02")} == {"reverted"}
    assert devices["ber-r01"]["failure"] == "health" and "wan: down" in devices["ber-r01"]["detail"]
