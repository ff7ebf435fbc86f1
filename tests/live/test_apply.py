"""Plan and apply against simulated routers over real sockets: outcomes per device, never one for all."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.shell import sealing
from tests.conftest import DEVICES_YAML
from tests.conftest import run_cli as run
from tests.live.conftest import ADMIN_PASSWORD, LIVE_MANAGEMENT, LiveFleet, Simulator, live_fleet_files

Start = Callable[..., Simulator]
Make = Callable[..., LiveFleet]
SERIALS = {"ber-r01": "24130001", "ber-r02": "24130002", "nwk-r01": "24130003"}


def outcomes(table: str) -> dict[str, str]:
    """device → outcome from apply's plain outcome table."""
    rows = [line.split() for line in table.splitlines()[1:] if line.strip()]
    return {row[0]: row[1] for row in rows}


def apply(fleet: LiveFleet, sim: Simulator, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    return run(["apply", str(fleet.root), "--yes", *fleet.options(sim.url, *extra)], capsys)


def test_apply_converges_a_factory_fleet_and_the_next_plan_is_empty(live_fleet: Make, simulator: Start,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Firmware (with its reboot), packets and configuration go out; the second plan has nothing to do."""
    fleet = live_fleet()
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.2")
    code, out, _ = apply(fleet, sim, capsys)
    assert code == 0, out
    assert outcomes(out) == {"ber-r01": "converged", "ber-r02": "converged", "nwk-r01": "converged"}
    state = sim.state(SERIALS["ber-r01"])
    assert state["firmware"] == "10.6"
    assert state["configuration"]["administration.hostnames.hostname"] == "ber-r01"
    assert state["scripts"], "the tools packet's script is stored on the router"
    assert ADMIN_PASSWORD not in json.dumps(state)
    code, out, _ = run(["plan", str(fleet.root), "--live", "--detailed-exitcode", *fleet.options(sim.url)], capsys)
    assert code == 0
    assert "0 devices to change (3 in-sync)" in out


def test_drift_by_hand_is_found_by_plan_live(live_fleet: Make, simulator: Start,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A key changed on the router after the apply shows as a change back in the next plan."""
    fleet = live_fleet()
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.2")
    assert apply(fleet, sim, capsys)[0] == 0
    sim.poke(SERIALS["nwk-r01"], "configuration", {"set": {"interfaces.net1.vlan_id": "666"}})
    code, out, _ = run(["plan", str(fleet.root), "--live", "--detailed-exitcode", *fleet.options(sim.url)], capsys)
    assert code == 2
    assert "~ interfaces.net1.vlan_id: 666 -> 1" in out
    assert "1 device to change (2 in-sync, 1 changes)" in out


def test_a_busy_storm_is_retried_until_the_fleet_converges(live_fleet: Make, simulator: Start,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """With 30 % of calls answering 503, retries with backoff still converge every router."""
    fleet = live_fleet(LIVE_MANAGEMENT.replace("retries: 6", "retries: 10"))
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--busy-share", "0.3",
                    "--reboot-seconds", "0.2")
    code, out, _ = apply(fleet, sim, capsys)
    assert code == 0, out
    assert set(outcomes(out).values()) == {"converged"}


def test_an_offline_router_is_unreachable_while_the_others_converge(live_fleet: Make, simulator: Start,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """An offline router ends as unreachable (exit 1); the other two converge."""
    fleet = live_fleet()
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.2")
    sim.poke(SERIALS["ber-r02"], "offline")
    code, out, _ = apply(fleet, sim, capsys)
    assert code == 1
    assert outcomes(out) == {"ber-r01": "converged", "ber-r02": "unreachable", "nwk-r01": "converged"}


def test_a_rejected_key_fails_only_its_router(live_fleet: Make, simulator: Start,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The MRX6 DSL refuses a key: its configuration step fails with the router's reason; the rest converge."""
    fleet = live_fleet()
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.2",
                    "--reject", "MRX6 DSL=interfaces.net1.vlan_id")
    code, out, _ = apply(fleet, sim, capsys)
    assert code == 1
    assert outcomes(out) == {"ber-r01": "converged", "ber-r02": "converged", "nwk-r01": "failed"}
    assert "key not supported by MRX6 DSL: interfaces.net1.vlan_id" in out


def test_wrong_credentials_fail_only_their_router(live_fleet: Make, simulator: Start,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A router whose password nobody knows: login refused, no password in the output; the rest converge."""
    fleet = live_fleet()
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.2")
    sim.poke(SERIALS["ber-r01"], "configuration", {"set": {"administration.users[1].password": "unknown-one"}})
    code, out, err = apply(fleet, sim, capsys)
    assert code == 1
    assert outcomes(out)["ber-r01"] in ("failed", "unreachable")
    assert "login refused for user 'admin'" in out
    assert {outcomes(out)["ber-r02"], outcomes(out)["nwk-r01"]} == {"converged"}
    assert ADMIN_PASSWORD not in out + err and "unknown-one" not in out + err


def test_a_change_that_would_cut_management_access_is_refused(live_fleet: Make, simulator: Start,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A template turning HTTPS off on one router: blocked at plan time, the router untouched, others converge."""
    fleet = live_fleet(extra=https_off("nwk-r01"))
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.2")
    code, out, _ = run(["plan", str(fleet.root), "--live", *fleet.options(sim.url)], capsys)
    assert "nwk-r01 [blocked]" in out
    assert "would cut reconciler's access to the router (services.https.active 1 -> 0)" in out
    code, out, _ = apply(fleet, sim, capsys)
    assert code == 1  # not every router reached its desired state
    assert outcomes(out) == {"ber-r01": "converged", "ber-r02": "converged", "nwk-r01": "skipped"}
    assert sim.state(SERIALS["nwk-r01"])["configuration"]["administration.hostnames.hostname"] == "icom-24130003"


def test_without_the_guard_a_cut_router_fails_its_verification(live_fleet: Make, simulator: Start,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """With guard_keys emptied, the router that loses HTTPS cannot be verified: failed, the rest converge."""
    fleet = live_fleet(LIVE_MANAGEMENT + "  guard_keys: []\n", extra=https_off("nwk-r01"))
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.2")
    code, out, _ = apply(fleet, sim, capsys)
    assert code == 1
    assert outcomes(out) == {"ber-r01": "converged", "ber-r02": "converged", "nwk-r01": "failed"}
    assert "verify: unreachable after the changes" in out
    assert sim.state(SERIALS["nwk-r01"])["reachable"] is False


def https_off(device: str) -> dict[str, str]:
    """Files that give `device` a template like base that turns the router's HTTPS off."""
    files = live_fleet_files(sealing.generate_key()[1])
    start = DEVICES_YAML.index(f"  - name: {device}\n")
    fields = DEVICES_YAML.index("    fields: {", start)
    return {
        "devices/all.yaml": DEVICES_YAML[:fields] + "    template: no-https\n" + DEVICES_YAML[fields:],
        "templates/no-https.j2": files["templates/base.j2"].replace("services.https.active=1",
                                                                    "services.https.active=0"),
        "templates/no-https.yaml": files["templates/base.yaml"],
    }


def test_a_saved_plan_skips_a_router_that_changed_since(live_fleet: Make, simulator: Start, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """`apply plan.json` applies exactly what was reviewed: a router drifted since the plan is stale, not changed."""
    fleet = live_fleet()
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.2")
    saved = tmp_path / "plan.json"
    code, _, _ = run(["plan", str(fleet.root), "--live", "--out", str(saved), *fleet.options(sim.url)], capsys)
    assert code == 0
    sim.poke(SERIALS["ber-r02"], "configuration", {"set": {"administration.hostnames.hostname": "by-hand"}})
    code, out, _ = run(["apply", str(saved), *fleet.options(sim.url)], capsys)
    assert code == 1
    assert outcomes(out) == {"ber-r01": "converged", "ber-r02": "stale", "nwk-r01": "converged"}
    assert sim.state(SERIALS["ber-r02"])["configuration"]["administration.hostnames.hostname"] == "by-hand"
    code, out, _ = run(["apply", str(saved), *fleet.options(sim.url)], capsys)
    assert outcomes(out)["ber-r01"] == "already-applied"


def test_the_audit_log_records_applies_and_notices_tampering(live_fleet: Make, simulator: Start,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Every apply is an audit row; editing a row afterwards makes `audit --verify` fail."""
    fleet = live_fleet()
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.2")
    assert apply(fleet, sim, capsys)[0] == 0
    assert apply(fleet, sim, capsys)[0] == 0
    code, out, _ = run(["audit", "--data-dir", str(fleet.data_dir), "--format", "json"], capsys)
    rows = json.loads(out)
    assert [row["action"] for row in rows] == ["apply", "apply"]
    assert rows[0]["devices"] == ["ber-r01", "ber-r02", "nwk-r01"]
    assert run(["audit", "--verify", "--data-dir", str(fleet.data_dir)], capsys)[0] == 0
    with sqlite3.connect(fleet.data_dir / "state.sqlite3") as db:
        db.execute("update audit set actor = 'someone-else' where id = 1")
    code, out, _ = run(["audit", "--verify", "--data-dir", str(fleet.data_dir)], capsys)
    assert code == 1
    assert "row 1: its content does not match its hash (edited)" in out
