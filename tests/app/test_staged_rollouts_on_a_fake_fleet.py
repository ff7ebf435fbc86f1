"""The rollout engine in-process: a fake fleet, a virtual clock, a real store.

Fast tests beside the end-to-end ones (tests/live/test_a_staged_rollout_*): a closed window
touches nothing until it opens; thresholds wait for their minimum count; a failed health check
reverts the router to its last good state and counts as failed; an abort mid-wave leaves the
devices not started alone; an approval gate holds the first wave; a newer revision supersedes the
devices that had not started.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from reconciler.app import rollouts
from reconciler.app.planning import plan_revision
from reconciler.app.reconciling import ApplyRequest, left_out, observe_routers, run_apply
from reconciler.app.rollouts import RolloutChoice, staged_rollout
from reconciler.app.sessions import LiveOptions, Session, session_for
from reconciler.core.plans import Status
from reconciler.core.results import FleetResult
from reconciler.shell.clock import VirtualClock
from reconciler.shell.drivers import LinkState, StatusKey
from reconciler.shell.drivers.fake import FakeBreak, FakeDriver, FakeRouter
from reconciler.shell.revisions import FleetLoader
from reconciler.shell.store import RolloutDeviceState, RolloutState, Store
from tests.conftest import small_fleet

FleetDir = Callable[[Mapping[str, str | bytes]], Path]
SERIALS = {"ber-r01": "24130001", "ber-r02": "24130002", "nwk-r01": "24130003"}
MODELS = {"ber-r01": "MRX5 LTE", "ber-r02": "MRX5 LTE", "nwk-r01": "MRX6 DSL"}
NTP = "administration.time.ntp_server[1].server"
MONDAY_NOON = dt.datetime(2026, 3, 2, 11, 0, tzinfo=dt.UTC)  # 12:00 in Berlin


@dataclass
class Rig:
    fleet_dir: FleetDir
    data: Path
    clock: VirtualClock
    routers: FakeDriver
    files: dict[str, str]

    def session(self) -> Session:
        revision = FleetLoader().load(self.fleet_dir(self.files))
        assert revision.ok, revision.problems
        store = Store(self.data, self.clock)
        return session_for(revision, store, LiveOptions(data_dir=self.data), self.clock)

    def apply(self) -> tuple[FleetResult, RolloutChoice | None, Session]:
        """One `apply`: observe, plan, pick the rollout, run it as far as it goes."""
        session = self.session()

        async def go() -> tuple[FleetResult, RolloutChoice | None]:
            snapshot = await observe_routers(session, self.routers)
            plan = plan_revision(session.revision, snapshot, self.clock.now(), jobs=1)
            pending = [d for d in plan.devices if d.status is Status.CHANGES]
            choice = staged_rollout(session, plan, left_out(plan), "tester")
            request = ApplyRequest(pending, "apply", "tester", observed=snapshot.by_serial())
            engine = choice.engine if choice is not None else None
            return await run_apply(session, request, self.routers, asyncio.Event(), rollout=engine), choice

        result, choice = asyncio.run(go())
        return result, choice, session

    def state(self) -> RolloutState:
        record = Store(self.data, self.clock).rollouts.active() or Store(self.data, self.clock).rollouts.recent(1)[0]
        return record.state

    def devices(self) -> dict[str, tuple[int, RolloutDeviceState]]:
        store = Store(self.data, self.clock)
        record = store.rollouts.recent(1)[0]
        return {d.device: (d.wave, d.state) for d in store.rollouts.devices(record.id)}

    def router(self, name: str) -> FakeRouter:
        return self.routers.routers[SERIALS[name]]

    def written(self, name: str) -> bool:
        return any(call != "fetch" and not call.startswith("health") for call in self.router(name).calls)


def _rig(fleet_dir: FleetDir, tmp_path: Path, rollouts_yaml: str) -> Rig:
    files = small_fleet()
    files["rollouts.yaml"] = rollouts_yaml
    routers = FakeDriver(FakeRouter(serial, MODELS[name]) for name, serial in SERIALS.items())
    return Rig(fleet_dir, tmp_path / "data", VirtualClock(MONDAY_NOON), routers, files)


CANARY = """\
strategies:
  default:
    waves: [canary, 100%]
    canary: {balance_by: [model]}
    failure: {max_rate: 0%, min_devices: 1, action: pause}
"""


def test_a_closed_window_touches_nothing_until_it_opens(fleet_dir: FleetDir, tmp_path: Path) -> None:
    """Berlin's routers may change only 02:00–04:00 local time: at noon they wait; at 02:00 they go."""
    rig = _rig(fleet_dir, tmp_path, CANARY + """\
windows:
  - {name: night, schedule: "0 2 * * *", duration: 2h, applies_to: {sites: [berlin]}}
""")
    rig.apply()
    assert rig.state() is RolloutState.WAITING_FOR_WINDOW
    waiting = [name for name, (wave, _) in rig.devices().items() if name.startswith("ber") and wave == 1]
    assert waiting and not any(rig.written(name) for name in ("ber-r01", "ber-r02"))
    rig.clock.advance(dt.timedelta(hours=14, minutes=5).total_seconds())  # 02:05 Berlin, the next night
    rig.apply()
    assert rig.state() is RolloutState.SUCCEEDED
    assert all(rig.written(name) for name in SERIALS)


