"""Timing: when each wave can start and when the rollout is done, estimated for a preview.

Where it sits: `previews` calls `schedule_waves` with the waves from `waves`, the fleet's
devices, the policy, `now` and a `Pace` (the engine's estimate of one router's change); windows
come from `windows`. An estimate, not a promise: it assumes every device succeeds in the
estimated time, every gate passes and every approval is given at once (a wave that waits for one
says so).

The model: wave 1 is ready at `now`; each later wave when every device of the one before has
finished and each of its strategies' soak has passed. Within a wave each strategy goes at its
own pace: one start per `rate` interval, at most `max_parallel` at once; a device starts only
while one of its windows is open (one that started runs to its end), and the devices waiting
for a window do not hold up the others. Beyond a year the estimate gives up (times are None).
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconciler.core.fleets import Device
from reconciler.core.models.rollouts import ApprovalPoint, RolloutsFile, StrategySpec, WindowSpec
from reconciler.core.rollouts.waves import Wave
from reconciler.core.rollouts.windows import Opening, applicable, earliest_opening

HORIZON = dt.timedelta(days=366)
MAX_STEPS = 1_000_000  # device starts tried per wave, including those deferred to a later window


@dataclass(frozen=True, slots=True)
class Pace:
    """What the estimate assumes about the engine."""

    per_device: dt.timedelta  # one router's change, health check included
    max_parallel: int = 20  # for strategies without their own (fleet.yaml management.max_parallel)


@dataclass(frozen=True, slots=True)
class WaveTiming:
    """When one wave is ready, can first start in a window, starts and ends (None: beyond the horizon)."""

    index: int
    ready_at: dt.datetime | None  # the wave before finished and soaked (for wave 1: now)
    first_window: dt.datetime | None  # the first moment a window lets one of its devices start; None: no windows
    starts_at: dt.datetime | None  # its first device starts
    ends_at: dt.datetime | None  # its last device is done
    approval: bool  # an operator approves before it starts (the estimate does not wait for that)


@dataclass(frozen=True, slots=True)
class Timeline:
    waves: tuple[WaveTiming, ...]
    eta: dt.datetime | None  # when the last wave is done (now, with no waves); None: beyond the horizon


@dataclass(frozen=True, slots=True)
class _Slot:
    """A device of a wave as the estimate sees it."""

    order: int
    windows: tuple[WindowSpec, ...]
    timezone: str


def schedule_waves(waves: Sequence[Wave], devices: Mapping[str, Device], policy: RolloutsFile,
                   now: dt.datetime, pace: Pace) -> Timeline:
    """A purely computational function: the estimated timeline of `waves` from `now`."""
    if now.tzinfo is None:
        raise ValueError("`now` must be an aware datetime")
    limit = now + HORIZON
    ready: dt.datetime | None = now
    timings = []
    for wave in waves:
        timing, ready = _schedule_wave(wave, devices, policy, ready, pace, limit)
        timings.append(timing)
    eta = ready if not timings else timings[-1].ends_at
    return Timeline(tuple(timings), eta)


def _schedule_wave(wave: Wave, devices: Mapping[str, Device], policy: RolloutsFile, ready: dt.datetime | None,
                   pace: Pace, limit: dt.datetime) -> tuple[WaveTiming, dt.datetime | None]:
    lanes: dict[str, list[_Slot]] = {}
    for order, member in enumerate(wave.members):
        device = devices[member.device]
        zone = device.site.timezone if device.site is not None else "UTC"
        lanes.setdefault(member.strategy, []).append(_Slot(order, applicable(device, policy.windows), zone))
    approval = _needs_approval(wave.index, [policy.strategies[name] for name in lanes])
    if ready is None:
        return WaveTiming(wave.index, None, None, None, None, approval), None
    first_window = min((max(ready, _first_opening(slot, ready).start) for slots in lanes.values()
                        for slot in slots if slot.windows), default=None)
    starts, ends, next_ready = [], [], ready
    for name, slots in lanes.items():
        strategy = policy.strategies[name]
        first, end = _run_lane(slots, strategy, ready, pace, limit)
        starts.extend([first] if first is not None else [])
        ends.append(end)
        next_ready = max(next_ready, end + strategy.soak) if end is not None else next_ready
    starts_at = min(starts, default=None)
    if None in ends:
        return WaveTiming(wave.index, ready, first_window, starts_at, None, approval), None
    done = [end for end in ends if end is not None]
    return WaveTiming(wave.index, ready, first_window, starts_at, max(done), approval), next_ready


def _needs_approval(index: int, strategies: Sequence[StrategySpec]) -> bool:
    point = ApprovalPoint.BEFORE_START if index == 1 else ApprovalPoint.AFTER_CANARY if index == 2 else None
    return point is not None and any(strategy.approval is point for strategy in strategies)


def _first_opening(slot: _Slot, at: dt.datetime) -> Opening:
    return earliest_opening(slot.windows, slot.timezone, at)


def _run_lane(slots: Sequence[_Slot], strategy: StrategySpec, ready: dt.datetime, pace: Pace,
              limit: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
    """One strategy's devices of a wave: (first start, last end); None for what lies past the horizon."""
    interval = strategy.rate.interval if strategy.rate is not None else dt.timedelta(0)
    parallel = strategy.max_parallel or pace.max_parallel
    queue: list[tuple[dt.datetime, int, Opening | None]] = []
    for slot in slots:
        opening = _first_opening(slot, ready) if slot.windows else None
        queue.append((max(ready, opening.start) if opening else ready, slot.order, opening))
    heapq.heapify(queue)
    by_order = {slot.order: slot for slot in slots}
    running: list[dt.datetime] = []  # end times of the devices changing
    next_start, first, last_end = ready, None, ready
    for _ in range(MAX_STEPS):
        if not queue:
            return first, last_end
        candidate, order, opening = heapq.heappop(queue)
        at = max(candidate, next_start, running[0] if len(running) >= parallel else candidate)
        if at > limit:
            return first, None
        if opening is not None and not opening.contains(at):
            opening = _reopening(by_order[order], opening, at)
            heapq.heappush(queue, (max(at, opening.start), order, opening))
            continue
        while running and running[0] <= at:
            heapq.heappop(running)
        heapq.heappush(running, at + pace.per_device)
        next_start, first, last_end = at + interval, first or at, max(last_end, at + pace.per_device)
    return first, None


def _reopening(slot: _Slot, opening: Opening, at: dt.datetime) -> Opening:
    """The device's opening that holds `at` or comes next, walking on from a closed one."""
    while opening.end <= at:
        opening = _first_opening(slot, opening.end)
    return opening
