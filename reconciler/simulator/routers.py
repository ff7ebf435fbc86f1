"""The state of every virtual router, and the simulator that holds them.

Where it sits: `server.py` looks a router up by serial in the `Simulator` for each request and
asks it whether it answers at all (`reachable`), then the API handlers (`api.py`, `updating.py`)
and the inspection endpoints (`inspection.py`) read and change its state here.

Built for 20,000 routers in one process: state lives in `__slots__` objects, empty collections
are `None`, and nothing runs on its own. A reboot or an offline period is an "unreachable until
<monotonic time>" compared with the clock on each request; tokens and uploads expire the same way,
and so does the confirm timer of `revert_seconds` (`settle`, called before every request is served).

Break rules (`rules.py`) are the process's (`Simulator.breaks`, from the behaviour and added at run
time) plus a router's own (`Router.breaks`); whether they hold is worked out from the running
configuration whenever it matters, never stored.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from reconciler.simulator.configuration import Configuration
from reconciler.simulator.credentials import stored_value, verify
from reconciler.simulator.fleet import Device
from reconciler.simulator.packets import Entry
from reconciler.simulator.profiles import Behaviour, Stream
from reconciler.simulator.rules import INTACT, Break, Breakage, breakage

TOKEN_SECONDS = 600.0
UPLOAD_SECONDS = 600.0
# A login storm or a client that never performs must not grow a router's memory without bound.
MAX_TOKENS = 32
MAX_UPLOADS = 4
MAX_BREAKS = 32  # run-time break rules per router, and (times 8) for the whole process
FACTORY_HTTPS_PORT = "443"
HOSTNAME_KEY = "administration.hostnames.hostname"
UPTIME_KEY = "status.system.uptime"
_USERS = "administration.users["


@dataclass(frozen=True)
class Factory:
    """What `reset` restores: the firmware and the admin password of a router fresh from the box."""

    firmware: str = "10.4"
    password: str = "admin"


class Upload:
    """An analyzed packet waiting for `upload/perform`."""

    __slots__ = ("entries", "expires", "profile")

    def __init__(self, entries: list[Entry], profile: str, expires: float) -> None:
        self.entries = entries
        self.profile = profile
        self.expires = expires


class Router:
    """One virtual router: identity, firmware, configurations, sessions and availability."""

    __slots__ = (
        "autoupdate_tag", "booted_at", "breaks", "busy_count", "checkpoint", "config", "down_until", "files",
        "firmware", "history", "model", "name", "offline_until", "pending_firmware", "profiles", "requests",
        "revert_at", "serial", "signal", "stream", "tokens", "uploads",
    )

    def __init__(self, device: Device, factory: Factory, now: float) -> None:
        self.serial = device.serial
        self.name = device.name
        self.model = device.model
        self.requests = 0
        self.history: list[str] = []  # every change made through the API, in order (tests: nothing twice)
        self.autoupdate_tag = ""  # the ETag (or Content-MD5) of the auto-update packet last installed
        self.stream: Stream | None = None
        self.reset(factory, now)

    def reset(self, factory: Factory, now: float) -> None:
        """Back to factory state: firmware, configuration, nothing stored, online, not busy."""
        self.firmware = factory.firmware
        self.pending_firmware: str | None = None
        self.config = factory_configuration(self.serial, factory.password)
        self.profiles: dict[str, Configuration] | None = None
        self.files: dict[str, dict[str, str]] | None = None
        self.tokens: dict[str, float] | None = None
        self.uploads: dict[str, Upload] | None = None
        self.booted_at = now
        self.down_until = 0.0
        self.offline_until = 0.0
        self.busy_count = 0
        self.breaks: list[Break] | None = None  # its own break rules (`_sim/break`)
        self.signal: int | None = None  # the RSSI set by `_sim/signal`; None: the one drawn for it
        self.checkpoint: Configuration | None = None  # what a running confirm timer goes back to
        self.revert_at = 0.0

    def online(self, now: float) -> bool:
        """Powered and up: neither taken offline nor rebooting."""
        return now >= self.offline_until and now >= self.down_until

    def management_cut(self) -> bool:
        """Whether its configuration switched off or moved the HTTPS management access."""
        values = self.config.values
        return values.get("services.https.active", "1") == "0" or values.get(
            "services.https.port", FACTORY_HTTPS_PORT
        ) != FACTORY_HTTPS_PORT

    def reachable(self, now: float) -> bool:
        """Whether the API answers at all (otherwise connections are dropped unanswered)."""
        return self.online(now) and not self.management_cut()

    def uptime(self, now: float) -> int:
        """Seconds since it last came up."""
        return max(0, int(now - self.booted_at))

    def values_now(self, now: float) -> dict[str, str]:
        """The running configuration with its status keys as of `now`."""
        return {**self.config.values, UPTIME_KEY: str(self.uptime(now))}

    def hostname(self) -> str:
        """The configured host name ('' if none)."""
        return self.config.values.get(HOSTNAME_KEY, "")

    def login(self, username: str, password: str, now: float) -> str | None:
        """A new bearer token if a configured user has this name and password, else None."""
        values = self.config.values
        for key, value in values.items():
            if key.startswith(_USERS) and key.endswith("].username") and value == username:
                stored = values.get(key.removesuffix("username") + "password", "")
                if verify(stored, password):
                    return self._new_token(now)
        return None

    def _new_token(self, now: float) -> str:
        tokens = {token: expiry for token, expiry in (self.tokens or {}).items() if expiry > now}
        while len(tokens) >= MAX_TOKENS:
            del tokens[next(iter(tokens))]
        token = secrets.token_urlsafe(24)
        tokens[token] = now + TOKEN_SECONDS
        self.tokens = tokens
        return token

    def authorized(self, token: str, now: float) -> bool:
        """Whether `token` is a live token of this router."""
        return self.tokens is not None and self.tokens.get(token, 0.0) > now

    def reboot(self, now: float, seconds: float) -> None:
        """Go down for `seconds`, then come up (with pending firmware); sessions and uploads die."""
        if self.pending_firmware is not None:
            self.firmware, self.pending_firmware = self.pending_firmware, None
        self.tokens = None
        self.uploads = None
        self.down_until = now + seconds
        self.booted_at = self.down_until

    def keep_upload(self, entries: list[Entry], profile: str, now: float) -> str:
        """Keep an analyzed packet for `upload/perform`; its identifier."""
        uploads = {key: upload for key, upload in (self.uploads or {}).items() if upload.expires > now}
        while len(uploads) >= MAX_UPLOADS:
            del uploads[next(iter(uploads))]
        identifier = secrets.token_hex(8)
        uploads[identifier] = Upload(entries, profile, now + UPLOAD_SECONDS)
        self.uploads = uploads
        return identifier

    def take_upload(self, identifier: str, now: float) -> Upload | None:
        """The live upload with this identifier, removed (a packet is performed once)."""
        upload = self.uploads.pop(identifier, None) if self.uploads else None
        return upload if upload is not None and upload.expires > now else None

    def stored_files(self, kind: str) -> list[str]:
        """Names of the files of a kind (Certificate, Lua Script, Container) stored on it."""
        return list((self.files or {}).get(kind, {}))


def factory_configuration(serial: str, password: str) -> Configuration:
    """The configuration of a router fresh from the box (its status keys are added when read)."""
    password_key = "administration.users[1].password"
    return Configuration({
        HOSTNAME_KEY: f"icom-{serial}",
        "administration.users[1].username": "admin",
        password_key: stored_value(serial, password_key, password),
        "administration.users[1].access_level": "admin",
        "services.https.active": "1",
        "services.https.port": FACTORY_HTTPS_PORT,
        "interfaces.net1.ip_address[1].ip_address": "192.168.1.1",
        "interfaces.net1.ip_address[1].netmask": "255.255.255.0",
    })


class Simulator:
    """All virtual routers of one process, their behaviour profile and the clock they share."""

    def __init__(
        self,
        devices: Iterable[Device],
        behaviour: Behaviour,
        *,
        seed: int = 1,
        factory: Factory | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.behaviour = behaviour
        self.seed = seed
        self.factory = factory or Factory()
        self.clock = clock
        self.breaks: list[Break] = list(behaviour.breaks)  # the process's break rules, for every router
        self.routers: dict[str, Router] = {}
        for device in devices:
            if not self.add(device):
                raise ValueError(f"serial {device.serial} appears twice")

    def add(self, device: Device) -> bool:
        """A router for a device the fleet gained while the simulator runs (factory state); False if known."""
        if device.serial in self.routers:
            return False
        router = Router(device, self.factory, self.clock())
        if self._starts_offline(device.serial):
            router.offline_until = math.inf
        self.routers[device.serial] = router
        return True

    def _starts_offline(self, serial: str) -> bool:
        share = self.behaviour.offline_share
        return share > 0 and Stream(self.seed, serial, "offline").random() < share

    def stream(self, router: Router) -> Stream:
        """The router's stream for API calls and reboots, made when first needed."""
        if router.stream is None:
            router.stream = Stream(self.seed, router.serial, "calls")
        return router.stream

    def rules(self, router: Router) -> Iterator[Break]:
        """The break rules a router is subject to: the process's for its model, then its own."""
        for rule in self.breaks:
            if rule.applies_to(router.model):
                yield rule
        yield from router.breaks or ()

    def breakage(self, router: Router, values: dict[str, str] | None = None) -> Breakage:
        """What the break rules take down on a router running `values` (default: what it runs)."""
        if not self.breaks and not router.breaks:
            return INTACT
        return breakage(self.rules(router), router.config.values if values is None else values)

    def reachable(self, router: Router) -> bool:
        """Whether the router's API answers: up, management not switched off, not cut off by a break rule."""
        return router.reachable(self.clock()) and not self.breakage(router).management_cut

    def replaced(self, router: Router, before: Configuration) -> None:
        """An API change replaced the running configuration `before`: start, or stop, the confirm timer."""
        seconds = self.behaviour.revert_seconds
        if seconds is None:
            return
        if not self.breakage(router).wan_down:
            router.checkpoint = None  # the WAN is up: the change is as good as confirmed
        elif router.checkpoint is None and not self.breakage(router, before.values).wan_down:
            router.checkpoint = before
            router.revert_at = self.clock() + seconds

    def settle(self, router: Router) -> None:
        """Run out the confirm timer: back to the checkpoint if it expired and the WAN is still down."""
        if router.checkpoint is None or self.clock() < router.revert_at:
            return
        checkpoint, router.checkpoint = router.checkpoint, None
        if self.breakage(router).wan_down:
            router.config = checkpoint
            router.history.append(f"reverted: WAN down {self.behaviour.revert_seconds:g} s after the change")

    def reboot(self, router: Router) -> None:
        """Reboot a router for the time its profile draws."""
        router.reboot(self.clock(), self.stream(router).reboot_seconds(self.behaviour))

    def reset(self, router: Router) -> None:
        """Back to factory state."""
        router.reset(self.factory, self.clock())

    def rejects(self, router: Router) -> Callable[[str], bool]:
        """The key test of the router's model."""
        return lambda key: self.behaviour.rejects(router.model, key)

    def hasher(self, router: Router) -> Callable[[str, str], str]:
        """How the router stores a value set for a key (credentials hashed)."""
        return lambda key, value: stored_value(router.serial, key, value)
