"""Problems: what validation found, and where.

Every check in the core reports `Problem` values instead of raising, so a run can show all of
them at once. A problem is born with an `Origin` (file plus a path into the YAML document, e.g.
`("devices", 3, "fields", "vlan")`); line and column are looked up only for the problems that
exist (`loading.locate_problems`, one `documents.PositionIndex` per file), so the fast path never
pays for positions.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

PathElement = str | int
YamlPath = tuple[PathElement, ...]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where something was written: a file and, inside it, a YAML path or a known position."""

    file: str
    path: YamlPath = ()
    at_key: bool = False  # point at the mapping key itself (unknown keys) rather than its value
    line: int | None = None  # 1-based; set when known up front (syntax errors, template lines)
    col: int | None = None

    def child(self, *elements: PathElement) -> Origin:
        return Origin(self.file, self.path + elements)

    def key(self, name: str) -> Origin:
        return Origin(self.file, (*self.path, name), at_key=True)


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    message: str
    origin: Origin
    severity: Severity = Severity.ERROR
    device: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    @property
    def file(self) -> str:
        return self.origin.file

    @property
    def line(self) -> int:
        return self.origin.line or 1

    @property
    def col(self) -> int:
        return self.origin.col or 1

    def located(self, line: int, col: int) -> Problem:
        return replace(self, origin=replace(self.origin, line=line, col=col))

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "severity": str(self.severity),
            "code": self.code,
            "message": self.message,
            "device": self.device,
        }

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.severity}: {self.message} [{self.code}]"


def error(code: str, message: str, origin: Origin, device: str | None = None) -> Problem:
    return Problem(code, message, origin, Severity.ERROR, device)


def warning(code: str, message: str, origin: Origin, device: str | None = None) -> Problem:
    return Problem(code, message, origin, Severity.WARNING, device)


def has_errors(problems: list[Problem] | tuple[Problem, ...]) -> bool:
    return any(p.is_error for p in problems)


def closest(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate most like `word`, if one is close enough (difflib's similarity ratio >= `cutoff`)."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=cutoff)
    return matches[0] if matches else None


def did_you_mean(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str:
    """` (did you mean 'x'?)` naming the closest candidate, or "" when none is close: the tail of a message."""
    match = closest(word, candidates, cutoff)
    return f" (did you mean {match!r}?)" if match is not None else ""


def sort_key(problem: Problem) -> tuple[str, int, int, str]:
    return (problem.file, problem.line, problem.col, problem.code)


def collapse(problems: list[Problem] | tuple[Problem, ...], shown: int = 3) -> list[Problem]:
    """Merge problems that differ only in the device they name (a template bug hits every device).

    `device 'x': message` at the same place with the same code becomes one problem naming the
    first devices and how many more.
    """
    groups: dict[tuple[str, str, int, int, str], list[Problem]] = {}
    result: list[Problem] = []
    for problem in problems:
        prefix = f"device {problem.device!r}: "
        if problem.device is None or not problem.message.startswith(prefix):
            result.append(problem)
            continue
        key = (problem.code, problem.file, problem.line, problem.col, problem.message.removeprefix(prefix))
        groups.setdefault(key, []).append(problem)
    for (_, _, _, _, message), members in groups.items():
        first = members[0]
        if len(members) == 1:
            result.append(first)
            continue
        names = ", ".join(repr(p.device) for p in members[:shown])
        more = f" and {len(members) - shown} more" if len(members) > shown else ""
        result.append(replace(first, message=f"devices {names}{more}: {message}"))
    return result
