"""`reconciler simulate`: the command line of the router simulator.

Where it sits: the project's CLI adds a `simulate` subcommand with `add_arguments` and calls `run`
with the parsed arguments (`python -m reconciler.simulator` does the same on its own). `run` reads
the devices (`fleet.py`), builds the behaviour profile (`profiles.py`), starts the server
(`server.start`), prints one line when it is ready and serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from reconciler.simulator.fleet import Device, FleetError, generated_devices, read_devices
from reconciler.simulator.profiles import PROFILES, Behaviour, Rejection, behaviour
from reconciler.simulator.routers import Factory
from reconciler.simulator.rules import Break
from reconciler.simulator.server import start

NO_REJECTIONS = "none"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the simulator's options to `parser`."""
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--fleet", type=Path, metavar="PATH", help="simulate the devices of this fleet repository")
    which.add_argument("--devices", type=int, metavar="N", help="simulate N generated routers (serials 30000000+)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9443, help="port to listen on, 0 for any free one (default: 9443)")
    parser.add_argument("--profile", choices=PROFILES, default="realistic", help="behaviour (default: realistic)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the profile's randomness (default: 1)")
    knobs = parser.add_argument_group("profile knobs (override the profile)")
    knobs.add_argument("--latency-ms", type=float, metavar="MEDIAN", help="median latency per API call")
    knobs.add_argument("--offline-share", type=float, metavar="F", help="share of routers offline at start (0-1)")
    knobs.add_argument("--busy-share", type=float, metavar="F", help="share of API calls answering 503 (0-1)")
    knobs.add_argument("--reboot-seconds", type=float, metavar="S", help="how long a reboot takes")
    knobs.add_argument(
        "--reject", action="append", metavar="MODEL=KEYGLOB",
        help=f"a model refuses keys matching the glob (repeatable; replaces the profile's; '{NO_REJECTIONS}': none)",
    )
    breaking = parser.add_argument_group("breaking routers (no profile does; see docs/router-api.md)")
    breaking.add_argument(
        "--break", dest="breaks", action="append", default=[], metavar="MODEL=KEY=VALUE",
        help="a router of MODEL ('*': any) whose running configuration sets KEY to VALUE (globs: '*' is any text) "
             "has its WAN and VPN down until its configuration no longer does (repeatable)",
    )
    breaking.add_argument("--break-vpn", dest="vpn_breaks", action="append", default=[], metavar="MODEL=KEY=VALUE",
                          help="the same, but only the VPN goes down (repeatable)")
    breaking.add_argument("--break-cuts-management", action="store_true",
                          help="a router these rules break stops answering its API too (default: it still answers, "
                               "so it can be reverted)")
    breaking.add_argument("--revert-seconds", type=float, metavar="S",
                          help="a router whose WAN a configuration change took down goes back to the configuration "
                               "before it after S seconds if the WAN is still down (default: never)")
    factory = parser.add_argument_group("factory state")
    factory.add_argument("--factory-firmware", default="10.4", help="firmware of a fresh router (default: 10.4)")
    factory.add_argument("--factory-password", default="admin", help="admin password of a fresh router")
    parser.add_argument("--tls", type=Path, metavar="DIR",
                        help="serve HTTPS with a CA and certificate kept in DIR (made if missing: ca.pem, ...)")


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; 0 then, 2 for bad options, 1 if the server cannot start."""
    try:
        devices = _devices(args)
        chosen = behaviour_of(args)
    except (FleetError, ValueError) as error:
        print(f"reconciler simulate: {error}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(args, devices, chosen))
    except OSError as error:
        print(f"reconciler simulate: cannot serve on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    return 0


def _devices(args: argparse.Namespace) -> list[Device]:
    if args.fleet is not None:
        return read_devices(args.fleet)
    if args.devices < 1:
        raise ValueError("--devices needs at least 1")
    return generated_devices(args.devices)


def behaviour_of(args: argparse.Namespace) -> Behaviour:
    """The behaviour the options ask for: the profile, its knobs, the break rules; raises ValueError."""
    rejections = None
    if args.reject is not None:
        rejections = tuple(Rejection.parse(text) for text in args.reject if text != NO_REJECTIONS)
    return behaviour(
        args.profile,
        latency_ms=args.latency_ms,
        offline_share=args.offline_share,
        busy_share=args.busy_share,
        reboot_seconds=args.reboot_seconds,
        rejections=rejections,
        breaks=_breaks(args),
        revert_seconds=args.revert_seconds,
    )


def _breaks(args: argparse.Namespace) -> tuple[Break, ...]:
    cut = args.break_cuts_management
    return (*(Break.parse(text, cuts_management=cut) for text in args.breaks),
            *(Break.parse(text, vpn_only=True, cuts_management=cut) for text in args.vpn_breaks))


async def _serve(args: argparse.Namespace, devices: list[Device], chosen: Behaviour) -> None:
    factory = Factory(firmware=args.factory_firmware, password=args.factory_password)
    handle = await start(
        devices, behaviour=chosen, seed=args.seed, host=args.host, port=args.port, tls_dir=args.tls, factory=factory
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        print(
            f"simulating {len(devices)} routers at {handle.url}/d/<serial> (profile {chosen.name}, seed {args.seed})",
            flush=True,
        )
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await handle.close()
