"""The command line's arguments: one parser per command, with a help text for every option.

Where it sits: `reconciler.cli` builds the parser here, parses, and runs the command's function
from `handlers`. Building the parser imports nothing but `argparse` and the option table
(`reconciler.options`, from which the options reaching the routers are added to each command that
takes them, with `--config`), so `--help`, `--version` and usage errors answer at once; the
simulator's options, which live with the simulator and import its server (aiohttp), are added only
when `simulate` is the command (`Parser.populated`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from reconciler import __version__
from reconciler.errors import UsageError
from reconciler.options import CONFIG_VARIABLE, DATA_DIR, OPTIONS, Option, seconds

SHARED = """\
Each of these may also be set in the environment, as RECONCILER_ and the option's name in capitals
(RECONCILER_DATA_DIR), or in the --config file, by its name with _ for - (data_dir). The command
line wins, then the environment, then the file."""

EXAMPLES = """\
examples:
  reconciler validate .                             check the fleet repository here: every problem
  reconciler render . ber-plant-r01                 one router's configuration (secrets as ***)
  reconciler diff . --base origin/main              what a change does, per device (--format markdown
                                                    for a pull-request comment)
  reconciler plan . --observed observed.json        what applying would do to routers in that state
  reconciler simulate --fleet . --port 9443         simulated routers for the fleet, until Ctrl-C
  reconciler apply . --simulator http://127.0.0.1:9443
                                                    plan against those routers, ask, apply
  reconciler serve . --simulate                     the daemon: follow, reconcile, serve the API

`reconciler COMMAND --help` lists a command's options. Exit codes: 0 success, 1 invalid input or
failure, 2 usage error (with --detailed-exitcode: changes), 130 interrupted (Ctrl-C, SIGTERM).
"""


class ArgumentError(UsageError):
    """Bad arguments to one (sub)command: printed as `reconciler validate: error: ...`."""

    def __init__(self, message: str, prog: str) -> None:
        super().__init__(message)
        self.prog = prog


class Parser(argparse.ArgumentParser):
    """Raises instead of exiting, and adds its arguments only when it is the command given (`populate`)."""

    def __init__(self, *args: Any, populate: Callable[[argparse.ArgumentParser], None] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._populate = populate

    def populated(self) -> Parser:
        """This parser with every argument added (what `--help` and parsing see)."""
        if self._populate is not None:
            populate, self._populate = self._populate, None
            populate(self)
        return self

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        return super(Parser, self.populated()).parse_known_args(args, namespace)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ArgumentError(f"{message} (see `{self.prog} --help`)", self.prog)


Commands = argparse._SubParsersAction  # what `add_subparsers` returns (argparse names no public type)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="reconciler", description="GitOps reconciliation for fleets of icom OS routers.",
                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser,
                                     title="commands")
    for add in (_add_validate, _add_render, _add_diff, _add_plan, _add_observe, _add_apply, _add_rollout, _add_audit,
                _add_simulate, _add_serve, _add_token, _add_licences, _add_schema, _add_secret):
        add(commands)
    return parser


def every_parser(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """The parser and each (sub)command's, every argument added: what a check of the help texts walks."""
    yield parser
    for action in parser._actions:  # argparse keeps a parser's arguments only here
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from every_parser(sub.populated() if isinstance(sub, Parser) else sub)


# --- the commands' arguments -------------------------------------------------------------------------------


def _path(command: argparse.ArgumentParser) -> None:
    command.add_argument("path", nargs="?", default=".", type=Path, metavar="PATH",
                         help="the fleet repository root (default: .); may be a subdirectory of a git work tree")


def _rev(command: argparse.ArgumentParser, default: str = "the working tree") -> None:
    command.add_argument("--rev", help=f"read the repository at this git revision (default: {default})")


def _format(command: argparse.ArgumentParser, *choices: str) -> None:
    named = {"text": "lines for people", "markdown": "a pull-request comment", "json": "for programs"}
    command.add_argument("--format", choices=choices, default="text",
                         help="output: " + ", ".join(f"{c} ({named[c]})" for c in choices) + " (default: text)")


def _jobs(command: argparse.ArgumentParser) -> None:
    command.add_argument("--jobs", type=int, metavar="N",
                         help="processes for rendering large fleets "
                              "(default: one per core, at most 8; 1: no extra processes)")


