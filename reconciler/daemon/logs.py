"""The daemon's logs: JSON lines (one object per event) or, on a terminal, readable lines.

Where it sits: `service` calls `setup` once; every module logs through the standard `logging`
module, passing `extra={"revision": ..., "device": ...}` for context. Known secret values (the
webhook secret, the credentials file's passwords) are registered with `redact` and replaced by
`***` in every line, as a last line of defence: no code path is meant to log them at all.

A burst of the same warning or error (the same message, or the same traceback from the same place)
is written once: its repeats within `BURST_WINDOW` seconds are counted, and one more line says how
many there were (`repeated`), when the window has passed (`flush_bursts`, which `service` calls
periodically and at exit) or the message comes again after it. aiohttp's and asyncio's own
loggers go through the same handler, so a flood of failing connections cannot flood the log.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

CONTEXT = ("revision", "device", "token", "method", "path", "status", "repeated")
BURST_WINDOW = 60.0
MAX_BURSTS = 256  # distinct messages tracked at once; the oldest is summed up and forgotten beyond that
LIBRARIES = ("aiohttp", "asyncio")  # their warnings and errors go through the daemon's handler too
_secrets: set[str] = set()


def redact(*values: str | None) -> None:
    """Never print these values (at least 6 characters: shorter ones would mask ordinary words)."""
    _secrets.update(value for value in values if value and len(value) >= 6)


def _scrub(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": _scrub(record.getMessage()),
        }
        for key in CONTEXT:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value[:12] if key == "revision" and isinstance(value, str) else value
        if record.exc_info:
            entry["error"] = _scrub(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = dt.datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        context = " ".join(f"{key}={str(value)[:12] if key == 'revision' else value}" for key in CONTEXT
                           if (value := getattr(record, key, None)) is not None)
        line = f"{stamp} {record.levelname.lower():<7} {_scrub(record.getMessage())}"
        line += f"  [{context}]" if context else ""
        if record.exc_info:
            line += "\n" + _scrub(self.formatException(record.exc_info))
        return line


@dataclass
class _Burst:
    logger: str
    level: int
    first_line: str
    started: float
    repeats: int = 0


class BurstHandler(logging.StreamHandler):  # type: ignore[type-arg]  # generic only in typeshed
    """A stream handler that writes a burst of the same warning or error once, then its count."""

    def __init__(self, stream: TextIO, window: float = BURST_WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(stream)
        self.window = window
        self._clock = clock
        self._bursts: dict[tuple[Any, ...], _Burst] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.WARNING:
            super().emit(record)
            return
        key, now = _burst_key(record), self._clock()
        burst = self._bursts.get(key)
        if burst is not None and now - burst.started < self.window:
            burst.repeats += 1
            return
        if burst is not None:
            self._sum_up(self._bursts.pop(key), now)
        while len(self._bursts) >= MAX_BURSTS:
            self._sum_up(self._bursts.pop(next(iter(self._bursts))), now)
        first_line = (record.getMessage().splitlines() or [""])[0]
        self._bursts[key] = _Burst(record.name, record.levelno, first_line, now)
        super().emit(record)

    def flush_bursts(self, everything: bool = False) -> None:
        """Write the count of every burst whose window has passed (with `everything`: of every burst)."""
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            now = self._clock()
            for key, burst in list(self._bursts.items()):
                if everything or now - burst.started >= self.window:
                    self._sum_up(self._bursts.pop(key), now)

    def _sum_up(self, burst: _Burst, now: float) -> None:
        if not burst.repeats:
            return
        summary = logging.LogRecord(burst.logger, burst.level, __file__, 0, "%s (repeated %d more times in %.0fs)",
                                    (burst.first_line, burst.repeats, now - burst.started), None)
        summary.repeated = burst.repeats
        super().emit(summary)


def _burst_key(record: logging.LogRecord) -> tuple[Any, ...]:
    """The same message: a traceback of one type from one log call, or otherwise the same text."""
    if record.exc_info and record.exc_info[0] is not None:
        template = str(record.msg).splitlines()[0] if str(record.msg) else ""
        return record.name, record.levelno, record.pathname, record.lineno, template, record.exc_info[0].__name__
    return record.name, record.levelno, record.getMessage()


def flush_bursts(everything: bool = False) -> None:
    """Write the counts of finished bursts (`service` calls this periodically, and with `everything` at exit)."""
    for handler in logging.getLogger("reconciler").handlers:
        if isinstance(handler, BurstHandler):
            handler.flush_bursts(everything)


def setup(style: str = "auto", stream: TextIO | None = None, level: int = logging.INFO,
          window: float = BURST_WINDOW) -> None:
    """Log to `stream` (stderr) as JSON lines, or as text on a terminal (`style` auto)."""
    stream = stream or sys.stderr
    text = style == "text" or (style == "auto" and stream.isatty())
    handler = BurstHandler(stream, window)
    handler.setFormatter(TextFormatter() if text else JsonFormatter())
    for name, threshold in (("reconciler", level), *((library, logging.WARNING) for library in LIBRARIES)):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(threshold)
        logger.propagate = False
