"""Against simulated routers over real sockets: a router value equal to an unsealed secret never reaches a
snapshot, a plan or a report, and a template that renders a secret into an ordinary key is never applied."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.shell import sealing
from tests.conftest import run_cli as run
from tests.live.conftest import ADMIN_PASSWORD, LiveFleet, Simulator, live_fleet_files

Start = Callable[..., Simulator]
Make = Callable[..., LiveFleet]
HOSTNAME = "administration.hostnames.hostname"


def test_a_secret_set_by_hand_in_an_ordinary_key_shows_as_stars(live_fleet: Make, simulator: Start, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The admin password typed into a router's hostname: observe, plan (text, JSON, saved) and apply hide it."""
    fleet = live_fleet()
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.2")
    assert run(["apply", str(fleet.root), "--yes", *fleet.options(sim.url)], capsys)[0] == 0
    sim.poke("24130002", "configuration", {"set": {HOSTNAME: ADMIN_PASSWORD}})
    assert sim.state("24130002")["configuration"][HOSTNAME] == ADMIN_PASSWORD

    snapshot = tmp_path / "observed.json"
    code, out, err = run(["observe", str(fleet.root), "--out", str(snapshot), *fleet.options(sim.url)], capsys)
    assert code == 0
    written = snapshot.read_text()
    [router] = [d for d in json.loads(written)["devices"] if d["serial"] == "24130002"]
    assert router["config"][HOSTNAME] == "***"
    assert ADMIN_PASSWORD not in written + out + err

    code, out, err = run(["plan", str(fleet.root), "--live", *fleet.options(sim.url)], capsys)
    assert code == 0
    assert f"~ {HOSTNAME}: *** -> ber-r02" in out
    saved = tmp_path / "plan.json"
    code, shown, _ = run(["plan", str(fleet.root), "--live", "--format", "json", "--out", str(saved),
                          *fleet.options(sim.url)], capsys)
    [change] = [c for d in json.loads(shown)["devices"] if d["device"] == "ber-r02"
                for a in d["actions"] for c in a["changes"]]
    assert change == {"key": HOSTNAME, "old": "***", "new": "ber-r02"}
    assert ADMIN_PASSWORD not in out + err + shown + saved.read_text()

    code, out, err = run(["apply", str(fleet.root), "--yes", *fleet.options(sim.url)], capsys)
    assert code == 0, out
    assert ADMIN_PASSWORD not in out + err
    assert sim.state("24130002")["configuration"][HOSTNAME] == "ber-r02"


def test_a_template_that_renders_a_secret_into_the_location_is_never_applied(live_fleet: Make, simulator: Start,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The leak of old: `location={{ admin_password }}`; now every device is invalid and no router gets it."""
    public = sealing.generate_key()[1]  # the template does not depend on the key
    base = live_fleet_files(public)["templates/base.j2"] + "administration.hostnames.location={{ admin_password }}\n"
    fleet = live_fleet(extra={"templates/base.j2": base})
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.2")
    code, out, _ = run(["validate", str(fleet.root)], capsys)
    assert code == 1
    line = len(base.splitlines())
    assert f"templates/base.j2:{line}:1: error: devices 'ber-r01', 'ber-r02', 'nwk-r01': the sealed value of " \
           "admin_password is rendered into administration.hostnames.location" in out
    code, out, err = run(["apply", str(fleet.root), "--yes", *fleet.options(sim.url)], capsys)
    assert code == 1
    assert ADMIN_PASSWORD not in out + err
    for serial in ("24130001", "24130002", "24130003"):
        state = sim.state(serial)
        assert "administration.hostnames.location" not in state["configuration"]
        assert ADMIN_PASSWORD not in json.dumps(state)
