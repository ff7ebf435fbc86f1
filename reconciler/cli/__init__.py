"""The command line: `reconciler COMMAND ...` (console script) and `python -m reconciler`.

Where it sits: the outermost layer, over `daemon` and `app`. `arguments` builds the parser (a help
text for every option), `handlers` runs the command given; here the process is looked after:
signals, printing the outcome, and mapping errors to exit codes (the tree in `errors.py`): 0
success, 1 invalid input or failure, 2 bad arguments (and, with `--detailed-exitcode`, changes),
130 interrupted (Ctrl-C or SIGTERM, at any moment). Tracebacks only with `--debug`.

It starts fast: nothing here or in `arguments` imports the application, which `handlers`
imports only for the command that runs.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from reconciler.cli import handlers
from reconciler.cli.arguments import ArgumentError, build_parser
from reconciler.errors import ReconcilerError

if TYPE_CHECKING:
    from reconciler.app import Outcome

__all__ = ["main", "run"]

HANDLERS: Mapping[str, Callable[[argparse.Namespace], Outcome]] = {
    "validate": handlers.validate, "render": handlers.render, "diff": handlers.diff, "plan": handlers.plan,
    "observe": handlers.observe, "apply": handlers.apply, "rollout": handlers.rollout, "audit": handlers.audit,
    "simulate": handlers.simulate,
    "serve": handlers.serve, "token": handlers.token, "licences": handlers.licences, "costs": handlers.costs,
    "windows": handlers.windows, "sla": handlers.sla, "licence": handlers.licence, "schema": handlers.schema,
    "secret": handlers.secret,
}


def run(argv: Sequence[str]) -> Outcome:
    """Parse the arguments and run the command: its outcome, or one of the errors of `errors.py`."""
    args = build_parser().parse_args(argv)
    return HANDLERS[args.command](args)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a command as Ctrl-C does (exit 130), from the first moment, not only once it applies.

    Python's default for SIGTERM is to die at once (exit 143) wherever the process is: loading the fleet,
    observing routers. Commands that must finish a step first (an apply's run, the daemon) install
    their own handlers over this one for as long as they need them.
    """
    try:
        previous = signal.signal(signal.SIGTERM, _as_interrupt)
    except ValueError:  # not the main thread (a test calling main from one): signals are not ours to set
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _reset_in_forked_child() -> None:
    # Worker processes forked while this handler is in place (rendering in parallel) stop on SIGTERM as
    # before: their pool ends them with it, and an interrupt there would print each worker's traceback.
    if signal.getsignal(signal.SIGTERM) is _as_interrupt:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


os.register_at_fork(after_in_child=_reset_in_forked_child)


def _as_interrupt(number: int, frame: object) -> None:
    """Whatever Ctrl-C would do now: `asyncio.run` cancels its task and then raises KeyboardInterrupt (a
    KeyboardInterrupt raised in the middle of its loop would leave a task with an unread exception)."""
    if callable(signal.getsignal(signal.SIGINT)):
        signal.raise_signal(signal.SIGINT)
    else:  # Ctrl-C is ignored here (started in the background): a stop is still a stop
        raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    with _sigterm_as_interrupt():
        return _main(arguments)


def _main(arguments: list[str]) -> int:
    debug = "--debug" in arguments
    try:
        outcome = run(arguments)
    except ReconcilerError as exc:
        if debug:
            raise
        prog = exc.prog if isinstance(exc, ArgumentError) else "reconciler"  # the (sub)command at fault
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("reconciler: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line (the traceback with --debug), and never exit code 2
        if debug:
            raise
        print(f"reconciler: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1
    sys.stdout.write(outcome.output)
    sys.stdout.flush()
    for note in outcome.notes:
        print(note, file=sys.stderr)
    return outcome.exit_code
