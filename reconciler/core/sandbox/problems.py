"""`TemplateProblem`, what every failure of the sandbox becomes, and how a failure finds its place.

`templatesets` turns every exception of a compile or render into a `TemplateProblem`: the kind
("syntax", "render", "budget" for `BudgetExceeded`, "security" for what the sandbox refuses), a
message no longer than `_MAX_MESSAGE`, and the template and line it happened at, taken from the
innermost template frame of the traceback. The core's `building` and `rendering` turn it into
the project's own `Problem`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Final, Literal, TypeAlias

from jinja2.exceptions import SecurityError, TemplateError, TemplateNotFound, TemplateSyntaxError

from reconciler.core.sandbox.budgets import BudgetExceeded

ProblemKind: TypeAlias = Literal["syntax", "render", "budget", "security"]

_MAX_MESSAGE: Final = 500


class TemplateProblem(Exception):
    """A template that cannot be compiled or rendered, with where it went wrong.

    `template` is the template the error happened in (which may be a library file the rendered
    template imports), `line` is 1-based in that template, 0 when there is no position (the
    template itself does not exist, or the output bound was crossed after the last statement).
    """

    template: str
    line: int
    message: str
    kind: ProblemKind

    def __init__(self, template: str, line: int, message: str, kind: ProblemKind) -> None:
        super().__init__(template, line, message, kind)
        self.template = template
        self.line = line
        self.message = message
        self.kind = kind

    def __str__(self) -> str:
        where = f"{self.template}:{self.line}" if self.line else self.template
        return f"{where}: {self.message} ({self.kind})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TemplateProblem):
            return NotImplemented
        return self.args == other.args

    def __hash__(self) -> int:
        return hash(self.args)


def not_found(name: str) -> TemplateProblem:
    """The problem of a template name the set does not have, asked for directly (no position)."""
    return TemplateProblem(name, 0, f"template {name!r} not found", "render")


# What compiling a pathological template (hundreds of nested brackets or blocks) raises instead of a
# TemplateSyntaxError: Python's parser or compiler giving up.
COMPILE_ERRORS = (RecursionError, SyntaxError, MemoryError)


def compile_problem(error: BaseException, name: str) -> TemplateProblem:
    """The problem of a template too deeply nested or too large to compile."""
    # A SyntaxError's own position is in the generated Python code, not the template: leave it out.
    detail = _shortened(error.msg) if isinstance(error, SyntaxError) else type(error).__name__
    return TemplateProblem(name, 0, f"the template is too deeply nested or too large to compile ({detail})", "syntax")


def syntax_problem(error: TemplateSyntaxError, name: str) -> TemplateProblem:
    """The problem of a template that does not parse (`name` if the error does not say which)."""
    message = _shortened(error.message or str(error))
    return TemplateProblem(error.name or name, error.lineno, message, "syntax")


def render_problem(error: Exception, name: str, names: Mapping[str, str]) -> TemplateProblem:
    """The problem of a render of `name` that raised `error`; `names` are the templates of the set."""
    kind, message = _kind_and_message(error)
    template, line = _position(error, names) or (name, 0)
    return TemplateProblem(template, line, _shortened(message), kind)


def _position(error: BaseException, names: Mapping[str, str]) -> tuple[str, int] | None:
    """The innermost template frame of the (Jinja-rewritten) traceback: template name and line."""
    found = None
    frames: TracebackType | None = error.__traceback__
    while frames is not None:
        filename = frames.tb_frame.f_code.co_filename
        if filename in names:
            found = (filename, frames.tb_lineno)
        frames = frames.tb_next
    return found


def _kind_and_message(error: Exception) -> tuple[ProblemKind, str]:
    if isinstance(error, BudgetExceeded):
        return "budget", str(error)
    if isinstance(error, SecurityError):
        return "security", str(error)
    if isinstance(error, RecursionError):
        return "render", "recursion too deep (a macro, block or include that calls itself, or nesting too deep)"
    if type(error) is TemplateNotFound:
        return "render", f"template {error.name!r} not found"
    if isinstance(error, TemplateError):
        return "render", str(error)
    return "render", f"{type(error).__name__}: {error}"


def _shortened(message: str) -> str:
    # Messages can quote template values (a dict key, a string); they go into logs and PR comments.
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 1] + "…"
