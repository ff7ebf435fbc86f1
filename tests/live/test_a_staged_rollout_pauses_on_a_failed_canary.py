"""A staged rollout against the simulator: a failed canary pauses it before any router of a later wave is
changed; once the cause is gone, a resume and the next apply finish it."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable

import pytest

from tests.conftest import run_cli as run
from tests.live.conftest import LiveFleet, Simulator

Start = Callable[..., Simulator]
Make = Callable[..., LiveFleet]
SERIALS = {"ber-r01": "24130001", "ber-r02": "24130002", "nwk-r01": "24130003"}
ROLLOUTS = """\
strategies:
  default:
    waves: [canary, 100%]
    canary: {balance_by: [model, site]}
    failure: {max_rate: 0%, min_devices: 1, action: pause}
"""
WAITING = 3


def _changed(sim: Simulator, name: str) -> bool:
    """Whether anything was written to the router (its history holds more than its factory start)."""
    return any("configuration" in entry or "packet" in entry or "firmware" in entry
               for entry in sim.state(SERIALS[name])["history"])


def _post(sim: Simulator, path: str, body: dict[str, str] | None = None) -> None:
    request = urllib.request.Request(sim.url + path, data=json.dumps(body or {}).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def test_a_failed_canary_pauses_before_later_waves_and_a_resume_finishes(
        live_fleet: Make, simulator: Start, capsys: pytest.CaptureFixture[str]) -> None:
    """The MRX6 canary is refused: exit 3, paused, the wave-2 router untouched; accept, resume, apply: done."""
    fleet = live_fleet(extra={"rollouts.yaml": ROLLOUTS})
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.2",
                    "--reject", "MRX6 DSL=interfaces.net1.vlan_id")
    code, out, err = run(["apply", str(fleet.root), "--yes", *fleet.options(sim.url)], capsys)
    assert code == WAITING, out + err
    assert "rollout 1: paused, wave 1 of 2" in err
    code, out, _ = run(["rollout", "status", "--format", "json", "--data-dir", str(fleet.data_dir)], capsys)
    status = json.loads(out)
    waves = {d["device"]: (d["wave"], d["state"]) for d in status["devices"]}
    canary_mrx5 = next(name for name in ("ber-r01", "ber-r02") if waves[name][0] == 1)
    later = next(name for name in ("ber-r01", "ber-r02") if waves[name][0] == 2)
    assert waves["nwk-r01"] == (1, "failed") and waves[canary_mrx5] == (1, "succeeded")
    assert waves[later] == (2, "pending")
    assert not _changed(sim, later), "a router of a later wave was changed"
    assert _changed(sim, canary_mrx5)

    _post(sim, "/_sim/accept")  # the cause is fixed
    code, _, _ = run(["rollout", "resume", "--data-dir", str(fleet.data_dir)], capsys)
    assert code == 0
    code, out, err = run(["apply", str(fleet.root), "--yes", *fleet.options(sim.url)], capsys)
    assert code == 0, out + err
    assert "rollout 1: succeeded" in err
    assert all(_changed(sim, name) for name in SERIALS)
    code, out, _ = run(["audit", "--format", "json", "--data-dir", str(fleet.data_dir)], capsys)
    assert "rollout-resume" in [row["action"] for row in json.loads(out)]
