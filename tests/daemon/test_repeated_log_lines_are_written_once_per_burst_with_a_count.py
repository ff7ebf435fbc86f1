"""The daemon's log handler: a burst of the same warning or traceback is one line plus its count."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from reconciler.daemon import logs


class Clock:
    """A monotonic clock the test moves by hand (the handler's window is measured with it)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO, Clock, logs.BurstHandler]]:
    stream, clock = io.StringIO(), Clock()
    handler = logs.BurstHandler(stream, window=10.0, clock=clock)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("tests.bursts")
    logger.handlers[:], logger.propagate = [handler], False
    logger.setLevel(logging.DEBUG)
    yield logger, stream, clock, handler
    logger.handlers[:] = []


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def fail(logger: logging.Logger, peer: int) -> None:
    try:
        raise ConnectionResetError(f"peer {peer} reset the connection")
    except ConnectionResetError:
        logger.error("error handling a request from %s", f"127.0.0.1:{peer}", exc_info=True)


def test_a_thousand_identical_tracebacks_are_one_line_and_a_count(
        logged: tuple[logging.Logger, io.StringIO, Clock, logs.BurstHandler]) -> None:
    """The same traceback from the same call, 1,000 times within the window: the first, then 'repeated 999'."""
    logger, stream, clock, handler = logged
    for peer in range(1000):
        fail(logger, peer)
        clock.now += 0.005
    assert len(lines(stream)) == 1 and "Traceback" in str(lines(stream)[0]["error"])
    clock.now += 10
    handler.flush_bursts()
    first, summary = lines(stream)
    assert first["message"] == "error handling a request from 127.0.0.1:0"
    assert summary["repeated"] == 999 and summary["level"] == "error"
    assert summary["message"].startswith("error handling a request from 127.0.0.1:0 (repeated 999 more times in")
    assert "error" not in summary  # the count, not another traceback


def test_different_messages_and_a_new_burst_after_the_window_are_each_written(
        logged: tuple[logging.Logger, io.StringIO, Clock, logs.BurstHandler]) -> None:
    """Warnings with different text are all written; info is never held back; the same error after the window
    starts a new burst, and the count of the one before comes first."""
    logger, stream, clock, handler = logged
    for device in ("ber-r01", "ber-r02", "nwk-r01"):
        logger.warning("drift on %s", device)
    for _ in range(3):
        logger.info("cycle done")
    fail(logger, 1)
    fail(logger, 2)
    clock.now += 11
    fail(logger, 3)
    messages = [entry["message"] for entry in lines(stream)]
    assert messages[:6] == ["drift on ber-r01", "drift on ber-r02", "drift on nwk-r01", "cycle done", "cycle done",
                            "cycle done"]
    assert messages[6] == "error handling a request from 127.0.0.1:1"
    assert messages[7].startswith("error handling a request from 127.0.0.1:1 (repeated 1 more times")
    assert messages[8] == "error handling a request from 127.0.0.1:3"
    handler.flush_bursts(everything=True)
    assert len(lines(stream)) == 9  # the new burst had no repeats: nothing to add
