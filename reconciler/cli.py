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
from reconciler.app import entitlements, live, sessions
from reconciler.daemon import commands
from reconciler.errors import ReconcilerError, UsageError
from reconciler.simulator import command as simulator_command

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
    _add_observe(commands)
    _add_apply(commands)
    _add_audit(commands)
    _add_simulate(commands)
    _add_serve(commands)
    _add_token(commands)
    _add_licences(commands)
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
    command = commands.add_parser("plan", help="desired state against the routers (a snapshot, or --live)")
    _path(command)
    source = command.add_mutually_exclusive_group(required=True)
    source.add_argument("--observed", type=Path, metavar="FILE",
                        help="observed-state snapshot (format reconciler/observed-v1)")
    source.add_argument("--live", action="store_true", help="observe the routers now")
    command.add_argument("--rev", help="git revision (default: the working tree)")
    command.add_argument("--format", choices=FORMATS, default="text")
    command.add_argument("--out", type=Path, metavar="FILE", help="also save the plan as JSON (for `apply FILE`)")
    command.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when there are actions")
    _jobs(command)
    _live(command)


def _add_observe(commands: argparse._SubParsersAction[_Parser]) -> None:
    command = commands.add_parser("observe", help="snapshot of the routers' live state (what plan --observed reads)")
    _path(command)
    command.add_argument("--rev", help="git revision (default: the working tree)")
    command.add_argument("--out", type=Path, metavar="FILE", help="write the snapshot here (default: stdout)")
    _live(command)


def _add_apply(commands: argparse._SubParsersAction[_Parser]) -> None:
    command = commands.add_parser("apply", help="plan against the routers and apply; or apply a saved plan exactly")
    command.add_argument("target", nargs="?", default=".", type=Path, metavar="PATH|PLAN.json",
                         help="the fleet repository (default: .), or a plan saved with `plan --live --out`")
    command.add_argument("--rev", help="git revision (default: the working tree)")
    command.add_argument("--yes", action="store_true", help="do not ask before applying")
    _live(command)


def _add_audit(commands: argparse._SubParsersAction[_Parser]) -> None:
    command = commands.add_parser("audit", help="the audit log of the data directory; --verify checks its chain")
    command.add_argument("--verify", action="store_true", help="check every row's hash chain; exit 1 if broken")
    command.add_argument("--format", choices=("text", "json"), default="text")
    command.add_argument("--limit", type=int, metavar="N", help="only the newest N rows")
    command.add_argument("--reset-anchor", action="store_true",
                         help="after restoring the store from a backup on purpose: anchor it anew (audited)")
    command.add_argument("--reason", metavar="TEXT", help="why the anchor is reset (goes into the audit log)")
    command.add_argument("--data-dir", type=Path, default=sessions.DEFAULT_DATA_DIR, metavar="DIR")


def _add_simulate(commands: argparse._SubParsersAction[_Parser]) -> None:
    command = commands.add_parser("simulate", help="serve simulated icom OS routers on loopback (for demos, tests)")
    simulator_command.add_arguments(command)


def _add_serve(commands: argparse._SubParsersAction[_Parser]) -> None:
    command = commands.add_parser("serve", help="the daemon: follow a branch, reconcile, serve the API and metrics")
    command.add_argument("source", nargs="?", metavar="SOURCE",
                         help="a path inside a git work tree, a (bare) repository, or a URL git can fetch")
    command.add_argument("--branch", help="the branch to follow (default: main; for a work tree, its branch)")
    command.add_argument("--path", metavar="SUBDIR", help="the fleet's subdirectory in the repository")
    command.add_argument("--data-dir", type=Path, metavar="DIR", help="clone, store, audit log (default: .reconciler)")
    command.add_argument("--listen", metavar="HOST:PORT", help="the API's address (default: 127.0.0.1:8080)")
    command.add_argument("--poll", metavar="DURATION", help="how often to fetch the branch (default: 60s)")
    command.add_argument("--simulate", action="store_true", default=None,
                         help="simulate the fleet's routers in the daemon (demo, trying it out)")
    command.add_argument("--watch", action="store_true", default=None,
                         help="development: validate and plan every save of the local work tree")
    command.add_argument("--config", type=Path, metavar="FILE", help="reconciler.yaml (see docs/daemon.md)")
    command.add_argument("--log-format", choices=("auto", "json", "text"))
    group = command.add_argument_group("reaching the routers")
    group.add_argument("--simulator", metavar="URL", help="send router traffic to a `reconciler simulate` server")
    group.add_argument("--credentials", type=Path, metavar="FILE")
    group.add_argument("--secrets-key", type=Path, metavar="FILE")
    group.add_argument("--ca", type=Path, metavar="FILE")
    group.add_argument("--insecure", action="store_true", default=None)
    group.add_argument("--max-parallel", type=int, metavar="N")
    for hidden in ("--poll-interval", "--retry-backoff", "--simulator-reboot-seconds", "--shutdown-grace"):
        group.add_argument(hidden, type=float, help=argparse.SUPPRESS)  # tests, demo


