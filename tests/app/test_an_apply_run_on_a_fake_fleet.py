"""The reconcile use case in-process: a fake driver and a virtual clock, a real store.

`run_apply` journals each step, finishes the run with its counts and writes one audit row naming
the routers it changed; a router that refuses a key fails alone; a stop before the run starts nothing.
(Retries and their backoff: tests/shell/test_retries_back_off_on_a_virtual_clock.py.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path

from reconciler.app.planning import plan_revision
from reconciler.app.reconciling import ApplyRequest, observe_routers, run_apply
from reconciler.app.sessions import LiveOptions, Session, session_for
from reconciler.core.plans import Status
from reconciler.core.results import DeviceOutcome, FleetResult
from reconciler.shell.clock import VirtualClock
from reconciler.shell.drivers.fake import FakeDriver, FakeRouter
from reconciler.shell.revisions import FleetLoader
from reconciler.shell.store import Store
from tests.conftest import small_fleet

FleetDir = Callable[[Mapping[str, str | bytes]], Path]
SERIALS = {"ber-r01": "24130001", "ber-r02": "24130002", "nwk-r01": "24130003"}
MODELS = {"ber-r01": "MRX5 LTE", "ber-r02": "MRX5 LTE", "nwk-r01": "MRX6 DSL"}


def _session(fleet_dir: FleetDir, tmp_path: Path,
             clock: VirtualClock) -> Session:
    revision = FleetLoader().load(fleet_dir(small_fleet()))
    assert revision.ok
    return session_for(revision, Store(tmp_path / "data", clock), LiveOptions(data_dir=tmp_path / "data"), clock)


def _factory_routers() -> FakeDriver:
    return FakeDriver(FakeRouter(serial, MODELS[name]) for name, serial in SERIALS.items())


def _apply(session: Session, driver: FakeDriver, stop: asyncio.Event | None = None) -> FleetResult:
    async def go() -> FleetResult:
        snapshot = await observe_routers(session, driver)
        plan = plan_revision(session.revision, snapshot, session.clock.now(), jobs=1)
        pending = [d for d in plan.devices if d.status is Status.CHANGES]
        request = ApplyRequest(pending, "apply", "tester", observed=snapshot.by_serial())
        return await run_apply(session, request, driver, stop or asyncio.Event())
    return asyncio.run(go())


def test_a_factory_fleet_converges_in_one_journaled_audited_run(fleet_dir: FleetDir, tmp_path: Path) -> None:
    """Every router converges; the run holds each step; one audit row names the three routers and the run."""
    clock = VirtualClock()
    session = _session(fleet_dir, tmp_path, clock)
    driver = _factory_routers()
    result = _apply(session, driver)
    assert result.counts == {DeviceOutcome.CONVERGED: 3}
    assert not result.failed and result.failed_devices == ()
    assert driver.routers["24130001"].firmware == "10.6"
    assert driver.routers["24130001"].config["administration.hostnames.hostname"] == "ber-r01"
    store = session.store
    [run] = store.runs()
    assert (run.id, run.status, run.counts) == (result.run, "done", {"converged": 3})
    [row] = store.audit_rows()
    assert (row.action, row.run, row.devices, row.outcome) == ("apply", result.run, tuple(sorted(SERIALS)),
                                                               "3 converged")
    assert store.verify_audit() == []
    again = _apply(session, driver)  # converged: nothing left to do
    assert again.results == () and len(store.audit_rows()) == 2


def test_a_router_that_refuses_a_key_fails_alone(fleet_dir: FleetDir, tmp_path: Path) -> None:
    """One router rejects the VLAN key: it fails with the reason, the others converge, the audit names all three."""
    clock = VirtualClock()
    session = _session(fleet_dir, tmp_path, clock)
    driver = _factory_routers()
    driver.routers["24130003"].refuse = ("interfaces.net1.vlan_id",)
    result = _apply(session, driver)
    assert result.counts == {DeviceOutcome.CONVERGED: 2, DeviceOutcome.FAILED: 1}
    assert result.failed and result.failed_devices == ("nwk-r01",)
    failed = next(r for r in result.results if r.device == "nwk-r01")
    assert "interfaces.net1.vlan_id" in failed.detail
    assert session.store.audit_rows()[-1].devices == ("ber-r01", "ber-r02", "nwk-r01")


def test_a_stopped_run_starts_no_router_and_is_recorded_as_interrupted(fleet_dir: FleetDir, tmp_path: Path) -> None:
    """A stop set before the run: every device is interrupted, nothing is written to a router."""
    clock = VirtualClock()
    session = _session(fleet_dir, tmp_path, clock)
    driver = _factory_routers()
    stop = asyncio.Event()
    stop.set()
    result = _apply(session, driver, stop)
    assert result.interrupted and result.counts == {DeviceOutcome.INTERRUPTED: 3}
    assert all(call == "fetch" for router in driver.routers.values() for call in router.calls)
    assert session.store.runs()[0].status == "interrupted"
