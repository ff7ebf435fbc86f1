"""The clock: the one place that asks what time it is, or waits.

Where it sits: everything outside the core that needs the time (plans, observation, the store,
the driver's retries and reboot waits, the daemon's loop) is handed a `Clock` and asks it; the
core takes `now` as an argument and never reads a clock itself. `SystemClock` is the real one:
`RECONCILER_NOW` (an ISO 8601 time, e.g. `2026-11-21T10:00:00+01:00`) pins its `now()`, for tests
and to ask "what would validation say on that day" in CI; `monotonic()` and `sleep()` stay real.
`VirtualClock` is for fast tests: its sleeps return at once and move its time forward, so retries,
backoff and the daemon's cycle run in microseconds and their waits can be read back (`slept`).
The simulator keeps its own clock: it is the routers' side.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from typing import Protocol

from reconciler.errors import UsageError

ENVIRONMENT = "RECONCILER_NOW"


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, aware (UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back: for deadlines and durations."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait this long (or, on a virtual clock, move time forward by it)."""
        ...


class SystemClock:
    """The machine's clock; `RECONCILER_NOW` pins `now()`."""

    def now(self) -> dt.datetime:
        pinned = os.environ.get(ENVIRONMENT)
        if not pinned:
            return dt.datetime.now(dt.UTC)
        return parse_time(pinned, ENVIRONMENT)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class VirtualClock:
    """A clock for tests: starts at `start`; `sleep` yields once and moves time forward instead of waiting.

    Concurrent sleepers each move it to the end of their own wait (never back), as if they had slept
    side by side. `slept` lists every wait asked for, in order.
    """

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._start = start or dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        self._elapsed = 0.0
        self.slept: list[float] = []

    def now(self) -> dt.datetime:
        return self._start + dt.timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._elapsed

    def advance(self, seconds: float) -> None:
        self._elapsed += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        wake = self._elapsed + max(0.0, seconds)
        self.slept.append(seconds)
        await asyncio.sleep(0)
        self._elapsed = max(self._elapsed, wake)


SYSTEM = SystemClock()


async def sleep_or_wake(clock: Clock, seconds: float, *events: asyncio.Event) -> None:
    """Wait `seconds` on the clock, or until one of the events is set, whichever comes first."""
    waiters: list[asyncio.Future[object]] = [asyncio.ensure_future(event.wait()) for event in events]
    waiters.append(asyncio.ensure_future(clock.sleep(seconds)))
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def now() -> dt.datetime:
    """The system clock's now (for the commands' entry points; pass a `Clock` further in)."""
    return SYSTEM.now()


def parse_time(text: str, what: str) -> dt.datetime:
    """An ISO date or time; a date means its midnight, a time without a zone means UTC."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{what}: expected an ISO date or time such as 2026-11-21 or 2026-11-21T10:00:00+01:00, "
                         f"not {text!r}") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
