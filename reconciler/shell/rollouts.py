"""Rollouts: how the daemon sends a set of device changes out.

<<<<<<< HEAD
Where it sits: the reconcile use case (`app.reconciling.run_apply`, for the CLI and the daemon)
hands a run's devices to a `Rollout`; it runs them through `applying.apply_all` and returns their
outcomes. `SimpleRollout` is what the daemon uses
today: every device at once, at most `max_parallel` at a time. A staged engine (waves, canaries,
failure thresholds, maintenance windows) is another implementation of the same protocol, handed
to `app.reconciling.run_apply`.
=======
Where it sits: `daemon.reconciling` hands every cycle's work to a `Rollout`; it runs the devices
through `applying.apply_all` and returns their outcomes. `SimpleRollout` is what the daemon uses
today: every device at once, at most `max_parallel` at a time. A staged engine (canary waves,
failure thresholds that pause or abort, maintenance windows in each device's time zone) will be
another implementation of the same protocol, so the daemon does not change when it comes.
>>>>>>> f86f29e (The repository is self-contained: docs/entitlements.md explains every rule number)
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from reconciler.core.results import DeviceResult
from reconciler.shell.applying import Context, Report, Work, apply_all


class Rollout(Protocol):
    async def run(self, works: Sequence[Work], context: Context, stop: asyncio.Event,
                  report: Report | None = None) -> list[DeviceResult]:
        """Apply `works`; stop starting devices once `stop` is set; every device's outcome, in order."""
        ...


@dataclass(frozen=True)
class SimpleRollout:
    """One wave with every device, `max_parallel` at a time; in-flight devices get `grace` seconds after a stop."""

    max_parallel: int
    grace: float = 60.0

    async def run(self, works: Sequence[Work], context: Context, stop: asyncio.Event,
                  report: Report | None = None) -> list[DeviceResult]:
        return await apply_all(works, context, self.max_parallel, stop, report, self.grace)
