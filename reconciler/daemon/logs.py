"""The daemon's logs: JSON lines (one object per event) or, on a terminal, readable lines.

Where it sits: `service` calls `setup` once; every module logs through the standard `logging`
module, passing `extra={"revision": ..., "device": ...}` for context. Known secret values (the
webhook secret, the credentials file's passwords) are registered with `redact` and replaced by
`***` in every line, as a last line of defence: no code path is meant to log them at all.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any, TextIO

CONTEXT = ("revision", "device", "token", "method", "path", "status")
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


def setup(style: str = "auto", stream: TextIO | None = None, level: int = logging.INFO) -> None:
    """Log to `stream` (stderr) as JSON lines, or as text on a terminal (`style` auto)."""
    stream = stream or sys.stderr
    text = style == "text" or (style == "auto" and stream.isatty())
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter() if text else JsonFormatter())
    root = logging.getLogger("reconciler")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
