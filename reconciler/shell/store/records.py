"""Records: what the store hands back, as types (never a dict of strings).

Where it sits: `database` reads rows into these; the daemon's API turns them into JSON with
`as_dict`, the CLI prints them, the reconcile use case reads `DeviceState`s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class DeviceState:
    name: str
    serial: str
    revision: str | None
    desired_hash: str | None
    config_hash: str | None
    firmware: str | None
    packets: Mapping[str, str] | None  # None: this store has no record of what is installed
    last_seen: str | None
    last_outcome: str | None
    last_detail: str | None


@dataclass(frozen=True, slots=True)
class ClosedRun:
    """A run a process left open when it died, closed on the next start with its audit row."""

    id: int
    kind: str
    devices: tuple[str, ...]  # the routers it changed (or may have: a step had started)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run of the journal (an apply, a saved plan, a daemon cycle that applied something)."""

    id: int
    kind: str
    actor: str
    started_at: str
    finished_at: str | None
    revision: str | None
    status: str  # running, done, interrupted
    counts: Mapping[str, int]  # devices by outcome

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "counts": dict(self.counts)}


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """One step of one device in one run (the device page's events, D0.8)."""

    at: str
    run: int
    kind: str
    step: str
    outcome: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class DriftRecord:
    """Drift found on a device at a revision, and what was done about it (corrected or reported)."""

    at: str
    device: str
    revision: str | None
    summary: str
    action: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An API token as listed (its secret is never stored, only its hash, which is not listed)."""

    name: str
    role: str
    created_at: str
    created_by: str
    revoked_at: str | None

    @property
    def live(self) -> bool:
        return self.revoked_at is None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
