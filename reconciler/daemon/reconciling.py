"""The reconcile loop: fetch the branch, keep the last good revision, observe, plan, apply, repeat.

Where it sits: `service` runs `Reconciler.run` until SIGTERM; the API reads `Reconciler.status`
and calls `wake` (webhook: fetch now; `POST sync`: reconcile now). Each wake-up fetches the
branch (`following`); a new head is loaded and validated; a head that fails validation is never
used: the daemon is degraded and keeps reconciling the last good revision. A cycle observes every
router, plans (the core), and hands the devices to apply to the rollout (`shell.rollouts`):

- devices whose desired state changed since they were last converged are always applied;
- devices that had converged to exactly this desired state and differ now have *drifted*: applied
  with `sync.self_heal`, otherwise only reported (API, metrics, log, drift history);
- unreachable routers are recorded as such and retried sooner (backoff up to `sync.interval`).

Cycles run on every new good revision, on every `sync.interval` of the fleet, and on request.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.app.live import LiveOptions, Session, not_applied, session_for, works_for
from reconciler.core.observed import ObservedDevice, ObservedSnapshot
from reconciler.core.plans import DevicePlan, Plan, Status, plan_fleet
from reconciler.core.problems import Problem
from reconciler.errors import ReconcilerError, SourceError
from reconciler.shell import clock
from reconciler.shell.applying import Context, DeviceResult, counts
from reconciler.shell.applying import Outcome as ApplyOutcome
from reconciler.shell.drivers.icom import DriverSettings, IcomDriver
from reconciler.shell.loading import FleetLoader, LoadedRevision
from reconciler.shell.observing import observe_fleet
from reconciler.shell.parallel import map_slices
from reconciler.shell.rollouts import Rollout, SimpleRollout
from reconciler.shell.sources import read_commit
from reconciler.shell.store import DeviceState, Store

from . import obligations
from .following import Follower
from .obligations import Incident

ACTOR = "reconciler-daemon"
FIRST_RETRY_S = 5.0  # unreachable routers: the next cycle comes this soon, then twice as late each time
log = logging.getLogger("reconciler.daemon")


@dataclass
class Cycle:
    """What one reconcile cycle did (the API's `last_cycle`)."""

    reason: str
    revision: str
    started_at: str
    finished_at: str = ""
    seconds: float = 0.0
    plan: dict[str, int] = field(default_factory=dict)  # devices by plan status
    outcomes: dict[str, int] = field(default_factory=dict)  # devices applied, by outcome
    drifted: int = 0
    interrupted: bool = False


@dataclass
class DaemonStatus:
    """What the daemon knows now; the API and the metrics read it, only the reconciler writes it."""

    source: str
    desired: str | None = None  # the branch's head, as last fetched
    last_good: str | None = None  # the newest commit that passed validation (what is reconciled)
    applied: str | None = None  # the last good commit once a cycle left no reachable device behind
    fetch_error: str | None = None
    invalid: str | None = None  # why the head is not used (validation failed, or no fleet there)
    problems: list[dict[str, Any]] = field(default_factory=list)  # the invalid head's problems
    plan: Plan | None = None  # the last cycle's plan (per-device summaries, no key-by-key changes)
    drift: dict[str, str] = field(default_factory=dict)  # device → what drifted, as of the last cycle
    devices: dict[str, str] = field(default_factory=dict)  # device → its status after the last cycle
    last_cycle: Cycle | None = None
    cycles: int = 0
    reconciling: bool = False
    self_heal: bool = True
    entitlements: list[str] = field(default_factory=list)  # licence and credit warnings (D0.24–D0.33, D1.11)
    incidents: dict[str, Incident] = field(default_factory=dict)  # unreachable routers (D4.9)

    @property
    def degraded(self) -> str | None:
        """Why the daemon is not following its branch as it should, or None."""
        if self.invalid:
            return self.invalid
        return self.fetch_error

    @property
    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for status in self.devices.values():
            found[status] = found.get(status, 0) + 1
        return dict(sorted(found.items()))

    @property
    def state(self) -> str:
        if self.degraded:
            return "degraded"
        return "ok" if self.last_good else "starting"


class Reconciler:
    """Follows one branch and reconciles the fleet it describes (one instance per daemon)."""

    def __init__(self, follower: Follower, store: Store, options: LiveOptions, *,
                 rollout: Callable[[int], Rollout] | None = None, grace: float = 30.0,
                 on_request: Callable[[str, str, float], None] | None = None,
                 on_revision: Callable[[LoadedRevision], None] | None = None,
                 on_cycle: Callable[[Cycle, Sequence[DeviceResult]], None] | None = None) -> None:
        self.follower = follower
        self.store = store
        self.options = options
        self.loader = FleetLoader()
        self.status = DaemonStatus(follower.source.label)
        self.good: LoadedRevision | None = None
        self._rollout = rollout or (lambda parallel: SimpleRollout(parallel, grace))
        self._on_request = on_request
        self._on_revision = on_revision
        self._on_cycle = on_cycle
        self._wake = asyncio.Event()
        self._forced: str | None = None
        self._driver: IcomDriver | None = None
        self._tokens: dict[str, str] = {}
        self._retry = 0.0
        self._loaded: str | None = None  # the commit last loaded (good or not)
        self.keep_snapshot = False  # --watch plans saved changes against the last observed state
        self.snapshot: ObservedSnapshot | None = None

    # --- triggers -----------------------------------------------------------------------------------------

    def wake(self, reason: str, full: bool) -> None:
        """Fetch now (a webhook); with `full`, also reconcile now even if nothing changed (`POST sync`)."""
        if full:
            self._forced = reason
        self._wake.set()

    async def run(self, stop: asyncio.Event, poll: float) -> None:
        """Reconcile until `stop` is set; then finish in-flight devices (within the grace) and return."""
        loop = asyncio.get_running_loop()
        for closed in self.store.close_interrupted_runs():
            log.warning("run %d (%s) was left open by a process that ended: closed as interrupted; %d routers it "
                        "changed are in its audit row", closed.id, closed.kind, len(closed.devices))
        await asyncio.to_thread(self._restore_last_good)
        next_sync = loop.time()
        while not stop.is_set():
            forced, self._forced = self._forced, None
            self._wake.clear()
            changed = await self._refresh()
            if changed or forced or loop.time() >= next_sync:
                await self._cycle("new revision" if changed else forced or "interval", stop)
                next_sync = loop.time() + self._next_sync_delay()
            await self._sleep(min(poll, max(0.0, next_sync - loop.time())), stop)
        await self.close()

    async def close(self) -> None:
        if self._driver is not None:
            await self._driver.close()
            self._driver = None

    async def _sleep(self, seconds: float, stop: asyncio.Event) -> None:
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    def _next_sync_delay(self) -> float:
        fleet = self.good.build.fleet if self.good is not None else None
        interval = fleet.spec.sync.interval.total_seconds() if fleet is not None else 60.0
        return min(self._retry, interval) if self._retry else interval

    # --- following the branch -----------------------------------------------------------------------------

    def _restore_last_good(self) -> None:
        """After a restart: the pinned last good commit is reconciled even if the head is bad now."""
        commit = self.follower.last_good()
        if commit is None:
            return
        try:
            revision = self._load(commit)
        except ReconcilerError as exc:
            log.warning("the last good revision %s cannot be read again: %s", commit[:10], exc)
            return
        if revision.ok:
            self._accept(commit, revision)

    async def _refresh(self) -> bool:
        """Fetch the branch; True if a new good revision is now the one to reconcile."""
        try:
            head = await asyncio.to_thread(self.follower.fetch)
        except SourceError as exc:
            if self.status.fetch_error != str(exc):
                log.error("%s", exc, extra={"revision": self.status.desired})
            self.status.fetch_error = str(exc)
            return False
        self.status.fetch_error = None
        self.status.desired = head
        if head == self._loaded:
            return False
        self._loaded = head
        try:
            revision = await asyncio.to_thread(self._load, head)
        except ReconcilerError as exc:
            self._reject(head, f"revision {head[:10]} cannot be loaded: {exc}", [])
            return False
        if not revision.ok:
            errors = [p for p in revision.problems if p.is_error]
            self._reject(head, f"revision {head[:10]} fails validation ({len(errors)} errors); "
                         f"keeping {(self.status.last_good or 'nothing')[:10]}", errors)
            return False
        if head == self.status.last_good:
            self.status.invalid, self.status.problems = None, []
            return False
        self._accept(head, revision)
        self.follower.pin_last_good(head)
        log.info("new good revision %s", head[:10], extra={"revision": head})
        return True

    def _load(self, commit: str) -> LoadedRevision:
        return self.loader.load_files(read_commit(self.follower.path, commit, self.follower.source.subdirectory))

    def _accept(self, commit: str, revision: LoadedRevision) -> None:
        self.good = revision
        self.status.last_good = commit
        self.status.invalid, self.status.problems = None, []
        if self._on_revision is not None:
            self._on_revision(revision)

    def _reject(self, head: str, reason: str, problems: Sequence[Problem]) -> None:
        """A head that is not used: degraded, logged with each problem's position, and audited."""
        self.status.invalid, self.status.problems = reason, [p.as_dict() for p in problems]
        log.error("%s", reason, extra={"revision": head})
        for problem in problems[:20]:
            log.error("%s", problem, extra={"revision": head})
        author = self.follower.author(head)
        count = f"{len(problems)} problems" if problems else "not loadable"
        self.store.audit(ACTOR, "reject", [], head, "rejected", f"by {author}: {count}: {reason}")

    # --- one cycle ------------------------------------------------------------------------------------------

    async def _cycle(self, reason: str, stop: asyncio.Event) -> None:
        revision, commit = self.good, self.status.last_good
        if revision is None or commit is None:
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        cycle = Cycle(reason, commit, _now())
        self.status.reconciling = True
        try:
            results = await self._reconcile(revision, commit, cycle, stop)
        finally:
            self.status.reconciling = False
        cycle.finished_at, cycle.seconds = _now(), round(loop.time() - started, 3)
        cycle.interrupted = stop.is_set()
        self.status.last_cycle = cycle
        self.status.cycles += 1
        log.info("cycle (%s) done in %.1fs: plan %s, applied %s, %d drifted", reason, cycle.seconds, cycle.plan,
                 cycle.outcomes or "nothing", cycle.drifted, extra={"revision": commit})
        if self._on_cycle is not None:
            self._on_cycle(cycle, results)

    async def _reconcile(self, revision: LoadedRevision, commit: str, cycle: Cycle,
                         stop: asyncio.Event) -> list[DeviceResult]:
        session = session_for(revision, self.store, self.options)
        driver = await self._driver_for(session.settings)
        states = self.store.device_states()  # read once: the steps below touch other columns or other devices
        snapshot = await observe_fleet(session.fleet, session.targets(), driver, states, session.max_parallel)
        plan = await asyncio.to_thread(
            plan_fleet, session.fleet, revision.renderer(), snapshot, commit, dt.datetime.now(dt.UTC),
            revision.content, functools.partial(map_slices, jobs=1), False)
        self.status.plan, self.status.self_heal = plan, session.fleet.spec.sync.self_heal
        self.snapshot = snapshot if self.keep_snapshot else None
        cycle.plan = dict(plan.counts)
        self._record_unreachable(plan)
        self._record_matching(plan, commit, states)
        pending = [d for d in plan.devices if d.status is Status.CHANGES]
        drift = _drifted(pending, states)
        self.status.drift, cycle.drifted = drift, len(drift)
        chosen = pending if self.status.self_heal else [d for d in pending if d.device not in drift]
        if drift:
            self.store.record_drift(drift, commit, "corrected" if self.status.self_heal else "reported")
            for device, summary in sorted(drift.items()):
                log.warning("drift: %s", summary, extra={"revision": commit, "device": device})
        results = await self._apply(session, chosen, snapshot.by_serial(), commit, stop) if chosen else []
        cycle.outcomes = counts(results)
        self.status.devices = _statuses(plan, results)
        self._obligations(revision, commit)
        self._settle(plan, results, commit, stop)
        return results

    def _obligations(self, revision: LoadedRevision, commit: str) -> None:
        """Entitlement warnings and incidents after a cycle; a failure here never stops reconciling."""
        now = clock.now()
        offline = [name for name, status in self.status.devices.items() if status == "offline"]
        try:
            clone = (self.follower.path, self.follower.source.subdirectory)
            self.status.entitlements, over = obligations.entitlement_notes(revision, clone, now)
            events = dict.fromkeys(offline, obligations.UNREACHABLE_EVENT)
            if over:
                events[obligations.FLEET] = obligations.OVER_LICENCE_EVENT
            self.status.incidents = obligations.track_incidents(self.status.incidents, events, revision, now)
        except ReconcilerError as exc:
            log.warning("cannot judge the entitlements: %s", exc, extra={"revision": commit})

    async def _driver_for(self, settings: DriverSettings) -> IcomDriver:
        """One driver (one connection pool, the routers' tokens) for as long as the fleet's settings hold."""
        if self._on_request is not None:
            settings = DriverSettings(**{**settings.__dict__, "on_request": self._on_request})
        if self._driver is None or self._driver.settings != settings:
            if self._driver is not None:
                await self._driver.close()
            self._driver = IcomDriver(settings, self._tokens)
        return self._driver

    def _record_matching(self, plan: Plan, commit: str, states: Mapping[str, DeviceState]) -> None:
        """In-sync devices not yet known to match this desired state are, from now on (drift is measured from it)."""
        matching = {d.device: (d.serial, d.desired_hash) for d in plan.devices
                    if d.status is Status.IN_SYNC and d.desired_hash is not None
                    and ((state := states.get(d.device)) is None or state.desired_hash != d.desired_hash)}
        if matching:
            self.store.record_matching(matching, commit)

    def _record_unreachable(self, plan: Plan) -> None:
        left_out = not_applied(plan)
        for result in left_out:
            if result.outcome is ApplyOutcome.UNREACHABLE:
                serial = next(d.serial for d in plan.devices if d.device == result.device)
                self.store.record_device(result.device, serial, result.outcome.value, result.detail)
        reachable_failed = any(r.outcome is ApplyOutcome.UNREACHABLE for r in left_out)
        self._retry = min(self._retry * 2, 3600.0) if reachable_failed and self._retry else (
            FIRST_RETRY_S if reachable_failed else 0.0)

    async def _apply(self, session: Session, chosen: Sequence[DevicePlan], observed: Mapping[str, ObservedDevice],
                     commit: str, stop: asyncio.Event) -> list[DeviceResult]:
        revision = session.revision
        run_id = self.store.start_run("reconcile", ACTOR, commit, revision.content)
        driver = await self._driver_for(session.settings)
        context = Context(session.fleet, revision.renderer(), revision.source.files, driver, self.store,
                          session.unsealer, run_id, commit, revision.content)
        works = works_for(session, chosen, observed=observed)
        results = await self._rollout(session.max_parallel).run(works, context, stop, _log_result(commit))
        tally = counts(results)
        self.store.finish_run(run_id, "interrupted" if stop.is_set() else "done", tally)
        changed = [r.device for r in results if r.outcome in (ApplyOutcome.CONVERGED, ApplyOutcome.FAILED)]
        self.store.audit(ACTOR, "reconcile", changed, commit, _summary(tally), run=run_id)
        return results

    def _settle(self, plan: Plan, results: Sequence[DeviceResult], commit: str, stop: asyncio.Event) -> None:
        """The commit counts as applied once no reachable device is left with a change from it."""
        done = {r.device for r in results if r.outcome in (ApplyOutcome.CONVERGED, ApplyOutcome.IN_SYNC)}
        left = [d for d in plan.devices if d.status in (Status.CHANGES, Status.INVALID, Status.BLOCKED)
                and d.device not in done and d.device not in self.status.drift]
        if not left and not stop.is_set():
            self.status.applied = commit


# after applying, a device's status is what the apply found, not what the plan expected
_AFTER_APPLY = {ApplyOutcome.CONVERGED: "in-sync", ApplyOutcome.IN_SYNC: "in-sync", ApplyOutcome.FAILED: "failed",
                ApplyOutcome.UNREACHABLE: "offline", ApplyOutcome.STALE: "changes",
                ApplyOutcome.INTERRUPTED: "changes", ApplyOutcome.SKIPPED: "changes", ApplyOutcome.ALREADY: "in-sync"}


def _statuses(plan: Plan, results: Sequence[DeviceResult]) -> dict[str, str]:
    statuses = {d.device: d.status.value for d in plan.devices}
    statuses.update({r.device: _AFTER_APPLY[r.outcome] for r in results})
    return statuses


def _drifted(pending: Sequence[DevicePlan], states: Mapping[str, DeviceState]) -> dict[str, str]:
    """Devices last converged to exactly this desired state that differ now: their change is drift."""
    return {d.device: "; ".join(a.summary for a in d.actions) or "differs" for d in pending
            if (state := states.get(d.device)) is not None and state.desired_hash == d.desired_hash}


def _log_result(commit: str) -> Callable[[DeviceResult], None]:
    def report(result: DeviceResult) -> None:
        level = logging.INFO if result.outcome in (ApplyOutcome.CONVERGED, ApplyOutcome.IN_SYNC) else logging.WARNING
        log.log(level, "%s: %s", result.outcome.value, result.detail, extra={"revision": commit,
                                                                             "device": result.device})
    return report


def _summary(tally: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {outcome}" for outcome, n in sorted(tally.items())) or "nothing"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
