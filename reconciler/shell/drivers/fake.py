"""A fake driver: routers held in memory, for fast tests of everything above the driver.

Where it sits: beside `icom`, behind the same `Driver` protocol, in the spirit of httpx's
`MockTransport`: applying, the reconcile use case and the daemon's cycle run against it in-process
(with a `clock.VirtualClock`), while the end-to-end tests keep talking HTTP to the simulator. A
`FakeRouter` keeps what a router would: model, firmware, running configuration (as parsed keys),
installed packet files, status values; a test makes one busy, unreachable, refuse keys or break
(`FakeBreak`: while its configuration has a key set to a value, its WAN and VPN report down, as the
simulator's `--break` makes them), and reads back what was done to it (`calls`). Configuration
packets are unpacked and merged (or replaced) as icom OS would.
"""

from __future__ import annotations

import fnmatch
import io
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field

from reconciler.core.configs import parse_config
from reconciler.errors import BusyError, PermanentError, TemporaryError
from reconciler.shell.drivers import (
    FirmwareStep,
    LinkState,
    Reading,
    RouterHealth,
    StatusKey,
    StatusValue,
    Step,
    Target,
)

CONFIGURATION = "ASCII Configuration"


def _healthy() -> dict[StatusKey, StatusValue]:
    return {StatusKey.WAN_STATE: LinkState.UP, StatusKey.WAN_INTERFACE: "net2"}


@dataclass(frozen=True)
class FakeBreak:
    """A router whose configuration sets a key matching `key` to a value matching `value` (globs: `*` is any
    text, all else literal, brackets included) has its WAN and VPN down (only the VPN with `vpn_only`);
    with `cuts_management` it is unreachable too."""

    key: str
    value: str
    vpn_only: bool = False
    cuts_management: bool = False

    def holds(self, config: dict[str, str]) -> bool:
        return any(_glob(key, self.key) and _glob(value, self.value) for key, value in config.items())


def _glob(text: str, pattern: str) -> bool:
    # fnmatch with its `[` and `?` made literal: `*` is the one wildcard, as in the simulator's rules.
    return fnmatch.fnmatchcase(text, pattern.replace("[", "[[]").replace("?", "[?]"))


@dataclass
class FakeRouter:
    serial: str
    model: str
    firmware: str = "10.4"
    config: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # packet files installed, in order
    busy: int = 0  # the next this many calls answer busy (503)
    offline: bool = False
    refuse: tuple[str, ...] = ()  # key patterns a configuration may not set (a rejected key)
    calls: list[str] = field(default_factory=list)  # what was asked of it: "fetch", "firmware 10.6", "packet x"
    status: dict[StatusKey, StatusValue] = field(default_factory=_healthy)  # as reported while nothing is broken
    breaks: tuple[FakeBreak, ...] = ()

    def reading(self) -> Reading:
        text = "".join(f"{key}={value}\n" for key, value in sorted(self.config.items()))
        return Reading(self.serial, self.model, self.firmware, text)

    def holding(self) -> list[FakeBreak]:
        """The break rules its running configuration meets now."""
        return [rule for rule in self.breaks if rule.holds(self.config)]

    def health(self) -> RouterHealth:
        """`status`, with what the break rules that hold take down."""
        status = dict(self.status)
        holding = self.holding()
        if any(not rule.vpn_only for rule in holding):
            status[StatusKey.WAN_STATE] = LinkState.DOWN
        if holding and StatusKey.VPN_STATE in status:
            status[StatusKey.VPN_STATE] = LinkState.DOWN
            status[StatusKey.VPN_TUNNELS_UP] = 0
        return RouterHealth(self.serial, self.model, self.firmware, status)


class FakeDriver:
    """A `Driver` over `FakeRouter`s, keyed by serial; an unknown serial is unreachable."""

    def __init__(self, routers: Iterable[FakeRouter] = ()) -> None:
        self.routers = {router.serial: router for router in routers}

    def add(self, router: FakeRouter) -> FakeRouter:
        self.routers[router.serial] = router
        return router

    async def fetch(self, target: Target) -> Reading:
        router = self._reach(target, "fetch")
        return router.reading()

    async def apply(self, target: Target, step: Step) -> str:
        if isinstance(step, FirmwareStep):
            router = self._reach(target, f"firmware {step.version}")
            router.firmware = step.version
            return f"firmware {step.version} running after the reboot"
        router = self._reach(target, f"packet {step.name}")
        entries = _entries(step.data)
        for filename, filetype, data in entries:
            if filetype == CONFIGURATION:
                _configure(router, data.decode(), target, replace=step.activate)
            router.files.append(filename)
        return f"packet {step.name}: {len(entries)} entries {step.action}"

    async def health(self, target: Target) -> RouterHealth:
        return self._reach(target, "health").health()

    async def close(self) -> None:
        return None

    def _reach(self, target: Target, what: str) -> FakeRouter:
        router = self.routers.get(target.serial)
        if router is None or router.offline or any(rule.cuts_management for rule in router.holding()):
            raise TemporaryError("cannot connect: no route to the router", target.name)
        router.calls.append(what)
        if router.busy > 0:
            router.busy -= 1
            raise BusyError("busy (503): try again", target.name)
        return router


def _configure(router: FakeRouter, text: str, target: Target, replace: bool) -> None:
    parsed = parse_config(text)
    refused = [key for key in parsed.values for pattern in router.refuse if fnmatch.fnmatchcase(key, pattern)]
    if refused:
        raise PermanentError(f"packet configuration refused: entry 1: key {refused[0]} is not accepted", target.name)
    if replace:
        router.config = dict(parsed.values)
        return
    for owned in parsed.owned_lists:  # `.delete=all`: the list is what the configuration says
        router.config = {key: value for key, value in router.config.items() if not key.startswith(owned + "[")}
    router.config.update(parsed.values)


def _entries(data: bytes) -> list[tuple[str, str, bytes]]:
    """(file name, file type, content) of every entry, in MANIFEST order."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        members = {member.name: member for member in tar.getmembers()}
        manifest = _read(tar, members["MANIFEST"]).decode()
        sections: list[dict[str, str]] = []
        for line in manifest.splitlines():
            key, _, value = line.partition("=")
            if key == "FILENAME":
                sections.append({})
            sections[-1][key] = value
        return [(s["FILENAME"], s["FILETYPE"], _read(tar, members[s["FILENAME"]])) for s in sections]


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    stream = tar.extractfile(member)
    assert stream is not None
    return stream.read()
