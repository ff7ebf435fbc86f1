"""The rollout use cases: which staged rollout a run continues, and what operators do to one.

Where it sits: `app.live` (CLI `apply`), the daemon's cycle and the `rollout` commands and API
call these. `staged_rollout` picks the rollout of the store's book a run continues: the active one
when it is of the same revision and target, else a new one whose waves are fixed now
(`core.rollouts.waves`: a function of the revision, the policy and the devices that change), which
supersedes the active one's devices that have not started. It hands back a `shell.rolling`
engine for `app.reconciling.run_apply`. A fleet without `rollouts.yaml` has no rollouts: its
changes go out at once, as they always did. The operations (`pause`, `resume`, `abort`,
`retry_failed`, `approve`) change the book and are audited with who did them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.app.sessions import Session
from reconciler.core.models.rollouts import DEFAULT_POLICY, ApprovalPoint
from reconciler.core.plans import Plan
from reconciler.core.results import DeviceResult
from reconciler.core.rollouts.waves import plan_waves
from reconciler.errors import UsageError
from reconciler.shell.rolling import StagedRollout, Staging
from reconciler.shell.store import RolloutRecord, RolloutState, Store

WAITING = frozenset({RolloutState.AWAITING_APPROVAL, RolloutState.WAITING_FOR_WINDOW, RolloutState.PAUSED})


@dataclass(frozen=True)
class RolloutChoice:
    """The engine for a run, and what happened to the rollout it replaced."""

    engine: StagedRollout
    rollout: int
    superseded: tuple[str, ...] = ()  # devices of the replaced rollout that had not started


def staged_rollout(session: Session, plan: Plan, left_out: Sequence[DeviceResult], actor: str,
                   target: str | None = None, ignore_windows: bool = False, grace: float = 60.0
                   ) -> RolloutChoice | None:
    """The rollout a run over `plan` continues or starts; None when the fleet has no rollouts.yaml."""
    policy = session.fleet.rollouts
    if policy is DEFAULT_POLICY:
        return None
    book = session.store.rollouts
    revision = revision_of(session)
    active = book.active()
    superseded: list[str] = []
    if active is not None and active.revision == revision and active.target == target:
        rollout = active.id
    else:
        changing = [session.fleet.devices[d.device] for d in plan.pending if d.device in session.fleet.devices]
        waves = plan_waves(changing, policy, revision)
        members = [(member.device, wave.index, member.strategy) for wave in waves for member in wave.members]
        rollout = book.create(revision, session.revision.content, members, target)
        if active is not None:
            superseded = book.supersede(active.id, rollout)
            session.store.audit(actor, "rollout-supersede", superseded, revision,
                                "superseded", f"rollout {active.id} superseded by rollout {rollout}")
    if ignore_windows:
        session.store.audit(actor, "rollout-ignore-windows", [], revision, "override",
                            f"rollout {rollout} runs with --ignore-windows")
    staging = Staging(book, rollout, policy, session.fleet.devices, {r.device: r for r in left_out}, ignore_windows,
                      health_poll=session.settings.poll_interval)
    return RolloutChoice(StagedRollout(staging, session.max_parallel, grace), rollout, tuple(superseded))


def revision_of(session: Session) -> str:
    """What a rollout is of: the commit, or the content digest of a working tree."""
    return session.revision.source.revision or session.revision.content


# --- operators' operations ------------------------------------------------------------------------------------


def current(store: Store, rollout: int | None) -> RolloutRecord:
    """The rollout asked for, or the active one, or else the newest."""
    if rollout is not None:
        record = store.rollouts.get(rollout)
    else:
        record = store.rollouts.active() or next(iter(store.rollouts.recent(1)), None)
    if record is None:
        raise UsageError(f"no rollout {rollout}" if rollout is not None else "no rollout yet")
    return record


def pause(store: Store, rollout: int | None, actor: str) -> RolloutRecord:
    record = _unfinished(current(store, rollout))
    store.rollouts.set_state(record.id, RolloutState.PAUSED, None, f"paused by {actor}")
    store.audit(actor, "rollout-pause", [], record.revision, "paused", f"rollout {record.id}")
    return current(store, record.id)


def resume(store: Store, rollout: int | None, actor: str) -> RolloutRecord:
    """A paused or waiting rollout runs again at its wave (on the next apply, or the daemon's next cycle); the
    devices of that wave that failed are tried again (the cause that paused it is taken as fixed)."""
    record = _unfinished(current(store, rollout))
    retried = store.rollouts.retry_failed(record.id, max(record.wave, 1))
    store.rollouts.set_state(record.id, RolloutState.RUNNING, None, f"resumed by {actor}")
    store.audit(actor, "rollout-resume", retried, record.revision, "resumed", f"rollout {record.id}")
    return current(store, record.id)


def abort(store: Store, rollout: int | None, actor: str) -> RolloutRecord:
    """Stop for good: the devices not started stay as they are; what was done stays done."""
    record = _unfinished(current(store, rollout))
    skipped = [d.device for d in store.rollouts.devices(record.id) if not d.state.finished]
    store.rollouts.abort(record.id, f"aborted by {actor}")
    store.audit(actor, "rollout-abort", skipped, record.revision, "aborted", f"rollout {record.id}")
    return current(store, record.id)


def retry_failed(store: Store, rollout: int | None, actor: str) -> RolloutRecord:
    """Failed and reverted devices are tried again; a finished rollout with failures runs again."""
    record = current(store, rollout)
    names = store.rollouts.retry_failed(record.id)
    if not names:
        raise UsageError(f"rollout {record.id} has no failed devices")
    wave = min(d.wave for d in store.rollouts.devices(record.id) if d.device in names)
    store.rollouts.set_state(record.id, RolloutState.RUNNING, wave, f"{len(names)} failed devices retried by {actor}")
    store.audit(actor, "rollout-retry", names, record.revision, "retried", f"rollout {record.id}")
    return current(store, record.id)


def approve(store: Store, rollout: int | None, actor: str) -> RolloutRecord:
    """Approve what the rollout waits for (its start, or the waves after the canary)."""
    record = _unfinished(current(store, rollout))
    started = record.wave > 1 or record.approved(ApprovalPoint.BEFORE_START.value)
    point = ApprovalPoint.AFTER_CANARY if started else ApprovalPoint.BEFORE_START
    store.rollouts.approve(record.id, point.value, actor)
    if record.state is RolloutState.AWAITING_APPROVAL:
        store.rollouts.set_state(record.id, RolloutState.RUNNING, None, f"approved {point.value} by {actor}")
    store.audit(actor, "rollout-approve", [], record.revision, "approved", f"rollout {record.id}: {point.value}")
    return current(store, record.id)


def _unfinished(record: RolloutRecord) -> RolloutRecord:
    if record.state.finished:
        raise UsageError(f"rollout {record.id} has finished ({record.state.value})")
    return record
