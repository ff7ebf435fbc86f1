"""Retries: a temporary failure is retried with doubling, jittered waits; a hint wins; the last error escapes."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import pytest

from reconciler.errors import PermanentError, TemporaryError
from reconciler.shell.clock import VirtualClock
from reconciler.shell.retrying import Backoff, with_retries


def _failing(times: int, delay: float | None = None) -> tuple[list[int], Callable[[], Awaitable[str]]]:
    calls: list[int] = []

    async def call() -> str:
        calls.append(len(calls))
        if len(calls) <= times:
            raise TemporaryError("busy (503)", "r1", delay=delay)
        return "done"

    return calls, call


def test_a_busy_call_is_retried_with_doubling_waits_within_the_jitter() -> None:
    """Three busy answers, then success: waits of about 0.5, 1 and 2 s (±50 %), on the virtual clock."""
    clock = VirtualClock()
    calls, call = _failing(3)
    assert asyncio.run(with_retries(call, 5, Backoff(0.5, 30.0, random.Random(7)), clock)) == "done"
    assert len(calls) == 4
    assert len(clock.slept) == 3
    for wait, base in zip(clock.slept, (0.5, 1.0, 2.0), strict=True):
        assert base * 0.5 <= wait <= base * 1.5
    assert clock.monotonic() == pytest.approx(sum(clock.slept))


def test_the_waits_are_capped_and_a_hint_from_the_router_wins() -> None:
    """A Retry-After of 7 s is waited as such; the cap bounds both it and the doubling."""
    clock = VirtualClock()
    _, call = _failing(2, delay=7.0)
    asyncio.run(with_retries(call, 3, Backoff(0.5, 5.0), clock))
    assert clock.slept == [5.0, 5.0]
    backoff = Backoff(1.0, 4.0, random.Random(1))
    assert all(backoff.delay(attempt) <= 6.0 for attempt in range(20))  # 4 s cap, +50 % jitter at most


def test_after_the_last_attempt_the_temporary_error_escapes() -> None:
    """Retries are bounded: with 3 attempts, the third failure is raised and nothing more is waited."""
    clock = VirtualClock()
    calls, call = _failing(10)
    with pytest.raises(TemporaryError):
        asyncio.run(with_retries(call, 3, Backoff(), clock))
    assert len(calls) == 3 and len(clock.slept) == 2


def test_a_permanent_error_is_not_retried() -> None:
    """Retrying cannot fix a rejected key: raised at once, no wait."""
    clock = VirtualClock()

    async def call() -> str:
        raise PermanentError("key refused", "r1")

    with pytest.raises(PermanentError):
        asyncio.run(with_retries(call, 5, Backoff(), clock))
    assert clock.slept == []
