"""Results: what applying did to each router, and to the fleet as a whole, as values.

Where it sits: `shell.applying` returns a `DeviceResult` per router (never raises for one); the
reconcile use case (`app.reconciling`) collects them into a `FleetResult`, which the CLI maps to
an exit code and a table, the daemon to its status, metrics and log, and the audit log to the
routers a run changed. A purely computational module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property


class DeviceOutcome(StrEnum):
    CONVERGED = "converged"  # applied and verified
    FAILED = "failed"  # a step failed, or the verification found differences
    UNREACHABLE = "unreachable"  # could not be reached (after retries): try again later
    BUSY = "busy"  # reachable, but busy (503) after every retry: try again later
    STALE = "stale"  # a saved plan: the router changed since the plan was made
    ALREADY = "already-applied"  # a saved plan: converged in an earlier run of the same plan
    IN_SYNC = "in-sync"  # nothing to do after all
    SKIPPED = "skipped"  # not applied: blocked, invalid or offline in the plan
    INTERRUPTED = "interrupted"  # stopped before it finished (or before it started)


DONE = frozenset({DeviceOutcome.CONVERGED, DeviceOutcome.IN_SYNC, DeviceOutcome.ALREADY})  # at the desired state
CHANGED = frozenset({DeviceOutcome.CONVERGED, DeviceOutcome.FAILED})  # a router that was written to


@dataclass(frozen=True, slots=True)
class DeviceResult:
    device: str
    outcome: DeviceOutcome
    detail: str = ""
    steps: tuple[str, ...] = ()
    seconds: float = 0.0


def tally(results: Iterable[DeviceResult]) -> dict[DeviceOutcome, int]:
    """Devices by outcome (only the outcomes that occur)."""
    found: dict[DeviceOutcome, int] = {}
    for result in results:
        found[result.outcome] = found.get(result.outcome, 0) + 1
    return found


def summary(counts: Mapping[DeviceOutcome, int]) -> str:
    """`3 converged, 1 failed`, in a stable order; `nothing` when empty."""
    return ", ".join(f"{n} {outcome.value}" for outcome, n in sorted(counts.items())) or "nothing"


@dataclass(frozen=True)
class FleetResult:
    """One apply run over the fleet: every device's result, in the order they were handed in."""

    results: tuple[DeviceResult, ...]
    interrupted: bool = False
    run: int | None = None  # the journal's run, when one was started

    @cached_property
    def counts(self) -> dict[DeviceOutcome, int]:
        return tally(self.results)

    @property
    def failed(self) -> bool:
        """Any device left short of its desired state (failed, unreachable, stale, skipped, interrupted)."""
        return any(result.outcome not in DONE for result in self.results)

    @property
    def failed_devices(self) -> tuple[str, ...]:
        return tuple(result.device for result in self.results if result.outcome not in DONE)

    @property
    def changed_devices(self) -> tuple[str, ...]:
        """The routers written to (converged or failed on the way): what the audit log names."""
        return tuple(result.device for result in self.results if result.outcome in CHANGED)

    @property
    def summary(self) -> str:
        return summary(self.counts)

    def counts_by_name(self) -> dict[str, int]:
        """The counts keyed by outcome name, for JSON, the journal and metrics."""
        return {outcome.value: n for outcome, n in sorted(self.counts.items())}
