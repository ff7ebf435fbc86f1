"""Rolling: the staged rollout engine, wave by wave, with windows, gates, pace, health checks and revert.

Where it sits: a `Rollout` (see `rollouts`) that the reconcile use case hands a run's devices to
(`app.rollouts` decides which rollout of the store's book it continues). Its waves were fixed when
the rollout was created (`core.rollouts.waves`), so the engine only walks them: before a wave, an
approval gate may hold it; inside a wave, devices whose maintenance window is closed wait
(`core.rollouts.windows`), the others are applied (`applying.apply_device`) at the strategy's pace
(rate, parallelism, per-device timeout, retries by failure type), then checked (`health`); a
device that fails its checks goes back to its last good state (revert). After every device the
wave's gates are judged (`core.rollouts.gates`): a tripped failure threshold stops new starts at
once (pause or abort). A wave that passed is soaked, then the next starts. Every state lands in the
book, so a stopped or killed process resumes at the same wave and never applies a device twice
(a device is planned afresh from what the router reports before anything is written to it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from reconciler.core.configs import parse_config
from reconciler.core.fleets import Device
from reconciler.core.models import ConfigMode
from reconciler.core.models.rollouts import (
    DEFAULT_STRATEGY,
    ApprovalPoint,
    FailureType,
    RolloutsFile,
    StrategySpec,
)
from reconciler.core.rendering import DesiredState
from reconciler.core.results import DONE, DeviceOutcome, DeviceResult
from reconciler.core.rollouts.gates import Tally, Verdict, judge_strategies
from reconciler.core.rollouts.windows import next_window
from reconciler.shell.applying import Context, Report, Work, apply_device, run_devices
from reconciler.shell.clock import Clock, sleep_or_wake
from reconciler.shell.health import HealthResult, await_health
from reconciler.shell.retrying import Backoff
from reconciler.shell.store import (
    DeviceUpdate,
    GoodState,
    RolloutDevice,
    RolloutDeviceState,
    RolloutRecord,
    RolloutState,
)
from reconciler.shell.store.rollouts import RolloutBook

_BATCH = 256  # device states written to the book in one transaction (a killed process re-plans the rest)
_FAILURES = {DeviceOutcome.FAILED: FailureType.REJECTED, DeviceOutcome.UNREACHABLE: FailureType.UNREACHABLE,
             DeviceOutcome.BUSY: FailureType.BUSY, DeviceOutcome.STALE: FailureType.REJECTED}


@dataclass(frozen=True)
class Staging:
    """What the engine needs besides a run's context: the book, which rollout, the policy, the fleet's devices."""

    book: RolloutBook
    rollout: int
    policy: RolloutsFile
    devices: Mapping[str, Device]
    unavailable: Mapping[str, DeviceResult] = field(default_factory=dict)  # left out by the plan: offline, busy
    ignore_windows: bool = False  # an audited override for emergencies
    health_poll: float = 2.0


class StagedRollout:
    """Runs one rollout of the book as far as it can go now; `outcome` says where it stopped."""

    def __init__(self, staging: Staging, max_parallel: int, grace: float = 60.0) -> None:
        self.staging, self.max_parallel, self.grace = staging, max_parallel, grace
        self.outcome: RolloutRecord | None = None

    async def run(self, works: Sequence[Work], context: Context, stop: asyncio.Event,
                  report: Report | None = None) -> list[DeviceResult]:
        runner = _Runner(self.staging, context, stop, report, self.max_parallel, self.grace)
        await runner.run({work.plan.device: work for work in works})
        self.outcome = self.staging.book.get(self.staging.rollout)
        return runner.results


class _Runner:
    """One pass of the engine over a rollout (one run of the journal)."""

    def __init__(self, staging: Staging, context: Context, stop: asyncio.Event, report: Report | None,
                 max_parallel: int, grace: float) -> None:
        self.staging, self.book, self.rollout = staging, staging.book, staging.rollout
        self.context = replace(context, on_converged=self._converged)
        self.stop, self.report = stop, report
        self.max_parallel, self.grace = max_parallel, grace
        self.clock = context.clock
        self.halt = asyncio.Event()  # a gate tripped in this wave: start no more devices
        self.results: list[DeviceResult] = []
        self.tallies: dict[str, Tally] = {}  # the current wave's outcomes by strategy, kept in memory
        self.updates: list[DeviceUpdate] = []  # device states not yet written to the book (written in batches)
        self.goods: list[GoodState] = []
        self.running: dict[str, DesiredState] = {}  # what each device in flight runs once it converged

    async def run(self, works: Mapping[str, Work]) -> None:
        record = self.book.get(self.rollout)
        if record is None or record.state.finished or record.state is RolloutState.PAUSED:
            return  # paused: only an operator's resume (or retry) lets it run again
        wave = max(record.wave, 1)
        while wave <= record.waves and not self.stop.is_set():
            if not await self._wave(wave, record.waves, works):
                return
            wave += 1
        if wave > record.waves:
            self._finish()

    # --- one wave -------------------------------------------------------------------------------------------

    async def _wave(self, wave: int, waves: int, works: Mapping[str, Work]) -> bool:
        """Run a wave as far as it can go now; True when it passed and the next may start."""
        held = self._approval_needed(wave)
        if held is not None:
            self.book.set_state(self.rollout, RolloutState.AWAITING_APPROVAL, wave, held)
            return False
        self.book.set_state(self.rollout, RolloutState.RUNNING, wave, f"wave {wave} of {waves}")
        members = self.book.devices(self.rollout, wave)
        self.tallies = _tallies(members)
        pending = [m for m in members if not m.state.finished]
        ready, waiting = self._by_window(pending)
        self.halt.clear()
        try:
            await self._run(ready, works)
        finally:
            self._flush()
        if self.stop.is_set():
            self.book.set_state(self.rollout, RolloutState.RUNNING, wave, f"stopped in wave {wave}: resumes there")
            return False
        return await self._after_wave(wave, waves, waiting)

    async def _after_wave(self, wave: int, waves: int, waiting: Sequence[tuple[RolloutDevice, dt.datetime | None]]
                          ) -> bool:
        decision = judge_strategies(self.tallies, self.staging.policy)
        if decision.verdict is Verdict.ABORT:
            self.book.abort(self.rollout, decision.reason)
            return False
        if decision.verdict is Verdict.PAUSE:
            self.book.set_state(self.rollout, RolloutState.PAUSED, wave, decision.reason)
            return False
        if waiting:
            self.book.set_state(self.rollout, RolloutState.WAITING_FOR_WINDOW, wave, _waiting_reason(wave, waiting))
            return False
        if decision.verdict is Verdict.WAIT:  # devices left running by a grace period that ran out
            self.book.set_state(self.rollout, RolloutState.RUNNING, wave, decision.reason)
            return False
        await self._soak(wave, waves)
        return not self.stop.is_set()

    def _approval_needed(self, wave: int) -> str | None:
        """Why an approval holds this wave (before the first wave, or before the one after the canary)."""
        record = self.book.get(self.rollout)
        assert record is not None
        point = {1: ApprovalPoint.BEFORE_START, 2: ApprovalPoint.AFTER_CANARY}.get(wave)
        if point is None or record.approved(point.value):
            return None
        strategies = {m.strategy for m in self.book.devices(self.rollout)}
        asking = sorted(name for name in strategies if self.staging.policy.strategies[name].approval is point)
        if not asking:
            return None
        return (f"waiting for an approval {point.value} (strategy {', '.join(asking)}): "
                f"`reconciler rollout approve` or apply --approve")

    def _by_window(self, members: Sequence[RolloutDevice]
                   ) -> tuple[list[RolloutDevice], list[tuple[RolloutDevice, dt.datetime | None]]]:
        """The members whose window is open now, and the others with when theirs opens."""
        if self.staging.ignore_windows:
            return list(members), []
        now = self.clock.now()
        ready: list[RolloutDevice] = []
        waiting: list[tuple[RolloutDevice, dt.datetime | None]] = []
        for member in members:
            device = self.staging.devices.get(member.device)
            opening = next_window(device, self.staging.policy.windows, now) if device is not None else None
            if opening is None or opening.contains(now):
                ready.append(member)
            else:
                waiting.append((member, opening.start))
        return ready, waiting

    async def _soak(self, wave: int, waves: int) -> None:
        if wave >= waves:
            return
        members = self.book.devices(self.rollout, wave)
        soak = max((self._strategy(m.strategy).soak for m in members), default=dt.timedelta(0))
        if soak > dt.timedelta(0):
            self.book.set_state(self.rollout, RolloutState.RUNNING, wave, f"soaking after wave {wave} for {soak}")
            await sleep_or_wake(self.clock, soak.total_seconds(), self.stop)

    # --- devices ----------------------------------------------------------------------------------------------

    async def _run(self, members: Sequence[RolloutDevice], works: Mapping[str, Work]) -> None:
        """Apply the ready members at their strategies' pace; members without work are settled at once."""
        runnable = []
        for member in members:
            work = works.get(member.device)
            if work is None:
                self._settle_without_work(member)
            else:
                runnable.append((member, work))
        paces = {name: _Pace(self._strategy(name), self.max_parallel, self.clock)
                 for name in {member.strategy for member, _ in runnable}}
        by_work = {id(work): member for member, work in runnable}

        async def one(work: Work) -> DeviceResult:
            member = by_work[id(work)]
            return await self._device(member, work, paces[member.strategy])

        self.results.extend(await run_devices([work for _, work in runnable], one, self.context, self.stop,
                                              self.grace))

    def _settle_without_work(self, member: RolloutDevice) -> None:
        """A member the plan has nothing to apply to: left out (offline, busy, blocked), or in sync already."""
        left = self.staging.unavailable.get(member.device)
        if left is None:
            self._note(member, DeviceUpdate(member.device, RolloutDeviceState.SUCCEEDED, detail="in sync"))
            return
        failure = _FAILURES.get(left.outcome, FailureType.REJECTED)
        self._note(member, DeviceUpdate(member.device, RolloutDeviceState.FAILED, failure.value, left.detail))
        self.results.append(left)

    async def _device(self, member: RolloutDevice, work: Work, pace: _Pace) -> DeviceResult:
        async with pace.slots:
            if self.halt.is_set() or self.stop.is_set():
                return DeviceResult(member.device, DeviceOutcome.SKIPPED, "not started: the wave was stopped")
            await pace.turn()
            result, failure = await self._attempts(work, pace.strategy)
            reverted = False
            if failure is None and result.outcome in DONE:
                result, failure, reverted = await self._check_health(work, result, pace.strategy)
        self._record(member, work, result, failure, reverted)
        if self.report is not None:
            self.report(result)
        return result

    async def _attempts(self, work: Work, strategy: StrategySpec) -> tuple[DeviceResult, FailureType | None]:
        """Apply, retrying a failure as often as the strategy allows for its type."""
        backoff, attempt = Backoff(), 0
        while True:
            result, timed_out = await self._apply_in_time(work, strategy)
            failure = FailureType.TIMEOUT if timed_out else _failure_of(result)
            if failure is None or attempt >= strategy.retries.get(failure, 0) or self.stop.is_set():
                return result, failure
            await self.clock.sleep(backoff.delay(attempt))
            attempt += 1

    async def _apply_in_time(self, work: Work, strategy: StrategySpec) -> tuple[DeviceResult, bool]:
        """The device applied within the strategy's device timeout; whether it timed out."""
        applying = asyncio.ensure_future(apply_device(work, self.context))
        if strategy.device_timeout is None:
            return await applying, False
        timer = asyncio.ensure_future(self.clock.sleep(strategy.device_timeout.total_seconds()))
        await asyncio.wait({applying, timer}, return_when=asyncio.FIRST_COMPLETED)
        timer.cancel()
        if applying.done():
            return applying.result(), False
        applying.cancel()
        await asyncio.gather(applying, return_exceptions=True)
        detail = f"timed out after {strategy.device_timeout}"
        self.context.store.record_step(self.context.run_id, work.plan.device, "device", "timeout", detail)
        return DeviceResult(work.plan.device, DeviceOutcome.FAILED, detail), True

    async def _check_health(self, work: Work, result: DeviceResult, strategy: StrategySpec
                            ) -> tuple[DeviceResult, FailureType | None, bool]:
        """The device's result after its health checks: a failure of type health, and whether it was reverted."""
        if strategy.health is None or result.outcome is not DeviceOutcome.CONVERGED:
            return result, None, False
        desired = self.running.get(work.plan.device)
        checked = await await_health(self.context.driver, work.target, strategy.health.checks,
                                     desired.firmware if desired is not None else None, strategy.health.deadline,
                                     self.clock, self.staging.health_poll)
        if checked.healthy:
            return result, None, False
        reverted, back = await self._revert(work, checked, strategy)
        return reverted, FailureType.HEALTH, back

    async def _revert(self, work: Work, checked: HealthResult, strategy: StrategySpec) -> tuple[DeviceResult, bool]:
        """Put a router that failed its checks back to its last good state, if the strategy says so and one
        exists; whether it is back."""
        name = work.plan.device
        good = self.book.good_state(name) if strategy.revert else None
        if good is None:
            why = "no good state to go back to" if strategy.revert else "revert is off"
            return DeviceResult(name, DeviceOutcome.FAILED, f"health: {checked.reason}; {why}"), False
        reverted = await apply_device(Work(work.plan, work.target, desired=_good_desired(good, work)), self.context)
        back = reverted.outcome in DONE
        done = "reverted to its last good state" if back else f"revert failed: {reverted.detail}"
        return DeviceResult(name, DeviceOutcome.FAILED, f"health: {checked.reason}; {done}", reverted.steps,
                            reverted.seconds), back

    def _record(self, member: RolloutDevice, work: Work, result: DeviceResult, failure: FailureType | None,
                reverted: bool) -> None:
        desired = self.running.pop(member.device, None)
        if result.outcome is DeviceOutcome.SKIPPED or result.outcome is DeviceOutcome.INTERRUPTED:
            self.updates.append(DeviceUpdate(member.device, RolloutDeviceState.PENDING, detail=result.detail))
            return
        if failure is None:
            self._note(member, DeviceUpdate(member.device, RolloutDeviceState.SUCCEEDED, detail=result.detail,
                                            attempts=1))
            if desired is not None:
                self.goods.append(self._good(desired))
        else:
            state = RolloutDeviceState.REVERTED if reverted else RolloutDeviceState.FAILED
            self._note(member, DeviceUpdate(member.device, state, failure.value, result.detail, attempts=1))

    def _converged(self, device: str, desired: DesiredState) -> None:
        """Told by `applying` what a device runs once it converged (its good state, if its checks pass)."""
        self.running[device] = desired

    def _good(self, desired: DesiredState) -> GoodState:
        return GoodState(desired.device, desired.serial, self.context.revision, self.context.content,
                         desired.firmware, desired.config_text, desired.config_mode.value, desired.input_hash,
                         self.clock.now().isoformat(timespec="seconds"))

    # --- gates, the book and the end ------------------------------------------------------------------------

    def _note(self, member: RolloutDevice, update: DeviceUpdate) -> None:
        """A device finished: count it in its strategy's tally, queue its state, judge the wave's gates."""
        tally = self.tallies.get(member.strategy, Tally(0))
        self.tallies[member.strategy] = _counted(tally, update.state, update.failure, size=tally.size)
        self.updates.append(update)
        if judge_strategies(self.tallies, self.staging.policy).verdict >= Verdict.PAUSE:
            self.halt.set()
            self._flush()
        elif len(self.updates) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        if self.updates:
            self.book.set_devices(self.rollout, self.updates)
            self.updates = []
        if self.goods:
            self.book.record_good(*self.goods)
            self.goods = []

    def _finish(self) -> None:
        counts = self.book.counts(self.rollout)
        failed = counts.get(RolloutDeviceState.FAILED, 0) + counts.get(RolloutDeviceState.REVERTED, 0)
        state = RolloutState.FAILED if failed else RolloutState.SUCCEEDED
        self.book.set_state(self.rollout, state, None, f"{failed} devices failed" if failed else "every wave passed")

    def _strategy(self, name: str) -> StrategySpec:
        return self.staging.policy.strategies.get(name) or self.staging.policy.strategies[DEFAULT_STRATEGY]