def _options(command: argparse.ArgumentParser, *chosen: Option[Any]) -> None:
    """The options reaching the routers (or the `chosen` ones), from the table, and the file they can be in."""
    group = command.add_argument_group("reaching the routers" if not chosen else "the store", SHARED)
    for option in chosen or OPTIONS:
        shown = argparse.SUPPRESS if option.hidden else option.help
        if option.switch:  # None when not given, so that the environment or the file can say
            group.add_argument(option.flag, action="store_true", default=None, help=shown)
        else:
            group.add_argument(option.flag, type=_typed(option), metavar=option.metavar, help=shown)
    group.add_argument("--config", type=Path, metavar="FILE",
                       help=f"settings file (reconciler.yaml, the one `serve` reads; also ${CONFIG_VARIABLE}): "
                            "keys the command does not use are left alone")


def _typed(option: Option[Any]) -> Callable[[str], Any]:
    """The option's parser, its complaint as argparse's (`argument --max-parallel: expected ...`)."""
    def parse(text: str) -> Any:
        try:
            return option.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


def _add_validate(commands: Commands[Parser]) -> None:
    command = commands.add_parser("validate", help="check the whole repository; print every problem")
    _path(command)
    _rev(command)
    _format(command, "text", "json")
    _jobs(command)


def _add_render(commands: Commands[Parser]) -> None:
    command = commands.add_parser("render", help="print one device's desired state (secrets as ***)")
    command.add_argument("args", nargs="+", metavar="[PATH] DEVICE",
                         help="the fleet repository (default: .) and the device's name")
    _rev(command)
    _format(command, "text", "json")


def _add_diff(commands: Commands[Parser]) -> None:
    command = commands.add_parser("diff", help="what changes per device between two revisions")
    _path(command)
    command.add_argument("--base", required=True, help="the base revision (e.g. origin/main)")
    command.add_argument("--head", help="the head revision (default: the working tree)")
    _format(command, "text", "markdown", "json")
    command.add_argument("--detailed-exitcode", action="store_true",
                         help="exit 2 when devices change (0: no change, 1: error)")
    command.add_argument("--full", action="store_true", help="re-render every device (default: only changed inputs)")
    _jobs(command)


def _add_plan(commands: Commands[Parser]) -> None:
    command = commands.add_parser("plan", help="desired state against the routers (a snapshot, or --live)")
    _path(command)
    source = command.add_mutually_exclusive_group(required=True)
    source.add_argument("--observed", type=Path, metavar="FILE",
                        help="observed-state snapshot (format reconciler/observed-v1)")
    source.add_argument("--live", action="store_true", help="observe the routers now")
    _rev(command)
    _format(command, "text", "markdown", "json")
    command.add_argument("--out", type=Path, metavar="FILE", help="also save the plan as JSON (for `apply FILE`)")
    command.add_argument("--detailed-exitcode", action="store_true",
                         help="exit 2 when there are actions (0: in sync, 1: error)")
    _jobs(command)
    _options(command)


def _add_observe(commands: Commands[Parser]) -> None:
    command = commands.add_parser("observe", help="snapshot of the routers' live state (what plan --observed reads)")
    _path(command)
    _rev(command)
    command.add_argument("--out", type=Path, metavar="FILE", help="write the snapshot here (default: stdout)")
    _options(command)


def _add_apply(commands: Commands[Parser]) -> None:
    command = commands.add_parser("apply", help="plan against the routers and apply; or apply a saved plan exactly")
    command.add_argument("target", nargs="?", default=".", type=Path, metavar="PATH|PLAN.json",
                         help="the fleet repository (default: .), or a plan saved with `plan --live --out`")
    _rev(command)
    command.add_argument("--yes", action="store_true", help="do not ask before applying")
    staged = command.add_argument_group("a staged rollout (the fleet has rollouts.yaml)")
    staged.add_argument("--approve", action="store_true",
                        help="approve the rollout's approval gate (before the start or after the canary; audited)")
    staged.add_argument("--ignore-windows", action="store_true",
                        help="change devices outside their maintenance windows (an audited emergency override)")
    staged.add_argument("--wait", type=seconds, metavar="DURATION",
                        help="keep going this long (30m, 4h) while the rollout waits for a window or an approval, "
                        "instead of exiting with 3")
    _options(command)