def test_a_threshold_waits_for_its_minimum_count(fleet_dir: FleetDir, tmp_path: Path) -> None:
    """One failure among one finished device does not trip a threshold that needs two finished devices."""
    rig = _rig(fleet_dir, tmp_path, """\
strategies:
  default:
    waves: [100%]
    failure: {max_rate: 40%, min_devices: 3, action: abort}
""")
    rig.router("nwk-r01").refuse = ("interfaces.net1.vlan_id",)
    rig.apply()
    assert rig.state() is RolloutState.FAILED  # 1 of 3 = 33 % < 40 %: not aborted, the wave ran to its end
    assert rig.devices()["nwk-r01"][1] is RolloutDeviceState.FAILED
    assert all(rig.written(name) for name in SERIALS)


def test_a_failed_health_check_reverts_the_router_and_counts_as_failed(fleet_dir: FleetDir, tmp_path: Path) -> None:
    """A new NTP server takes ber-r02's WAN down: it goes back to its last good state; the rollout pauses."""
    rig = _rig(fleet_dir, tmp_path, """\
strategies:
  default:
    waves: [100%]
    health: {deadline: 30s, checks: [management, wan]}
    revert: true
    failure: {max_rate: 0%, min_devices: 1, action: pause}
""")
    rig.apply()
    assert rig.state() is RolloutState.SUCCEEDED and rig.router("ber-r02").config[NTP] == "ntp.eu.example.net"
    rig.router("ber-r02").breaks = (FakeBreak(NTP, "ntp.bad.example.net"),)
    rig.files["groups.yaml"] = rig.files["groups.yaml"].replace("ntp.eu.example.net", "ntp.bad.example.net")
    rig.apply()
    assert rig.devices()["ber-r02"][1] is RolloutDeviceState.REVERTED
    assert rig.router("ber-r02").config[NTP] == "ntp.eu.example.net"  # back to its last good state
    assert rig.router("ber-r02").health().status[StatusKey.WAN_STATE] is LinkState.UP
    assert rig.state() is RolloutState.PAUSED


def test_an_abort_leaves_the_devices_not_started_alone(fleet_dir: FleetDir, tmp_path: Path) -> None:
    """A failed canary with action abort: the rollout ends; the later wave's router is never written to."""
    rig = _rig(fleet_dir, tmp_path, CANARY.replace("action: pause", "action: abort"))
    rig.router("nwk-r01").refuse = ("interfaces.net1.vlan_id",)
    rig.apply()
    assert rig.state() is RolloutState.ABORTED
    later = [name for name, (wave, _) in rig.devices().items() if wave == 2]
    assert later and all(rig.devices()[name][1] is RolloutDeviceState.SKIPPED for name in later)
    assert not any(rig.written(name) for name in later)


def test_an_approval_holds_the_first_wave_until_given(fleet_dir: FleetDir, tmp_path: Path) -> None:
    """approval: before-start: nothing is written until an operator approves; then it runs."""
    rig = _rig(fleet_dir, tmp_path, CANARY.replace("    failure:", "    approval: before-start\n    failure:"))
    rig.apply()
    assert rig.state() is RolloutState.AWAITING_APPROVAL
    assert not any(rig.written(name) for name in SERIALS)
    rollouts.approve(Store(rig.data, rig.clock), None, "operator")
    rig.apply()
    assert rig.state() is RolloutState.SUCCEEDED


def test_a_newer_revision_supersedes_the_devices_not_started(fleet_dir: FleetDir, tmp_path: Path) -> None:
    """A paused rollout's later wave is taken over by the next revision's rollout, which starts from its canary."""
    rig = _rig(fleet_dir, tmp_path, CANARY)
    rig.router("nwk-r01").refuse = ("interfaces.net1.vlan_id",)
    rig.apply()
    assert rig.state() is RolloutState.PAUSED
    rig.router("nwk-r01").refuse = ()
    rig.files["groups.yaml"] = rig.files["groups.yaml"].replace("ntp.eu.example.net", "ntp.new.example.net")
    _, choice, session = rig.apply()
    assert choice is not None and choice.superseded
    first = session.store.rollouts.get(1)
    assert first is not None and first.state is RolloutState.SUPERSEDED and first.superseded_by == 2
    assert rig.state() is RolloutState.SUCCEEDED
    assert rig.router("ber-r01").config[NTP] == "ntp.new.example.net"


def test_a_window_in_the_spring_forward_gap_opens_when_the_clocks_jump(fleet_dir: FleetDir, tmp_path: Path) -> None:
    """A 02:30 Berlin window on the night the clocks skip 02:00–03:00: nothing at 01:59, the routers go at 03:00."""
    rig = _rig(fleet_dir, tmp_path, CANARY.replace("waves: [canary, 100%]", "waves: [100%]") + """\
windows:
  - {name: night, schedule: "30 2 * * *", duration: 1h, applies_to: {sites: [berlin]}}
""")
    rig.clock = VirtualClock(dt.datetime(2026, 3, 29, 0, 59, tzinfo=dt.UTC))  # 01:59 CET, the last Sunday of March
    rig.apply()
    assert rig.state() is RolloutState.WAITING_FOR_WINDOW
    assert not any(rig.written(name) for name in ("ber-r01", "ber-r02"))
    rig.clock.advance(60 + 1)  # 01:00 UTC: 03:00 CEST, the first instant after the skipped 02:30
    rig.apply()
    assert rig.state() is RolloutState.SUCCEEDED
    assert all(rig.written(name) for name in ("ber-r01", "ber-r02"))
