"""Stopping cleanly: what Ctrl-C (SIGINT) and SIGTERM do while a command writes what must stay whole.

Where it sits: `app.live` runs an apply under `stops_set` (a stop asks the routers in flight to
finish; the run is recorded to its end), `app.sessions` closes the runs a killed process left
open under `stops_deferred`. Elsewhere a stop raises KeyboardInterrupt (the command line makes
SIGTERM do what Ctrl-C does), which is clean as long as nothing is half-written.

Both install plain handlers and put back the ones before, rather than `loop.add_signal_handler`:
removing one of those resets SIGTERM to the default (terminate at once, exit 143), and a stop
that came just then would kill the process.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

STOPS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stops_set(stop: asyncio.Event) -> Iterator[None]:
    """Inside a running loop: while the block runs, SIGINT and SIGTERM set `stop` (on the loop's thread)."""
    loop = asyncio.get_running_loop()
    with _handled(lambda: loop.call_soon_threadsafe(stop.set)):
        yield


@contextmanager
def stops_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM during the block take effect after it, as KeyboardInterrupt: its writes stay whole."""
    received: list[bool] = []
    with _handled(lambda: received.append(True)):
        yield
    if received:
        raise KeyboardInterrupt


@contextmanager
def _handled(handle: Callable[[], object]) -> Iterator[None]:
    previous: dict[signal.Signals, Any] = {}
    try:
        for number in STOPS:
            previous[number] = signal.signal(number, lambda _number, _frame: handle())
    except ValueError:  # not the main thread: signals are not this command's to handle
        pass
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)
