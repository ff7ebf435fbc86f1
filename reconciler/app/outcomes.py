"""Outcomes: what a command hands back (its output, an exit code, notes for stderr), and the shared ways
to build one (JSON output, a list of problems).

Where it sits: every command function in `app` returns an `Outcome`; `cli` prints it and exits
with its code; the daemon's token commands use it too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson

from reconciler.core.plans import Plan
from reconciler.core.presenting import data, markdown, text
from reconciler.core.problems import Problem

OK, FAILED, CHANGES = 0, 1, 2
ROLLOUT_WAITING = 3  # apply: a staged rollout waits for a window, an approval or an operator (it stays in the store)
T = TypeVar("T")


@dataclass(frozen=True)
class Outcome:
    """What a command hands back: its output, an exit code, and notes for stderr."""

    output: str
    exit_code: int = OK
    notes: Sequence[str] = field(default_factory=tuple)


def as_json(value: Any) -> str:
    """Indented JSON with a final newline: how every command prints `--format json`."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n"


def problems_outcome(problems: Sequence[Problem], label: str, fmt: str) -> Outcome:
    """A failed command's problems in the requested format (text goes to stderr as notes)."""
    if fmt == "json":
        return Outcome(as_json(data.problems_data(problems, label)), FAILED)
    if fmt == "markdown":
        return Outcome(markdown.problems_markdown(problems, label), FAILED)
    lines = text.problems_text(problems)
    return Outcome("", FAILED, [*lines, text.problems_summary(problems, label, None)])


def presented(fmt: str, result: T, as_data: Callable[[T], Any], as_markdown: Callable[[T], str],
              as_text: Callable[[T], str]) -> str:
    """A diff or plan in the requested format: json, markdown, or text (anything else)."""
    if fmt == "json":
        return as_json(as_data(result))
    if fmt == "markdown":
        return as_markdown(result)
    return as_text(result)


def present_plan(fmt: str, result: Plan) -> str:
    """A plan in the requested format (offline and live plans print the same way)."""
    return presented(fmt, result, data.plan_data, markdown.plan_markdown, text.plan_text)