def _add_token(commands: argparse._SubParsersAction[_Parser]) -> None:
    command = commands.add_parser("token", help="API tokens: create (shown once), list, revoke")
    actions = command.add_subparsers(dest="action", required=True, parser_class=_Parser)
    create = actions.add_parser("create", help="make a token and print it (the only time it is shown)")
    create.add_argument("--role", required=True, choices=("viewer", "operator", "admin"))
    create.add_argument("--name", help="what the audit log calls it (default: ROLE-xxxxxx)")
    listing = actions.add_parser("list", help="every token's name, role and state (never the secret)")
    revoke = actions.add_parser("revoke", help="revoke a token by name")
    revoke.add_argument("name")
    for sub in (create, listing, revoke):
        sub.add_argument("--data-dir", type=Path, default=sessions.DEFAULT_DATA_DIR, metavar="DIR")


def _add_licences(commands: argparse._SubParsersAction[_Parser]) -> None:
    command = commands.add_parser("licences", help="router-management licences on a date: capacity, API, expiry")
    _path(command)
    command.add_argument("--rev", help="git revision (default: the working tree)")
    command.add_argument("--at", metavar="DATE|DATETIME", help="judge on this day (default: now)")
    command.add_argument("--format", choices=FORMATS, default="text")
    costs = commands.add_parser("costs", help="PBX rentals in credits: balance, monthly consumption, run time (D1)")
    _path(costs)
    costs.add_argument("--rev", help="git revision (default: the working tree, history up to HEAD)")
    costs.add_argument("--at", metavar="DATETIME", help="the ledger at this time (default: now)")
    costs.add_argument("--month", metavar="YYYY-MM", help="also what that month consumed")
    costs.add_argument("--format", choices=("text", "json"), default="text")
    windows = commands.add_parser("windows", help="upcoming maintenance windows of the hosted platform (D2.6)")
    _path(windows)
    windows.add_argument("--rev", help="git revision (default: the working tree)")
    windows.add_argument("--from", dest="since", metavar="DATE|DATETIME", help="from (default: now)")
    windows.add_argument("--days", type=int, default=62, metavar="N", help="how far ahead (default: 62)")
    windows.add_argument("--device", metavar="NAME", help="also show each window in this device's time zone")
    windows.add_argument("--month", metavar="YYYY-MM", help="also each instance's availability that month (D2.8)")
    sla = commands.add_parser("sla", help="reaction, notification and escalation deadlines in business time")
    sla.add_argument("path", nargs="?", default=".", type=Path, metavar="PATH", help=argparse.SUPPRESS)
    sla.add_argument("--plan", required=True, choices=("basic", "gold", "platinum", "starter", "advanced",
                                                        "professional", "premium"))
    sla.add_argument("--priority", required=True, choices=("P1", "P2", "P3", "P4"))
    sla.add_argument("--opened", required=True, metavar="DATETIME", help="when the incident was opened (ISO 8601)")
    sla.add_argument("--region", default="europe", choices=("americas", "europe", "middle-east", "uae"),
                     help="business hours and holidays of the support region (D4.5; default: europe)")
    vendor = commands.add_parser("licence", help="licence files: make a signing key, sign a file (vendors, tests)")
    actions = vendor.add_subparsers(dest="action", required=True, parser_class=_Parser)
    keygen = actions.add_parser("keygen", help="a signing key pair: the private key into DIR, the public printed")
    keygen.add_argument("--out", type=Path, required=True, metavar="DIR")
    sign = actions.add_parser("sign", help="sign the `licence` mapping of FILE in place")
    sign.add_argument("file", type=Path, metavar="FILE")
    sign.add_argument("--key", type=Path, required=True, metavar="KEY", help="the private key from keygen")
    sign.add_argument("--name", help="the key's name in licences/licences.yaml (default: the key file's stem)")