def _add_audit(commands: Commands[Parser]) -> None:
    command = commands.add_parser("audit", help="the audit log of the data directory; --verify checks its chain")
    command.add_argument("--verify", action="store_true", help="check every row's hash chain; exit 1 if broken")
    _format(command, "text", "json")
    command.add_argument("--limit", type=int, metavar="N", help="only the newest N rows")
    command.add_argument("--reset-anchor", action="store_true",
                         help="after restoring the store from a backup on purpose: anchor it anew (audited)")
    command.add_argument("--reason", metavar="TEXT", help="why the anchor is reset (goes into the audit log)")
    _options(command, DATA_DIR)


def _add_simulate(commands: Commands[Parser]) -> None:
    commands.add_parser("simulate", help="serve simulated icom OS routers on loopback (for demos, tests)",
                        populate=_simulator_arguments)


def _simulator_arguments(command: argparse.ArgumentParser) -> None:
    from reconciler.simulator import command as simulator  # noqa: PLC0415 - its server imports aiohttp

    simulator.add_arguments(command)


# The arguments only `serve` has (keys of its configuration file too); it also takes every shared option.
SERVE_KEYS = ("source", "branch", "path", "listen", "poll", "simulate", "watch", "log_format",
              "simulator_reboot_seconds", "shutdown_grace")


def _add_serve(commands: Commands[Parser]) -> None:
    command = commands.add_parser("serve", help="the daemon: follow a branch, reconcile, serve the API and metrics")
    command.add_argument("source", nargs="?", metavar="SOURCE",
                         help="a path inside a git work tree, a (bare) repository, or a URL git can fetch")
    command.add_argument("--branch", help="the branch to follow (default: main; for a work tree, its branch)")
    command.add_argument("--path", metavar="SUBDIR", help="the fleet's subdirectory in the repository")
    command.add_argument("--listen", metavar="HOST:PORT", help="the API's address (default: 127.0.0.1:8080)")
    command.add_argument("--poll", metavar="DURATION", help="how often to fetch the branch (default: 60s)")
    command.add_argument("--simulate", action="store_true", default=None,
                         help="simulate the fleet's routers in the daemon (demo, trying it out)")
    command.add_argument("--watch", action="store_true", default=None,
                         help="development: validate and plan every save of the local work tree")
    command.add_argument("--log-format", choices=("auto", "json", "text"),
                         help="logs as JSON lines or text (default: auto: text on a terminal, JSON otherwise)")
    for hidden in ("--simulator-reboot-seconds", "--shutdown-grace"):
        command.add_argument(hidden, type=float, help=argparse.SUPPRESS)  # tests, demo
    _options(command)


def _add_rollout(commands: Commands[Parser]) -> None:
    command = commands.add_parser("rollout", help="staged rollouts: status, pause, resume, abort, retry-failed, "
                                  "approve")
    actions = _actions(command)
    helps = {
        "status": "the rollout's state, wave and devices by state (the active one, or --id)",
        "pause": "start no more devices until resumed (audited)",
        "resume": "run a paused or waiting rollout again at its wave, trying its failed devices again (audited)",
        "abort": "stop for good: devices not started stay as they are (audited)",
        "retry-failed": "put every failed or reverted device back to pending (audited)",
        "approve": "approve the start, or the waves after the canary (audited)",
    }
    for name, text in helps.items():
        sub = actions.add_parser(name, help=text)
        sub.add_argument("--id", type=int, metavar="N", help="the rollout (default: the active one)")
        if name == "status":
            _format(sub, "text", "json")
        _options(sub, DATA_DIR)


def _add_token(commands: Commands[Parser]) -> None:
    command = commands.add_parser("token", help="API tokens: create (shown once), list, revoke")
    actions = _actions(command)
    create = actions.add_parser("create", help="make a token and print it (the only time it is shown)")
    create.add_argument("--role", required=True, choices=("viewer", "operator", "admin"),
                        help="viewer reads; operator also syncs; admin also manages tokens")
    create.add_argument("--name", help="what the audit log calls it (default: ROLE-xxxxxx)")
    listing = actions.add_parser("list", help="every token's name, role and state (never the secret)")
    revoke = actions.add_parser("revoke", help="revoke a token by name")
    revoke.add_argument("name", help="the token's name (see `reconciler token list`)")
    for sub in (create, listing, revoke):
        _options(sub, DATA_DIR)


