"""Retrying: a call that may fail for a while (a busy router, a timeout) is tried again after a backoff.

Where it sits: the icom driver wraps each request in `with_retries`; what counts as worth retrying
is a `TemporaryError` (errors.py), which may say how long to wait (a router's Retry-After). The
waits go through the clock, so tests run them on a virtual one and read them back.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from reconciler.errors import TemporaryError
from reconciler.shell.clock import Clock

T = TypeVar("T")


@dataclass
class Backoff:
    """Exponential backoff: about `first` seconds, doubling per attempt up to `cap`, jittered ±50 %."""

    first: float = 0.5
    cap: float = 30.0
    jitter: random.Random = field(default_factory=random.Random)  # not cryptography: spreads retries apart

    def delay(self, attempt: int, hint: float | None = None) -> float:
        """The wait before retry number `attempt + 1`; a hint from the other side wins (capped)."""
        if hint is not None:
            return min(hint, self.cap)
        base = min(self.first * 2.0**attempt, self.cap)
        return base * self.jitter.uniform(0.5, 1.5)


async def with_retries(call: Callable[[], Awaitable[T]], attempts: int, backoff: Backoff, clock: Clock) -> T:
    """`call()`, tried up to `attempts` times while it raises `TemporaryError`; the last error is raised."""
    for attempt in range(attempts - 1):
        try:
            return await call()
        except TemporaryError as exc:
            await clock.sleep(backoff.delay(attempt, exc.delay))
    return await call()