_SERVE_OPTIONS = ("source", "branch", "path", "data_dir", "listen", "poll", "simulate", "simulator", "watch",
                  "log_format",
                  "credentials", "secrets_key", "ca", "insecure", "max_parallel", "poll_interval", "retry_backoff",
                  "simulator_reboot_seconds", "shutdown_grace")


def _live(command: argparse.ArgumentParser) -> None:
    group = command.add_argument_group("reaching the routers")
    group.add_argument("--simulator", metavar="URL", help="send each router's traffic to URL/d/<serial> "
                       "(a `reconciler simulate` server) instead of its address")
    group.add_argument("--data-dir", type=Path, default=sessions.DEFAULT_DATA_DIR, metavar="DIR",
                       help="where the store (journal, device state, audit log) lives (default: .reconciler)")
    group.add_argument("--credentials", type=Path, metavar="FILE",
                       help="operator-side credentials (YAML: default/groups/devices → username, password)")
    group.add_argument("--secrets-key", type=Path, metavar="FILE",
                       help="the fleet's private sealing key (also $RECONCILER_SECRETS_KEY_FILE)")
    group.add_argument("--ca", type=Path, metavar="FILE", help="verify routers' TLS against this CA (PEM) "
                       "instead of fleet.yaml management.ca")
    group.add_argument("--insecure", action="store_true", help="do not verify routers' TLS certificates")
    group.add_argument("--max-parallel", type=int, metavar="N",
                       help="routers talked to at once (default: fleet.yaml management.max_parallel, 20)")
    group.add_argument("--connect-timeout", type=float, metavar="SECONDS")
    group.add_argument("--read-timeout", type=float, metavar="SECONDS")
    group.add_argument("--poll-interval", type=float, metavar="SECONDS", help=argparse.SUPPRESS)  # tests, demo
    group.add_argument("--retry-backoff", type=float, metavar="SECONDS", help=argparse.SUPPRESS)  # tests


def _live_options(args: argparse.Namespace) -> sessions.LiveOptions:
    if args.max_parallel is not None and args.max_parallel < 1:
        raise UsageError("--max-parallel must be at least 1")
    return sessions.LiveOptions(args.simulator, args.data_dir, args.credentials, args.secrets_key, args.ca,
                            args.insecure, args.max_parallel, args.connect_timeout, args.read_timeout,
                            args.poll_interval, args.retry_backoff)


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
    if args.command == "plan" and args.live:
        return live.plan_live(args.path, args.rev, args.format, args.out, args.detailed_exitcode,
                              _live_options(args), jobs=args.jobs)
    if args.command == "plan":
        return app.plan(args.path, args.observed, args.rev, args.format, args.out, args.detailed_exitcode,
                        jobs=args.jobs)
    return _other(args)


def _other(args: argparse.Namespace) -> app.Outcome:
    commands_by_name = {
        "observe": lambda: live.observe(args.path, args.rev, args.out, _live_options(args)),
        "apply": lambda: live.apply(args.target, args.rev, args.yes, _live_options(args)),
        "audit": lambda: live.audit(args.data_dir, args.verify, args.format, args.limit,
                                    (args.reason or "") if args.reset_anchor else None),
        "simulate": lambda: app.Outcome("", simulator_command.run(args)),
        "schema": lambda: app.schema(args.out),
        "serve": lambda: commands.serve_command(args.config, {key: getattr(args, key) for key in _SERVE_OPTIONS}),
        "token": lambda: _token(args),
        "licences": lambda: entitlements.licences(args.path, args.rev, args.at, args.format),
        "costs": lambda: entitlements.costs(args.path, args.rev, args.at, args.month, args.format),
        "windows": lambda: entitlements.windows(args.path, args.rev, args.since, args.days, args.device, args.month),
        "sla": lambda: entitlements.sla(args.plan, args.priority, args.opened, args.region),
        "licence": lambda: (entitlements.licence_keygen(args.out) if args.action == "keygen"
                            else entitlements.licence_sign(args.file, args.key, args.name)),
    }
    chosen = commands_by_name.get(args.command)
    return chosen() if chosen is not None else _secret(args)


def _token(args: argparse.Namespace) -> app.Outcome:
    if args.action == "create":
        return commands.token_create(args.data_dir, args.role, args.name)
    if args.action == "list":
        return commands.token_list(args.data_dir)
    return commands.token_revoke(args.data_dir, args.name)


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
