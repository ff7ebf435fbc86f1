"""The daemon's status: what it knows now, and what each cycle did.

Where it sits: only the reconciler (`reconciling`) writes a `DaemonStatus`; the API (`api`,
`views`) and the metrics read it. A router's status after a cycle is a `RouterStatus`: the plan's
status, or, for a router the cycle applied to, what the apply found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from reconciler.core.plans import Plan
from reconciler.core.results import DeviceOutcome, DeviceResult

from .obligations import Incident


class RouterStatus(StrEnum):
    IN_SYNC = "in-sync"
    CHANGES = "changes"  # something to apply (waiting: drift reported only, a stopped cycle, a stale plan)
    OFFLINE = "offline"
    BUSY = "busy"  # it answered 503 after every retry: reachable, not offline
    UNOBSERVED = "unobserved"
    BLOCKED = "blocked"
    INVALID = "invalid"
    UNMANAGED = "unmanaged"
    FAILED = "failed"  # the last apply failed


# after applying, a router's status is what the apply found, not what the plan expected
_AFTER_APPLY = {DeviceOutcome.CONVERGED: RouterStatus.IN_SYNC, DeviceOutcome.IN_SYNC: RouterStatus.IN_SYNC,
                DeviceOutcome.FAILED: RouterStatus.FAILED, DeviceOutcome.UNREACHABLE: RouterStatus.OFFLINE,
                DeviceOutcome.BUSY: RouterStatus.BUSY,
                DeviceOutcome.STALE: RouterStatus.CHANGES, DeviceOutcome.INTERRUPTED: RouterStatus.CHANGES,
                DeviceOutcome.SKIPPED: RouterStatus.CHANGES, DeviceOutcome.ALREADY: RouterStatus.IN_SYNC}


def router_statuses(plan: Plan, results: Sequence[DeviceResult]) -> dict[str, RouterStatus]:
    """Every router's status after a cycle: the plan's, overridden by what applying found."""
    statuses = {d.device: RouterStatus(d.status.value) for d in plan.devices}
    statuses.update({r.device: _AFTER_APPLY[r.outcome] for r in results})
    return statuses


@dataclass
class Cycle:
    """What one reconcile cycle did (the API's `last_cycle`)."""

    reason: str
    revision: str
    started_at: str
    finished_at: str = ""
    seconds: float = 0.0
    plan: dict[str, int] = field(default_factory=dict)  # devices by plan status
    outcomes: dict[str, int] = field(default_factory=dict)  # devices applied, by outcome
    drifted: int = 0
    interrupted: bool = False


@dataclass
class DaemonStatus:
    """What the daemon knows now; the API and the metrics read it, only the reconciler writes it."""

    source: str
    desired: str | None = None  # the branch's head, as last fetched
    last_good: str | None = None  # the newest commit that passed validation (what is reconciled)
    applied: str | None = None  # the last good commit once a cycle left no reachable device behind
    fetch_error: str | None = None
    invalid: str | None = None  # why the head is not used (validation failed, or no fleet there)
    problems: list[dict[str, Any]] = field(default_factory=list)  # the invalid head's problems
    lapsed: str | None = None  # why the last good revision no longer passes validation (a licence ran out)
    plan: Plan | None = None  # the last cycle's plan (per-device summaries, no key-by-key changes)
    drift: dict[str, str] = field(default_factory=dict)  # device → what drifted, as of the last cycle
    devices: dict[str, RouterStatus] = field(default_factory=dict)  # device → its status after the last cycle
    last_cycle: Cycle | None = None
    cycles: int = 0
    reconciling: bool = False
    self_heal: bool = True
    entitlements: list[str] = field(default_factory=list)  # licence and credit warnings (D0.24–D0.33, D1.11)
    incidents: dict[str, Incident] = field(default_factory=dict)  # unreachable routers (D4.9)

    @property
    def degraded(self) -> str | None:
        """Why the daemon is not following its branch as it should, or None."""
        return self.invalid or self.lapsed or self.fetch_error

    @property
    def counts(self) -> dict[str, int]:
        return dict(sorted(count_statuses(self.devices).items()))

    @property
    def state(self) -> str:
        if self.degraded:
            return "degraded"
        return "ok" if self.last_good else "starting"


def count_statuses(statuses: Mapping[str, RouterStatus]) -> dict[str, int]:
    found: dict[str, int] = {}
    for status in statuses.values():
        found[status.value] = found.get(status.value, 0) + 1
    return found
