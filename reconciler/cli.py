"""The command line: `reconciler COMMAND ...` (console script) and `python -m reconciler`.

Where it sits: the outermost layer. It parses arguments, calls `app`, prints the outcome and maps
errors to exit codes (the tree in `errors.py`): 0 success, 1 invalid input or failure, 2 bad
arguments (and, with `--detailed-exitcode`, changes). Tracebacks only with `--debug`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from reconciler import __version__, app
from reconciler.errors import ReconcilerError, UsageError

FORMATS = ("text", "markdown", "json")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="reconciler", description="GitOps reconciliation for fleets of icom OS routers.")
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    _add_validate(commands)
    _add_render(commands)
    _add_diff(commands)
    _add_plan(commands)
    _add_schema(commands)
    _add_secret(commands)
    return parser


def _path(command: argparse.ArgumentParser) -> None:
    command.add_argument("path", nargs="?", default=".", type=Path, metavar="PATH",
                         help="the fleet repository root (default: .); may be a subdirectory of a git work tree")


def _add_validate(commands: argparse._SubParsersAction[_Parser]) -> None:
    command = commands.add_parser("validate", help="check the whole repository; print every problem")
    _path(command)
    command.add_argument("--rev", help="read the repository at this git revision (default: the working tree)")
    command.add_argument("--format", choices=("text", "json"), default="text")
    _jobs(command)


def _add_render(commands: argparse._SubParsersAction[_Parser]) -> None:
    command = commands.add_parser("render", help="print one device's desired state (secrets as ***)")
    command.add_argument("args", nargs="+", metavar="[PATH] DEVICE")
    command.add_argument("--rev", help="git revision (default: the working tree)")
    command.add_argument("--format", choices=("text", "json"), default="text")


def _add_diff(commands: argparse._SubParsersAction[_Parser]) -> None:
    command = commands.add_parser("diff", help="what changes per device between two revisions")
    _path(command)
    command.add_argument("--base", required=True, help="the base revision (e.g. origin/main)")
    command.add_argument("--head", help="the head revision (default: the working tree)")
    command.add_argument("--format", choices=FORMATS, default="text")
    command.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when devices change")
    command.add_argument("--full", action="store_true", help="re-render every device (default: only changed inputs)")
    _jobs(command)


def _add_plan(commands: argparse._SubParsersAction[_Parser]) -> None:
    command = commands.add_parser("plan", help="desired state against an observed-state snapshot")
    _path(command)
    command.add_argument("--observed", required=True, type=Path, metavar="FILE",
                         help="observed-state snapshot (format reconciler/observed-v1)")
    command.add_argument("--rev", help="git revision (default: the working tree)")
    command.add_argument("--format", choices=FORMATS, default="text")
    command.add_argument("--out", type=Path, metavar="FILE", help="also save the plan as JSON")
    command.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when there are actions")
    _jobs(command)


def _jobs(command: argparse.ArgumentParser) -> None:
    command.add_argument("--jobs", type=int, metavar="N",
                         help="processes for rendering large fleets "
                              "(default: one per core, at most 8; 1: no extra processes)")


def _add_schema(commands: argparse._SubParsersAction[_Parser]) -> None:
    command = commands.add_parser("schema", help="write the JSON Schemas of every file kind")
    command.add_argument("--out", type=Path, default=Path("schemas"), metavar="DIR")


def _add_secret(commands: argparse._SubParsersAction[_Parser]) -> None:
    command = commands.add_parser("secret", help="sealed secrets: make a key pair, seal a value")
    actions = command.add_subparsers(dest="action", required=True, parser_class=_Parser)
    keygen = actions.add_parser("keygen", help="print a new key pair (keep the private key off git)")
    keygen.add_argument("--out", type=Path, metavar="FILE", help="write the private key here (mode 600)")
    seal = actions.add_parser("seal", help="seal a value read from stdin for the fleet's sealing_key")
    seal.add_argument("name", help="the secret's name (as used in `!secret NAME`)")
    seal.add_argument("--fleet", type=Path, default=Path(), metavar="PATH", help="the fleet repository")


def run(argv: Sequence[str]) -> app.Outcome:
    args = build_parser().parse_args(argv)
    if args.command == "validate":
        return app.validate(args.path, args.rev, args.format, jobs=args.jobs)
    if args.command == "render":
        path, device = _render_args(args.args)
        return app.render(path, device, args.rev, args.format)
    if args.command == "diff":
        return app.diff(args.path, args.base, args.head, args.format, args.detailed_exitcode, not args.full,
                        jobs=args.jobs)
    if args.command == "plan":
        return app.plan(args.path, args.observed, args.rev, args.format, args.out, args.detailed_exitcode,
                        jobs=args.jobs)
    if args.command == "schema":
        return app.schema(args.out)
    return _secret(args)


def _render_args(values: Sequence[str]) -> tuple[Path, str]:
    if len(values) == 1:
        return Path(), values[0]
    if len(values) == 2:
        return Path(values[0]), values[1]
    raise UsageError("reconciler render: expected [PATH] DEVICE")


def _secret(args: argparse.Namespace) -> app.Outcome:
    if args.action == "keygen":
        return app.secret_keygen(args.out)
    return app.secret_seal(args.fleet, args.name, sys.stdin.read())


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in arguments
    try:
        outcome = run(arguments)
    except ReconcilerError as exc:
        if debug:
            raise
        print(f"reconciler: error: {exc}", file=sys.stderr)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
