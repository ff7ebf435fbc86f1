"""The reconcile loop: fetch the branch, keep the last good revision, observe, plan, apply, repeat.

Where it sits: `service` runs `Reconciler.run` until SIGTERM; the API reads `Reconciler.status`
(`status`) and calls `wake` (webhook: fetch now; `POST sync`: reconcile now). Each wake-up
fetches the branch (the daemon's clone, `shell.git.clones`); a new head is loaded and judged (`app.verdicts`, the same
verdict as `reconciler validate`); a head that fails is never used: the daemon is degraded and
keeps reconciling the last good revision. Before each cycle that revision is judged again at the
current time: one that stopped passing (a licence ran out) is not undone, but nothing more is
applied until a commit fixes it. A cycle runs the reconcile use case (`app.reconciling`):

- devices whose desired state changed since they were last converged are always applied;
- devices that had converged to exactly this desired state and differ now have *drifted*: applied
  with `sync.self_heal`, otherwise only reported (API, metrics, log, drift history);
- unreachable routers are recorded as such and retried sooner (backoff up to `sync.interval`).

This module keeps only the loop, its triggers, the backoff and the status. Cycles run on every
new good revision, on every `sync.interval` of the fleet, and on request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence

from reconciler.app.planning import plan_revision
from reconciler.app.reconciling import ApplyRequest, left_out, observe_routers, run_apply
from reconciler.app.sessions import LiveOptions, Session, session_for
from reconciler.app.verdicts import History, Verdict, judge_again, judge_revision
from reconciler.core.drift import classify_drift
from reconciler.core.observed import ObservedDevice, ObservedSnapshot
from reconciler.core.plans import DevicePlan, Plan, Status
from reconciler.core.presenting.redaction import redact_plan, redact_snapshot
from reconciler.core.problems import Problem
from reconciler.core.results import DONE, DeviceOutcome, DeviceResult, FleetResult
from reconciler.errors import GitUnavailable, ReconcilerError, SourceError
from reconciler.shell.clock import SYSTEM, Clock, sleep_or_wake
from reconciler.shell.drivers import Driver
from reconciler.shell.drivers.icom import DriverSettings, IcomDriver
from reconciler.shell.git.clones import Clone
from reconciler.shell.revisions import FleetLoader, LoadedRevision
from reconciler.shell.rollouts import Rollout, SimpleRollout
from reconciler.shell.store import DeviceState, Store
from reconciler.shell.targets import redactor

from . import logs, obligations
from .status import Cycle, DaemonStatus, RouterStatus, router_statuses

ACTOR = "reconciler-daemon"
DriverFactory = Callable[[DriverSettings, dict[str, str], Clock], Driver]  # settings, login tokens, clock
FIRST_RETRY_S = 5.0  # unreachable routers: the next cycle comes this soon, then twice as late each time
log = logging.getLogger("reconciler.daemon")


class Reconciler:
    """Follows one branch and reconciles the fleet it describes (one instance per daemon)."""

    def __init__(self, clone: Clone, store: Store, options: LiveOptions, *,
                 rollout: Callable[[int], Rollout] | None = None, grace: float = 30.0,
                 on_request: Callable[[str, str, float], None] | None = None,
                 on_revision: Callable[[LoadedRevision], None] | None = None,
                 on_cycle: Callable[[Cycle, Sequence[DeviceResult]], None] | None = None,
                 clock: Clock = SYSTEM, driver: DriverFactory | None = None) -> None:
        self.clone = clone
        self.store = store
        self.options = options
        self.clock = clock
        self.loader = FleetLoader()
        self.status = DaemonStatus(clone.source.label)
        self.good: LoadedRevision | None = None
        self.verdict: Verdict | None = None  # the last good revision's, as last judged
        self.grace = grace
        self._rollout = rollout or (lambda parallel: SimpleRollout(parallel, grace))
        self._on_request = on_request
        self._on_revision = on_revision
        self._on_cycle = on_cycle
        self._wake = asyncio.Event()
        self._forced: str | None = None
        self._make_driver = driver or IcomDriver
        self._driver: Driver | None = None
        self._settings: DriverSettings | None = None
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
        for closed in self.store.close_interrupted_runs():
            log.warning("run %d (%s) was left open by a process that ended: closed as interrupted; %d routers it "
                        "changed are in its audit row", closed.id, closed.kind, len(closed.devices))
        await asyncio.to_thread(self._restore_last_good)
        next_sync = self.clock.monotonic()
        while not stop.is_set():
            forced, self._forced = self._forced, None
            self._wake.clear()
            changed = await self.refresh()
            if changed or forced or self.clock.monotonic() >= next_sync:
                await self.cycle("new revision" if changed else forced or "interval", stop)
                next_sync = self.clock.monotonic() + self._next_sync_delay()
            await sleep_or_wake(self.clock, min(poll, max(0.0, next_sync - self.clock.monotonic())), self._wake, stop)
        await self.close()

    async def close(self) -> None:
        if self._driver is not None:
            await self._driver.close()
            self._driver = None

    def _next_sync_delay(self) -> float:
        fleet = self.good.build.fleet if self.good is not None else None
        interval = fleet.spec.sync.interval.total_seconds() if fleet is not None else 60.0
        return min(self._retry, interval) if self._retry else interval

    # --- following the branch -----------------------------------------------------------------------------

    def _restore_last_good(self) -> None:
        """After a restart: the pinned last good commit is reconciled even if the head is bad now."""
        try:
            commit = self.clone.last_good()
        except SourceError as exc:
            log.warning("the last good revision cannot be looked up: %s", exc)
            return
        if commit is None:
            return
        try:
            revision = self._load(commit)
        except ReconcilerError as exc:
            log.warning("the last good revision %s cannot be read again: %s", commit[:10], exc)
            return
        if revision.ok:  # it passed once: judged again before each cycle, like any last good revision
            self._accept(commit, revision, self._judge(commit, revision))

    async def refresh(self) -> bool:
        """Fetch the branch; True if a new good revision is now the one to reconcile."""
        head = await self._fetch()
        if head is None or head == self._loaded:
            return False
        self._loaded = head
        try:
            revision = await asyncio.to_thread(self._load, head)
            verdict = await asyncio.to_thread(self._judge, head, revision)
        except GitUnavailable as exc:  # nothing wrong with the commit: read it again on the next wake-up
            self._loaded = None
            self._fetch_failed(exc)
            return False
        except ReconcilerError as exc:
            self._reject(head, f"revision {head[:10]} cannot be loaded: {exc}", [])
            return False
        if not verdict.ok:
            self._reject(head, f"revision {head[:10]} fails validation ({len(verdict.errors)} errors); "
                         f"keeping {(self.status.last_good or 'nothing')[:10]}", verdict.errors)
            return False
        if head == self.status.last_good:
            self.status.invalid, self.status.problems = None, []
            return False
        self._accept(head, revision, verdict)
        try:
            self.clone.pin_last_good(head)
        except SourceError as exc:  # still the revision to reconcile; only a restart would not find it
            log.warning("%s", exc, extra={"revision": head})
        log.info("new good revision %s", head[:10], extra={"revision": head})
        return True

    async def _fetch(self) -> str | None:
        """The branch's head, fetched; None if fetching failed (the status says why)."""
        try:
            head = await asyncio.to_thread(self.clone.fetch)
        except SourceError as exc:
            self._fetch_failed(exc)
            return None
        self.status.fetch_error = None
        self.status.desired = head
        return head

    def _fetch_failed(self, exc: SourceError) -> None:
        """Logged once while the same error lasts; shown in the status."""
        if self.status.fetch_error != str(exc):
            log.error("%s", exc, extra={"revision": self.status.desired})
        self.status.fetch_error = str(exc)

    def _load(self, commit: str) -> LoadedRevision:
        return self.loader.load_files(self.clone.read(commit))

    def _history(self, commit: str) -> History:
        return History(self.clone.path, commit, self.clone)

    def _judge(self, commit: str, revision: LoadedRevision) -> Verdict:
        """The verdict `reconciler validate` gives the commit now (rendered in this process: jobs=1)."""
        return judge_revision(revision, self.clock.now(), self._history(commit), jobs=1)

    def _accept(self, commit: str, revision: LoadedRevision, verdict: Verdict) -> None:
        self.good, self.verdict = revision, verdict
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
        author = self.clone.author(head)
        count = f"{len(problems)} problems" if problems else "not loadable"
        self.store.audit(ACTOR, "reject", [], head, "rejected", f"by {author}: {count}: {reason}")

    # --- one cycle ------------------------------------------------------------------------------------------

    async def cycle(self, reason: str, stop: asyncio.Event) -> FleetResult | None:
        """One cycle over the last good revision: judged again, observed, planned, applied if it may be."""
        revision, commit, verdict = self.good, self.status.last_good, self.verdict
        if revision is None or commit is None or verdict is None:
            return None
        started = self.clock.monotonic()
        cycle = Cycle(reason, commit, _stamp(self.clock))
        self.status.reconciling = True
        try:
            self.verdict = await asyncio.to_thread(judge_again, verdict, revision, self.clock.now(),
                                                   self._history(commit))
            self._note_lapse(commit, self.verdict)
            result = await self._reconcile(revision, commit, cycle, stop, may_apply=self.verdict.ok)
        finally:
            self.status.reconciling = False
        cycle.finished_at, cycle.seconds = _stamp(self.clock), round(self.clock.monotonic() - started, 3)
        cycle.interrupted = stop.is_set()
        self.status.last_cycle = cycle
        self.status.cycles += 1
        log.info("cycle (%s) done in %.1fs: plan %s, applied %s, %d drifted", reason, cycle.seconds, cycle.plan,
                 cycle.outcomes or "nothing", cycle.drifted, extra={"revision": commit})
        if self._on_cycle is not None:
            self._on_cycle(cycle, result.results)
        return result

    def _note_lapse(self, commit: str, verdict: Verdict) -> None:
        """A last good revision that stopped passing (with time): say so once; nothing more is applied."""
        lapsed = None if verdict.ok else (f"revision {commit[:10]} no longer passes validation: applying nothing "
                                          f"until a commit fixes it ({verdict.reason()})")
        if lapsed is not None and lapsed != self.status.lapsed:
            log.error("%s", lapsed, extra={"revision": commit})
        self.status.lapsed = lapsed

    async def _reconcile(self, revision: LoadedRevision, commit: str, cycle: Cycle, stop: asyncio.Event,
                         may_apply: bool) -> FleetResult:
        session = session_for(revision, self.store, self.options, self.clock)
        driver = await self._driver_for(session.settings)
        states = self.store.device_states()  # read once: the steps below touch other columns or other devices
        snapshot = await observe_routers(session, driver, known=states)
        plan = await asyncio.to_thread(plan_revision, revision, snapshot, self.clock.now(), jobs=1, keys=False)
        hidden = redactor(session.unsealer)  # router values equal to a secret: never in the API or the logs
        logs.redact(*hidden.plaintexts)
        self.status.plan, self.status.self_heal = redact_plan(plan, hidden), session.fleet.spec.sync.self_heal
        self.snapshot = redact_snapshot(snapshot, hidden) if self.keep_snapshot else None
        cycle.plan = {status.value: count for status, count in plan.counts.items()}
        self._record_unreachable(plan)
        self._record_matching(plan, commit, states)
        pending = [d for d in plan.devices if d.status is Status.CHANGES]
        drift = classify_drift(pending, {name: state.desired_hash for name, state in states.items()})
        self.status.drift, cycle.drifted = drift, len(drift)
        chosen = pending if self.status.self_heal else [d for d in pending if d.device not in drift]
        if drift:
            corrected = self.status.self_heal and may_apply
            self.store.record_drift(drift, commit, "corrected" if corrected else "reported")
            for device, summary in sorted(drift.items()):
                log.warning("drift: %s", summary, extra={"revision": commit, "device": device})
        result = FleetResult(())
        if chosen and may_apply:
            result = await self._apply(session, chosen, snapshot.by_serial(), commit, stop, driver)
        cycle.outcomes = result.counts_by_name()
        self.status.devices = router_statuses(plan, result.results)
        self._obligations(revision, commit)
        self._settle(plan, result.results, commit, stop)
        return result

    async def _apply(self, session: Session, chosen: Sequence[DevicePlan], observed: Mapping[str, ObservedDevice],
                     commit: str, stop: asyncio.Event, driver: Driver) -> FleetResult:
        request = ApplyRequest(chosen, "reconcile", ACTOR, observed=observed)
        return await run_apply(session, request, driver, stop, _log_result(commit),
                               self._rollout(session.max_parallel), self.grace)

    def _obligations(self, revision: LoadedRevision, commit: str) -> None:
        """Entitlement warnings and incidents after a cycle; a failure here never stops reconciling."""
        now = self.clock.now()
        offline = [name for name, status in self.status.devices.items() if status is RouterStatus.OFFLINE]
        try:
            self.status.entitlements, over = obligations.entitlement_notes(revision, self.clone, now)
            events = dict.fromkeys(offline, obligations.UNREACHABLE_EVENT)
            if over:
                events[obligations.FLEET] = obligations.OVER_LICENCE_EVENT
            self.status.incidents = obligations.track_incidents(self.status.incidents, events, revision, now)
        except ReconcilerError as exc:
            log.warning("cannot judge the entitlements: %s", exc, extra={"revision": commit})

    async def _driver_for(self, settings: DriverSettings) -> Driver:
        """One driver (one connection pool, the routers' tokens) for as long as the fleet's settings hold."""
        if self._on_request is not None:
            settings = DriverSettings(**{**settings.__dict__, "on_request": self._on_request})
        if self._driver is None or self._settings != settings:
            if self._driver is not None:
                await self._driver.close()
            self._driver, self._settings = self._make_driver(settings, self._tokens, self.clock), settings
        return self._driver

    def _record_matching(self, plan: Plan, commit: str, states: Mapping[str, DeviceState]) -> None:
        """In-sync devices not yet known to match this desired state are, from now on (drift is measured from it)."""
        matching = {d.device: (d.serial, d.desired_hash) for d in plan.devices
                    if d.status is Status.IN_SYNC and d.desired_hash is not None
                    and ((state := states.get(d.device)) is None or state.desired_hash != d.desired_hash)}
        if matching:
            self.store.record_matching(matching, commit)

    def _record_unreachable(self, plan: Plan) -> None:
        """Routers not reached (offline, or busy: seen, but not now) are recorded and tried again sooner."""
        serials = {d.device: d.serial for d in plan.devices}
        waiting = [r for r in left_out(plan) if r.outcome in (DeviceOutcome.UNREACHABLE, DeviceOutcome.BUSY)]
        for result in waiting:
            self.store.record_device(result.device, serials[result.device], result.outcome.value, result.detail,
                                     seen=result.outcome is DeviceOutcome.BUSY)
        self._retry = min(self._retry * 2, 3600.0) if waiting and self._retry else (FIRST_RETRY_S if waiting else 0.0)

    def _settle(self, plan: Plan, results: Sequence[DeviceResult], commit: str, stop: asyncio.Event) -> None:
        """The commit counts as applied once no reachable device is left with a change from it."""
        done = {r.device for r in results if r.outcome in DONE}
        left = [d for d in plan.devices if d.status in (Status.CHANGES, Status.INVALID, Status.BLOCKED)
                and d.device not in done and d.device not in self.status.drift]
        if not left and not stop.is_set():
            self.status.applied = commit


def _log_result(commit: str) -> Callable[[DeviceResult], None]:
    def report(result: DeviceResult) -> None:
        level = logging.INFO if result.outcome in DONE else logging.WARNING
        log.log(level, "%s: %s", result.outcome.value, result.detail, extra={"revision": commit,
                                                                             "device": result.device})
    return report


def _stamp(clock: Clock) -> str:
    return clock.now().isoformat(timespec="seconds")
