"""What each command does on the command line: parsed arguments in, the application's `Outcome` out.

Where it sits: `reconciler.cli` picks the function here by the command's name. Each function
imports the application module it calls (`app`, `app.live`, `app.entitlements`, `daemon`, the
simulator) when it runs, not when the command line starts: those bring pydantic, Jinja2, aiohttp
and GitPython, most of a second that `--help` or a usage error should not wait for.
"""

# ruff: noqa: PLC0415 - the imports inside the functions are the point of this module (see above)

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.cli.arguments import SERVE_KEYS, ArgumentError
from reconciler.options import BY_KEY

if TYPE_CHECKING:
    from reconciler.app import Outcome
    from reconciler.app.sessions import LiveOptions


def validate(args: argparse.Namespace) -> Outcome:
    from reconciler import app

    return app.validate(args.path, args.rev, args.format, jobs=args.jobs)


def render(args: argparse.Namespace) -> Outcome:
    from reconciler import app

    values = args.args
    if len(values) > 2:
        raise ArgumentError("expected [PATH] DEVICE (see `reconciler render --help`)", "reconciler render")
    path, device = (Path(), values[0]) if len(values) == 1 else (Path(values[0]), values[1])
    return app.render(path, device, args.rev, args.format)


def diff(args: argparse.Namespace) -> Outcome:
    from reconciler import app

    return app.diff(args.path, args.base, args.head, args.format, args.detailed_exitcode, not args.full,
                    jobs=args.jobs)


def plan(args: argparse.Namespace) -> Outcome:
    if args.live:
        from reconciler.app import live

        return live.plan_live(args.path, args.rev, args.format, args.out, args.detailed_exitcode,
                              _live_options(args), jobs=args.jobs)
    from reconciler import app

    return app.plan(args.path, args.observed, args.rev, args.format, args.out, args.detailed_exitcode,
                    jobs=args.jobs)


def observe(args: argparse.Namespace) -> Outcome:
    from reconciler.app import live

    return live.observe(args.path, args.rev, args.out, _live_options(args))


def apply(args: argparse.Namespace) -> Outcome:
    import datetime as dt

    from reconciler.app import live

    wait = dt.timedelta(seconds=args.wait) if args.wait else None
    steering = live.Steering(args.approve, args.ignore_windows, wait)
    return live.apply(args.target, args.rev, args.yes, _live_options(args), steering=steering)


def rollout(args: argparse.Namespace) -> Outcome:
    from reconciler.app import live

    return live.rollout(_live_options(args).data_dir, args.action, args.id, getattr(args, "format", "text"))


def _live_options(args: argparse.Namespace) -> LiveOptions:
    """The options on the command line over the environment's over the settings file's; the file's keys only
    `serve` reads are left alone."""
    from reconciler.app import settings
    from reconciler.daemon.config import DAEMON_KEYS

    return settings.live_options(_given(args), args.config, os.environ, DAEMON_KEYS)


def _given(args: argparse.Namespace) -> dict[str, object]:
    """The shared options this command takes, by key (None: not given)."""
    return {key: getattr(args, key) for key in BY_KEY if hasattr(args, key)}


def audit(args: argparse.Namespace) -> Outcome:
    from reconciler.app import live

    return live.audit(_live_options(args).data_dir, args.verify, args.format, args.limit,
                      (args.reason or "") if args.reset_anchor else None)


def serve(args: argparse.Namespace) -> Outcome:
    from reconciler.daemon import commands

    return commands.serve_command(args.config, {**{key: getattr(args, key) for key in SERVE_KEYS}, **_given(args)})


def token(args: argparse.Namespace) -> Outcome:
    from reconciler.daemon import commands

    data_dir = _live_options(args).data_dir
    if args.action == "create":
        return commands.token_create(data_dir, args.role, args.name)
    if args.action == "list":
        return commands.token_list(data_dir)
    return commands.token_revoke(data_dir, args.name)


def licences(args: argparse.Namespace) -> Outcome:
    from reconciler.app import entitlements

    return entitlements.licences(args.path, args.rev, args.at, args.format)


def costs(args: argparse.Namespace) -> Outcome:
    from reconciler.app import entitlements

    return entitlements.costs(args.path, args.rev, args.at, args.month, args.format)


def windows(args: argparse.Namespace) -> Outcome:
    from reconciler.app import entitlements

    return entitlements.windows(args.path, args.rev, args.since, args.days, args.device, args.month)


def sla(args: argparse.Namespace) -> Outcome:
    from reconciler.app import entitlements

    return entitlements.sla(args.plan, args.priority, args.opened, args.region)


def licence(args: argparse.Namespace) -> Outcome:
    from reconciler.app import entitlements

    if args.action == "keygen":
        return entitlements.licence_keygen(args.out)
    return entitlements.licence_sign(args.file, args.key, args.name)


def schema(args: argparse.Namespace) -> Outcome:
    from reconciler import app

    return app.schema(args.out)


def secret(args: argparse.Namespace) -> Outcome:
    from reconciler import app

    if args.action == "keygen":
        return app.secret_keygen(args.out)
    return app.secret_seal(args.fleet, args.name, sys.stdin.read())


def simulate(args: argparse.Namespace) -> Outcome:
    from reconciler import app
    from reconciler.simulator import command as simulator

    return app.Outcome("", simulator.run(args))


