"""Drivers: the one way in for routers. `Driver` fetches a router's state and applies one step.

Where it sits: `observing` fetches every device through a driver and hands the readings to the
core (`observed`); `applying` hands it the steps a plan calls for, one device at a time. The
`icom` driver speaks the icom OS REST API v2 (docs/router-api.md) over aiohttp; it reaches the
simulator the same way (`--simulator URL`). Errors are typed (`errors.TemporaryError`,
`errors.PermanentError`) and never carry a credential.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Target:
    """One router as the driver reaches it: where, and with which credentials (tried in order)."""

    name: str
    serial: str
    base_url: str  # https://10.20.0.11, or http://127.0.0.1:9443/d/<serial> for the simulator
    username: str
    passwords: tuple[str, ...] = field(repr=False)  # never printed
    # May the driver talk plain HTTP to it (credentials in clear)? Only the simulator on loopback, or a
    # fleet that set management.allow_plain_http (labs); otherwise the driver refuses before it sends anything.
    plain_http: bool = False


@dataclass(frozen=True, slots=True)
class Reading:
    """What a router reports: identity, firmware and its running configuration as ASCII text."""

    serial: str
    model: str
    firmware: str
    configuration: str


@dataclass(frozen=True, slots=True)
class FirmwareStep:
    version: str


@dataclass(frozen=True, slots=True)
class PacketStep:
    """Upload an update packet and perform every entry with `action`; a `profile` for "store"."""

    name: str
    data: bytes = field(repr=False)
    action: str = "apply"
    profile: str = ""
    activate: bool = False  # activate `profile` afterwards (a configuration stored whole: replace mode)


Step = FirmwareStep | PacketStep


class Driver(Protocol):
    async def fetch(self, target: Target) -> Reading:
        """The router's identity, firmware and running configuration; raises DriverError."""
        ...

    async def apply(self, target: Target, step: Step) -> str:
        """Carry out one step (waiting out a firmware reboot); a short account of what was done."""
        ...

    async def close(self) -> None:
        ...
