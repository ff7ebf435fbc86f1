"""The reconcile loop's supervisor: a loop that fails is restarted with backoff, and is never healthy while down.

Where it sits: `service` runs `supervise(reconciler.run…)` as the daemon's loop task; `api` answers
/healthz and /readyz from `LoopHealth`, and `metrics` exports it (restarts, up). Anything the loop
raises (a git subprocess that cannot start because descriptors ran out, a store error) is logged,
the loop waits `backoff` seconds (doubling up to `BACKOFF_CEILING`, back to `backoff` once a run
has lasted longer than the ceiling) and runs again; meanwhile the daemon reports itself unhealthy.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from reconciler.shell.clock import SYSTEM, Clock, sleep_or_wake

log = logging.getLogger("reconciler.daemon")
BACKOFF_CEILING = 60.0


@dataclass
class LoopHealth:
    """Whether the reconcile loop runs; why not, since when; how often it was restarted."""

    running: bool = False
    restarts: int = 0
    error: str | None = None  # the last failure, while the loop is down
    down_since: str | None = None

    def up(self) -> None:
        self.running, self.error, self.down_since = True, None, None

    def down(self, error: str, now: dt.datetime) -> None:
        self.running, self.error = False, error
        self.down_since = now.isoformat(timespec="seconds")


async def supervise(run: Callable[[], Awaitable[None]], stop: asyncio.Event, health: LoopHealth,
                    backoff: float = 1.0, clock: Clock = SYSTEM) -> None:
    """Run `run()` until `stop` is set, restarting it (after a growing wait) whenever it fails."""
    delay = backoff
    while not stop.is_set():
        health.up()
        started = clock.monotonic()
        failure: Exception | None = None
        try:
            await run()
            if stop.is_set():
                return
            error = "the reconcile loop returned without being asked to stop"
        except Exception as exc:  # anything: a dead loop must not pass for a live one
            failure, error = exc, f"{type(exc).__name__}: {exc}"
        if clock.monotonic() - started > BACKOFF_CEILING:
            delay = backoff  # it ran a good while: this is a new failure, not the same one again
        health.down(error, clock.now())
        log.error("the reconcile loop stopped (%s); restarting it in %.1fs", error, delay, exc_info=failure)
        await sleep_or_wake(clock, delay, stop)
        delay = min(delay * 2, BACKOFF_CEILING)
        if stop.is_set():
            return
        health.restarts += 1
        log.info("restarting the reconcile loop (restart %d)", health.restarts)

