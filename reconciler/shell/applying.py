"""Applying: carry out a plan on live routers, device by device, journaled, interruptible.

Where it sits: after `observing` and the core's `plans`. For each device that has changes it
fetches the router again (a saved plan refuses a device whose state changed since: stale), plans
that device afresh, then runs the steps in dependency order: firmware (and wait out the reboot),
update packets, configuration (an update packet with the rendered configuration, its secrets
unsealed only here), and verifies by fetching once more: the device has converged when its plan
is empty. Outcomes are values; a failing device never stops the others. Every step goes to the
store's journal as it happens; a stop (Ctrl-C, SIGTERM) starts no new device, gives the devices
in flight a grace period, then records them as interrupted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.configs import config_hash
from reconciler.core.fleets import Fleet, SourceFile
from reconciler.core.models import ConfigMode
from reconciler.core.observed import ObservedDevice
from reconciler.core.packets import build_packet, configuration_entry, packet_entries
from reconciler.core.plans import Action, ActionKind, DevicePlan, Rules, Status, plan_device
from reconciler.core.rendering import DesiredState, Renderer, RenderFailure
from reconciler.core.results import DeviceOutcome, DeviceResult
from reconciler.errors import BusyError, DriverError, ReconcilerError, TemporaryError
from reconciler.shell.clock import SYSTEM, Clock
from reconciler.shell.drivers import Driver, FirmwareStep, PacketStep, Target
from reconciler.shell.observing import observe_device
from reconciler.shell.store import Store
from reconciler.shell.targets import Unsealer

REPLACE_PROFILE = "reconciler"  # the profile a configuration in replace mode is stored in, then activated


@dataclass(frozen=True)
class Work:
    """One device to apply: its plan and how to reach it (its desired state is rendered when it starts)."""

    plan: DevicePlan
    target: Target
    saved_observed_hash: str | None = None  # a saved plan: the router must still be in this state
    observed: ObservedDevice | None = None  # what a live plan observed moments ago (not fetched again)
    desired: DesiredState | None = None  # instead of the revision's rendering: a good state a revert restores


@dataclass(frozen=True)
class Context:
    """What every device's apply needs (one per run)."""

    fleet: Fleet
    renderer: Renderer
    files: Mapping[str, SourceFile]  # the revision's files (packet parts)
    driver: Driver
    store: Store
    unsealer: Unsealer
    run_id: int
    revision: str | None
    content: str | None
    clock: Clock = SYSTEM
    on_converged: Callable[[str, DesiredState], None] | None = None  # told each device's state once it runs it
    rules: Rules = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", Rules.of(self.fleet))


Report = Callable[[DeviceResult], None]


async def apply_all(works: Sequence[Work], context: Context, max_parallel: int, stop: asyncio.Event,
                    report: Report | None = None, grace: float = 60.0) -> list[DeviceResult]:
    """Apply every work item, at most `max_parallel` at a time, until done or stopped."""
    gate = asyncio.Semaphore(max_parallel)

    async def one(work: Work) -> DeviceResult:
        async with gate:
            if stop.is_set():
                result = DeviceResult(work.plan.device, DeviceOutcome.INTERRUPTED, "not started: the run was stopped")
            else:
                result = await apply_device(work, context)
        if report is not None:
            report(result)
        return result

    return await run_devices(works, one, context, stop, grace)


async def run_devices(works: Sequence[Work], run_one: Callable[[Work], Awaitable[DeviceResult]], context: Context,
                      stop: asyncio.Event, grace: float) -> list[DeviceResult]:
    """`run_one` for every work item at once (the caller bounds concurrency); after a stop, in-flight ones
    get `grace` seconds, then are cancelled and recorded as interrupted. Results in the order of `works`."""
    tasks = {asyncio.ensure_future(run_one(work)): work for work in works}
    await _until_done_or_stopped(set(tasks), stop, grace)
    return [_result_of(task, work, context) for task, work in tasks.items()]


