"""The reconcile use case: observe a revision's routers, plan against them, apply a plan as one journaled run.

Where it sits: the one composition of these steps. CLI `observe`, `plan --live` and `apply`
(`app.live`), the daemon's cycle (`daemon.reconciling`) and `serve --watch` call it and never
compose the parts themselves. It reaches routers through a session (`app.sessions`), plans with
the core (`core.plans`), hands the devices to a rollout (`shell.rollouts`; the wave engine plugs
in there) and keeps the books in the store: a run is started, every device's steps are
journaled by `shell.applying`, the run is finished with its counts, and one audit row names the
routers it changed. The result is a `core.results.FleetResult`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from reconciler.app.sessions import Session
from reconciler.core.observed import ObservedDevice, ObservedSnapshot
from reconciler.core.plans import DevicePlan, Plan, Status
from reconciler.core.results import DeviceOutcome, DeviceResult, FleetResult
from reconciler.shell.applying import Context, Report, Work
from reconciler.shell.drivers import Driver
from reconciler.shell.observing import observe_fleet
from reconciler.shell.rollouts import Rollout, SimpleRollout
from reconciler.shell.store import DeviceState

Progress = Callable[[str, str], None]


async def observe_routers(session: Session, driver: Driver, progress: Progress | None = None,
                          known: Mapping[str, DeviceState] | None = None) -> ObservedSnapshot:
    """Every router of the session's fleet, as a snapshot (packets from the store's records, `known` if read)."""
    states = known if known is not None else session.store.device_states()
    return await observe_fleet(session.fleet, session.targets(), driver, states, session.max_parallel, progress,
                               session.clock)


@dataclass(frozen=True)
class ApplyRequest:
    """What to apply and how the journal and the audit log name it."""

    devices: Sequence[DevicePlan]
    action: str  # "apply", "apply-plan", "reconcile": the run's kind and the audit row's action
    actor: str
    observed: Mapping[str, ObservedDevice] | None = None  # by serial: just observed, not fetched again
    saved: bool = False  # a saved plan: a router that changed since it was made is stale
    plan_digest: str | None = None
    earlier: Sequence[DeviceResult] = ()  # outcomes decided before the run (already applied, left out)


async def run_apply(session: Session, request: ApplyRequest, driver: Driver, stop: asyncio.Event,
                    report: Report | None = None, rollout: Rollout | None = None, grace: float = 60.0) -> FleetResult:
    """Apply the request's devices as one run: journaled step by step, finished with its counts, audited."""
    store, revision = session.store, session.revision
    run_id = store.start_run(request.action, request.actor, revision.source.revision, revision.content,
                             request.plan_digest)
    context = Context(session.fleet, revision.renderer(), revision.source.files, driver, store, session.unsealer,
                      run_id, revision.source.revision, revision.content, session.clock)
    works = works_for(session, request.devices, request.saved, request.observed)
    chosen = rollout or SimpleRollout(session.max_parallel, grace)
    results = await chosen.run(works, context, stop, report)
    result = FleetResult((*request.earlier, *results), stop.is_set(), run_id)
    store.finish_run(run_id, "interrupted" if result.interrupted else "done", result.counts_by_name())
    store.audit(request.actor, request.action, result.changed_devices, revision.source.revision or revision.content,
                result.summary, run=run_id)
    return result


def works_for(session: Session, devices: Sequence[DevicePlan], saved: bool = False,
              observed: Mapping[str, ObservedDevice] | None = None) -> list[Work]:
    """What to apply: a saved plan's devices must still be as observed then; a live plan's were observed just now."""
    reach = session.targets()
    return [Work(plan, reach[plan.device], plan.observed_hash if saved else None,
                 (observed or {}).get(plan.serial)) for plan in devices]


_LEFT_OUT = {Status.OFFLINE: DeviceOutcome.UNREACHABLE, Status.BUSY: DeviceOutcome.BUSY,
             Status.BLOCKED: DeviceOutcome.SKIPPED,
             Status.INVALID: DeviceOutcome.FAILED, Status.UNOBSERVED: DeviceOutcome.UNREACHABLE}


def left_out(plan: Plan) -> list[DeviceResult]:
    """Devices the plan leaves out, as outcomes: offline ones are unreachable, blocked ones skipped."""
    return [DeviceResult(d.device, _LEFT_OUT[d.status], "; ".join(d.notes)) for d in plan.devices
            if d.status in _LEFT_OUT]
