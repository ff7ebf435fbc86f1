"""Windows: when a device may be changed, evaluated in its site's time zone.

Where it sits: the rollout engine asks `in_window` before it starts a device and `next_window`
for when to come back; `timing` uses `next_window` for a preview's estimate. `schedules` walks
each window's cron expression in wall-clock time; `local_instant` turns a wall-clock start into
an instant, which is where daylight saving time is decided:

- a start the clocks skip (02:30 on the night they spring forward) opens when they jump, at the
  first valid instant after the gap (03:00);
- a start in the hour that repeats (02:30 on the night they fall back) opens once, at its first
  occurrence (02:30 summer time);
- a window lasts its duration in elapsed time (4h from 01:00 on the autumn night ends at 04:00).

Windows are half-open: a window from 01:00 to 05:00 lets a device start at 01:00, not at 05:00.
A device without a site, or without a window that applies to it, may be changed at any time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from reconciler.core.fleets import Device
from reconciler.core.models.rollouts import WindowSpec
from reconciler.core.rollouts.assigning import matches
from reconciler.core.rollouts.schedules import next_start, previous_start

UTC = dt.UTC
# More than any change of a zone's UTC offset (DST moves clocks by at most two hours): a wall-clock
# time this far from `at` is certainly on the same side of `at` as an instant.
SLACK = dt.timedelta(hours=3)


@dataclass(frozen=True, slots=True)
class Opening:
    """One opening of a window: from `start` (inclusive) to `end` (exclusive).

    Both are in UTC, so subtracting them gives elapsed time (Python subtracts two datetimes of
    one zone as wall-clock times); `local()` shows them in the site's time zone.
    """

    window: str
    start: dt.datetime
    end: dt.datetime
    timezone: str

    def local(self) -> tuple[dt.datetime, dt.datetime]:
        zone = ZoneInfo(self.timezone)
        return self.start.astimezone(zone), self.end.astimezone(zone)

    def contains(self, at: dt.datetime) -> bool:
        return self.start <= at < self.end


def applicable(device: Device, windows: Sequence[WindowSpec]) -> tuple[WindowSpec, ...]:
    """The windows that restrict the device: none without a site (no time zone to read them in)."""
    if device.site is None:
        return ()
    return tuple(w for w in windows if w.applies_to is None or matches(w.applies_to, device))


def next_window(device: Device, windows: Sequence[WindowSpec], at: dt.datetime) -> Opening | None:
    """The opening the device is in at `at`, else its next one; None if no window restricts it.

    `windows` are the policy's windows (those that apply to the device are picked here). Of
    several open at `at`, the one that stays open longest; else the one that opens first.
    """
    chosen = applicable(device, windows)
    if not chosen:
        return None
    assert device.site is not None
    return earliest_opening(chosen, device.site.timezone, at)


def in_window(device: Device, windows: Sequence[WindowSpec], at: dt.datetime) -> bool:
    """Whether the device may be changed at `at` (always, when no window restricts it)."""
    opening = next_window(device, windows, at)
    return opening is None or opening.contains(at)


def earliest_opening(windows: Sequence[WindowSpec], timezone: str, at: dt.datetime) -> Opening:
    """Of these windows in `timezone`, the opening that holds `at` (open longest), else the next to open."""
    if at.tzinfo is None:
        raise ValueError("`at` must be an aware datetime")
    at = at.astimezone(UTC)
    openings = [o for w in windows if (o := _opening(w.name, w.schedule, w.duration, timezone, at)) is not None]
    if not openings:
        names = ", ".join(w.name for w in windows)
        raise ValueError(f"windows {names} never open after {at.isoformat()}")
    current = [o for o in openings if o.contains(at)]
    if current:
        return max(current, key=lambda o: o.end)
    return min(openings, key=lambda o: (o.start, -o.end.timestamp()))


@lru_cache(maxsize=8192)
def _opening(name: str, schedule: str, duration: dt.timedelta, timezone: str, at: dt.datetime) -> Opening | None:
    """The opening of one window that holds `at` (UTC), else its next one; None if it never opens again.

    Openings of one window all last `duration`, so the latest start at or before `at` is the only
    one that can still be open.
    """
    zone = ZoneInfo(timezone)
    wall = at.astimezone(zone).replace(tzinfo=None)
    last = _last_start(schedule, zone, wall + SLACK, at)
    if last is not None and at < last + duration:
        return _utc(name, last, duration, timezone)
    first = _first_start_after(schedule, zone, wall - SLACK, at)
    return _utc(name, first, duration, timezone) if first is not None else None


def _last_start(schedule: str, zone: ZoneInfo, cursor: dt.datetime, at: dt.datetime) -> dt.datetime | None:
    """The latest start at or before `at`, walking back from the wall-clock time `cursor`."""
    while (wall := previous_start(schedule, cursor)) is not None:
        start = local_instant(wall, zone).astimezone(UTC)
        if start <= at:
            return start
        cursor = wall
    return None


def _first_start_after(schedule: str, zone: ZoneInfo, cursor: dt.datetime, at: dt.datetime) -> dt.datetime | None:
    """The earliest start after `at`, walking forward from the wall-clock time `cursor`."""
    while (wall := next_start(schedule, cursor)) is not None:
        start = local_instant(wall, zone).astimezone(UTC)
        if start > at:
            return start
        cursor = wall
    return None


def _utc(name: str, start: dt.datetime, duration: dt.timedelta, timezone: str) -> Opening:
    begin = start.astimezone(UTC)
    return Opening(name, begin, begin + duration, timezone)  # UTC arithmetic: elapsed time


def local_instant(wall: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The instant a wall-clock time names in `zone` (the DST rule of the module docstring).

    The first of two in a repeated hour (fold 0); for a time the clocks skip, the instant they jump.
    """
    first = wall.replace(tzinfo=zone, fold=0)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall:
        return first
    return _gap_end(wall, zone)


def _gap_end(wall: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The instant the clocks jump over `wall` (it lies in a gap): found by bisection over whole seconds.

    The two folds of a skipped time map to instants on either side of the jump (one with the
    offset before it, one with the offset after), and zones change offsets on whole seconds.
    """
    low, high = sorted(wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))
    after = high.astimezone(zone).utcoffset()
    steps_low, steps_high = 0, int((high - low).total_seconds())  # offset(low) != after, offset(high) == after
    while steps_high - steps_low > 1:
        middle = (steps_low + steps_high) // 2
        if (low + dt.timedelta(seconds=middle)).astimezone(zone).utcoffset() == after:
            steps_high = middle
        else:
            steps_low = middle
    return (low + dt.timedelta(seconds=steps_high)).astimezone(zone)
