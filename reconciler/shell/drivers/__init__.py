"""Drivers: the one way in for routers. `Driver` fetches a router's state, applies one step and reads its health.

Where it sits: `observing` fetches every device through a driver and hands the readings to the
core (`observed`); `applying` hands it the steps a plan calls for, one device at a time; a rollout
judging a wave asks each router for its `RouterHealth` (WAN, VPN, cellular signal). The
`icom` driver speaks the icom OS REST API v2 (docs/router-api.md) over aiohttp; it reaches the
simulator the same way (`--simulator URL`). Errors are typed (`errors.TemporaryError`,
`errors.PermanentError`) and never carry a credential.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
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


class StatusKey(StrEnum):
    """The status values a router may report (docs/router-api.md, "Status"); each is absent when it reports none."""

    SYSTEM_UPTIME = "system.uptime"  # int: seconds since it last came up
    WAN_STATE = "wan.state"  # LinkState
    WAN_INTERFACE = "wan.interface"  # str: the interface carrying the WAN (net2, dsl1, wwan1, ...)
    VPN_STATE = "vpn.state"  # LinkState: up when every tunnel is up; absent without a VPN
    VPN_TUNNELS = "vpn.tunnels"  # int: tunnels configured
    VPN_TUNNELS_UP = "vpn.tunnels_up"  # int: tunnels up
    CELLULAR_STATE = "cellular.state"  # str: registered, off, ...; absent without a modem
    CELLULAR_SIGNAL_DBM = "cellular.signal_dbm"  # int: RSSI in dBm (absent when the modem is off)
    CELLULAR_QUALITY = "cellular.quality"  # str: excellent, good, fair, poor, none


class LinkState(StrEnum):
    UP = "up"
    DOWN = "down"


StatusValue = LinkState | str | int


@dataclass(frozen=True, slots=True)
class RouterHealth:
    """What a router says about its own health. That it answered at all means management reaches it."""

    serial: str
    model: str
    firmware: str
    status: Mapping[StatusKey, StatusValue] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:  # a read-only copy: a reading is a fact, not a buffer
        object.__setattr__(self, "status", MappingProxyType(dict(self.status)))


class Driver(Protocol):
    async def fetch(self, target: Target) -> Reading:
        """The router's identity, firmware and running configuration; raises DriverError."""
        ...

    async def apply(self, target: Target, step: Step) -> str:
        """Carry out one step (waiting out a firmware reboot); a short account of what was done."""
        ...

    async def health(self, target: Target) -> RouterHealth:
        """The router's identity, firmware and status values; raises DriverError (unreachable: TemporaryError)."""
        ...

    async def close(self) -> None:
        ...