async def _until_done_or_stopped(tasks: set[asyncio.Future[DeviceResult]], stop: asyncio.Event,
                                 grace: float) -> None:
    # One waiter over all tasks (`gather`), not `asyncio.wait` on the pending set after every completion:
    # that registers a callback on each pending task each time, quadratic in the number of devices.
    everything: asyncio.Future[Any] = asyncio.gather(*tasks, return_exceptions=True)
    stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    await asyncio.wait({everything, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not everything.done():  # stopped: devices in flight may finish within the grace period
        try:
            await asyncio.wait_for(asyncio.shield(everything), timeout=grace)
        except TimeoutError:
            for task in tasks:
                task.cancel()
            await asyncio.gather(everything, return_exceptions=True)
    stopping.cancel()


def _result_of(task: asyncio.Future[DeviceResult], work: Work, context: Context) -> DeviceResult:
    if task.cancelled():
        context.store.record_step(context.run_id, work.plan.device, "device", DeviceOutcome.INTERRUPTED.value,
                                  "cancelled after the grace period")
        return DeviceResult(work.plan.device, DeviceOutcome.INTERRUPTED, "cancelled after the grace period")
    return task.result()


async def apply_device(work: Work, context: Context) -> DeviceResult:
    """Fetch, re-plan, run the steps, verify; the outcome is journaled and returned, never raised."""
    started = context.clock.monotonic()
    steps: list[str] = []
    applied: DesiredState | None = None  # what the router now runs, once converged
    try:
        outcome, detail, applied = await _apply(work, context, steps)
    except TemporaryError as exc:
        unreached = DeviceOutcome.BUSY if isinstance(exc, BusyError) else DeviceOutcome.UNREACHABLE
        outcome, detail = (DeviceOutcome.FAILED if steps else unreached), _failure(steps, exc)
    except (DriverError, ReconcilerError) as exc:
        outcome, detail = DeviceOutcome.FAILED, _failure(steps, exc)
    except Exception as exc:  # a bug must not stop the other devices
        outcome, detail = DeviceOutcome.FAILED, _failure(steps, exc, internal=True)
    result = DeviceResult(work.plan.device, outcome, detail, tuple(steps), context.clock.monotonic() - started)
    _record(result, work, context, applied)
    if applied is not None and context.on_converged is not None:
        context.on_converged(work.plan.device, applied)
    return result


def _failure(steps: Sequence[str], exc: BaseException, internal: bool = False) -> str:
    where = f"{steps[-1]}: " if steps else ""
    what = f"internal error {type(exc).__name__}: {exc}" if internal else str(exc)
    return where + what


async def _apply(work: Work, context: Context, steps: list[str]) -> tuple[DeviceOutcome, str, DesiredState | None]:
    ready = await _prepare(work, context)
    if isinstance(ready, tuple):
        return (*ready, None)
    for action in ready.plan.actions:
        steps.append(_step_name(action))
        context.store.record_step(context.run_id, work.plan.device, steps[-1], "started")
        detail = await _run_step(action, work, ready.desired, context, ready.observed)
        context.store.record_step(context.run_id, work.plan.device, steps[-1], "done", detail)
    steps.append("verify")
    outcome, detail = await _verify(work, ready.desired, context)
    return outcome, detail, ready.desired if outcome is DeviceOutcome.CONVERGED else None


@dataclass(frozen=True, slots=True)
class _Ready:
    """A device about to be changed: what it should be, what it is, and the steps between."""

    desired: DesiredState
    observed: ObservedDevice
    plan: DevicePlan


async def _prepare(work: Work, context: Context) -> _Ready | tuple[DeviceOutcome, str]:
    """Render, fetch (unless just observed) and plan the device afresh; an outcome when there is nothing to run."""
    device = context.fleet.devices[work.plan.device]
    desired = work.desired or context.renderer.render(device)
    if isinstance(desired, RenderFailure):
        return DeviceOutcome.FAILED, desired.problem.message
    if work.saved_observed_hash is not None and desired.input_hash != work.plan.desired_hash:
        return DeviceOutcome.FAILED, "its desired state differs from the saved plan's: make a new plan"
    observed = work.observed or await observe_device(context.fleet, work.target, context.driver,
                                                     context.store.device_state(work.plan.device), context.clock)
    if observed.busy:
        return DeviceOutcome.BUSY, observed.unreachable or "busy"
    if not observed.online:
        return DeviceOutcome.UNREACHABLE, observed.unreachable or "unreachable"
    if work.saved_observed_hash is not None and observed.state_hash(context.rules.volatile) != work.saved_observed_hash:
        return DeviceOutcome.STALE, "the router changed since the plan was made: make a new plan"
    if observed.packets is None:  # no record of its packets: a router being changed gets them (again), so one exists
        observed = observed.model_copy(update={"packets": {}})
    plan = plan_device(device, desired, observed, context.rules)
    return _Ready(desired, observed, plan) if plan.status is Status.CHANGES else _nothing_to_run(plan)


def _nothing_to_run(plan: DevicePlan) -> tuple[DeviceOutcome, str]:
    if plan.status is Status.IN_SYNC:
        return DeviceOutcome.IN_SYNC, "nothing to do"
    return DeviceOutcome.SKIPPED, "; ".join(plan.notes) or plan.status.value


def _step_name(action: Action) -> str:
    return f"packet {action.packet.name}" if action.packet is not None else action.kind.value


async def _run_step(action: Action, work: Work, desired: DesiredState, context: Context,
                    observed: ObservedDevice) -> str:
    if action.kind is ActionKind.FIRMWARE:
        assert action.target is not None
        return await context.driver.apply(work.target, FirmwareStep(action.target))
    if action.kind is ActionKind.PACKET:
        return await _install_packet(action, work, context, observed)
    return await _configure(work, desired, context)


async def _install_packet(action: Action, work: Work, context: Context, observed: ObservedDevice) -> str:
    assert action.packet is not None
    name, digest = action.packet.name, action.packet.digest
    packet = context.fleet.packets[name]
    data = build_packet(packet_entries(packet, context.files))
    detail = await context.driver.apply(work.target, PacketStep(name, data))
    installed = {**(_store_packets(context, work.plan.device) or observed.packets or {}), name: digest}
    context.store.record_packets(work.plan.device, work.target.serial, installed)
    return detail


def _store_packets(context: Context, device: str) -> Mapping[str, str] | None:
    state = context.store.device_state(device)
    return state.packets if state else None


async def _configure(work: Work, desired: DesiredState, context: Context) -> str:
    text = context.unsealer.substitute(desired.config_text or "")
    data = build_packet([configuration_entry(text, work.plan.device, context.revision)])
    if desired.config_mode is ConfigMode.REPLACE:
        step = PacketStep("configuration", data, "store", REPLACE_PROFILE, activate=True)
    else:
        step = PacketStep("configuration", data, "apply")
    return await context.driver.apply(work.target, step)


async def _verify(work: Work, desired: DesiredState, context: Context) -> tuple[DeviceOutcome, str]:
    known = context.store.device_state(work.plan.device)
    observed = await observe_device(context.fleet, work.target, context.driver, known, context.clock)
    if not observed.online:
        return DeviceOutcome.FAILED, f"verify: unreachable after the changes ({observed.unreachable})"
    device = context.fleet.devices[work.plan.device]
    plan = plan_device(device, desired, observed, context.rules)
    if plan.actions:
        return DeviceOutcome.FAILED, "verify: " + "; ".join(action.summary for action in plan.actions)
    return DeviceOutcome.CONVERGED, "applied and verified"


def _record(result: DeviceResult, work: Work, context: Context, desired: DesiredState | None) -> None:
    store = context.store
    store.record_step(context.run_id, result.device, "device", result.outcome.value, result.detail)
    applied = None
    if desired is not None:
        packets = _store_packets(context, result.device) or {}
        applied = {"revision": context.revision, "content": context.content, "desired_hash": desired.input_hash,
                   "config_hash": config_hash(desired.parsed().values), "firmware": desired.firmware,
                   "packets": {**packets, **dict(desired.packets)}}
    reached = result.outcome not in (DeviceOutcome.UNREACHABLE, DeviceOutcome.INTERRUPTED)
    store.record_device(result.device, work.target.serial, result.outcome.value, result.detail, applied=applied,
                        seen=reached)