def _add_licences(commands: Commands[Parser]) -> None:
    command = commands.add_parser("licences", help="router-management licences on a date: capacity, API, expiry")
    _path(command)
    _rev(command)
    command.add_argument("--at", metavar="DATE|DATETIME", help="judge on this day (default: now)")
    _format(command, "text", "markdown", "json")
    costs = commands.add_parser("costs", help="PBX rentals in credits: balance, monthly consumption, run time")
    _path(costs)
    _rev(costs, "the working tree, history up to HEAD")
    costs.add_argument("--at", metavar="DATETIME", help="the ledger at this time (default: now)")
    costs.add_argument("--month", metavar="YYYY-MM", help="also what that month consumed")
    _format(costs, "text", "json")
    windows = commands.add_parser("windows", help="upcoming maintenance windows of the hosted platform")
    _path(windows)
    _rev(windows)
    windows.add_argument("--from", dest="since", metavar="DATE|DATETIME", help="from (default: now)")
    windows.add_argument("--days", type=int, default=62, metavar="N", help="how far ahead (default: 62)")
    windows.add_argument("--device", metavar="NAME", help="also show each window in this device's time zone")
    windows.add_argument("--month", metavar="YYYY-MM", help="also each instance's availability that month")
    _add_sla(commands)
    _add_licence(commands)


def _add_sla(commands: Commands[Parser]) -> None:
    sla = commands.add_parser("sla", help="reaction, notification and escalation deadlines in business time")
    sla.add_argument("path", nargs="?", default=".", type=Path, metavar="PATH", help=argparse.SUPPRESS)
    sla.add_argument("--plan", required=True, help="the support plan",
                     choices=("basic", "gold", "platinum", "starter", "advanced", "professional", "premium"))
    sla.add_argument("--priority", required=True, choices=("P1", "P2", "P3", "P4"),
                     help="the incident's priority (P1: the most urgent)")
    sla.add_argument("--opened", required=True, metavar="DATETIME", help="when the incident was opened (ISO 8601)")
    sla.add_argument("--region", default="europe", choices=("americas", "europe", "middle-east", "uae"),
                     help="business hours and holidays of the support region (default: europe)")


def _add_licence(commands: Commands[Parser]) -> None:
    vendor = commands.add_parser("licence", help="licence files: make a signing key, sign a file (vendors, tests)")
    actions = _actions(vendor)
    keygen = actions.add_parser("keygen", help="a signing key pair: the private key into DIR, the public printed")
    keygen.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the private key is written")
    sign = actions.add_parser("sign", help="sign the `licence` mapping of FILE in place")
    sign.add_argument("file", type=Path, metavar="FILE", help="the licence file to sign")
    sign.add_argument("--key", type=Path, required=True, metavar="KEY", help="the private key from keygen")
    sign.add_argument("--name", help="the key's name in licences/licences.yaml (default: the key file's stem)")


def _actions(command: argparse.ArgumentParser) -> Commands[Parser]:
    """The second word of a two-word command (`token create`, `secret seal`)."""
    return command.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=Parser,
                                  title="actions")


def _add_schema(commands: Commands[Parser]) -> None:
    command = commands.add_parser("schema", help="write the JSON Schemas of every file kind")
    command.add_argument("--out", type=Path, default=Path("schemas"), metavar="DIR",
                         help="where the *.schema.json files go (default: schemas)")


def _add_secret(commands: Commands[Parser]) -> None:
    command = commands.add_parser("secret", help="sealed secrets: make a key pair, seal a value")
    actions = _actions(command)
    keygen = actions.add_parser("keygen", help="print a new key pair (keep the private key off git)")
    keygen.add_argument("--out", type=Path, metavar="FILE", help="write the private key here (mode 600)")
    seal = actions.add_parser("seal", help="seal a value read from stdin for the fleet's sealing_key")
    seal.add_argument("name", help="the secret's name (as used in `!secret NAME`)")
    seal.add_argument("--fleet", type=Path, default=Path(), metavar="PATH", help="the fleet repository")