class _Pace:
    """A strategy's pace within a wave: at most `max_parallel` at once, and starts spaced by its rate."""

    def __init__(self, strategy: StrategySpec, max_parallel: int, clock: Clock) -> None:
        self.strategy, self.clock = strategy, clock
        self.slots = asyncio.Semaphore(min(strategy.max_parallel or max_parallel, max_parallel))
        self._interval = strategy.rate.interval.total_seconds() if strategy.rate is not None else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def turn(self) -> None:
        """Wait for this device's start under the rate."""
        if not self._interval:
            return
        async with self._lock:
            now = self.clock.monotonic()
            wait = max(0.0, self._next - now)
            self._next = max(now, self._next) + self._interval
        if wait:
            await self.clock.sleep(wait)


def _tallies(members: Sequence[RolloutDevice]) -> dict[str, Tally]:
    """A wave's tallies by strategy, from the book (a resumed wave counts what finished before)."""
    found: dict[str, Tally] = {}
    for member in members:
        tally = found.get(member.strategy, Tally(0))
        found[member.strategy] = _counted(tally, member.state, member.failure, size=tally.size + 1)
    return found


def _counted(tally: Tally, state: RolloutDeviceState, failure: str | None, size: int) -> Tally:
    """`tally` with one more device in `state` (a failed or reverted one counted by its failure type)."""
    failed = dict(tally.failed)
    if state in (RolloutDeviceState.FAILED, RolloutDeviceState.REVERTED):
        kind = FailureType(failure) if failure else FailureType.REJECTED
        failed[kind] = failed.get(kind, 0) + 1
    return Tally(size, tally.succeeded + (state is RolloutDeviceState.SUCCEEDED), failed)


def _failure_of(result: DeviceResult) -> FailureType | None:
    return None if result.outcome in DONE else _FAILURES.get(result.outcome, FailureType.REJECTED)


def _good_desired(good: GoodState, work: Work) -> DesiredState:
    """The desired state a revert applies: the good state's configuration and firmware (packets stay)."""
    parsed = parse_config(good.config_text) if good.config_text is not None else None
    return DesiredState(good.name, good.serial, work.plan.model or "", None, ConfigMode(good.config_mode),
                        good.config_text, good.firmware, (), good.desired_hash or "", parsed)


def _waiting_reason(wave: int, waiting: Sequence[tuple[RolloutDevice, dt.datetime | None]]) -> str:
    opens = sorted(start for _, start in waiting if start is not None)
    when = f"; the next window opens at {opens[0].isoformat(timespec='minutes')}" if opens else ""
    return f"wave {wave}: {len(waiting)} devices wait for their maintenance window{when}"
