"""The live commands: observe routers, plan against them, apply plans, and read the audit log.

Where it sits: `cli` calls these. Each opens a session (`app.sessions`: the revision, judged; the
store; how to reach the routers), runs the reconcile use case (`app.reconciling`) in its own event
loop, and presents the result. Ctrl-C and SIGTERM stop an apply cleanly (exit 130).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import hashlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from reconciler.app import rollouts
from reconciler.app.outcomes import CHANGES, FAILED, OK, ROLLOUT_WAITING, Outcome, as_json, present_plan
from reconciler.app.planning import plan_revision
from reconciler.app.reconciling import ApplyRequest, left_out, observe_routers, run_apply
from reconciler.app.rollouts import staged_rollout
from reconciler.app.sessions import LiveOptions, Session, open_session
from reconciler.app.stopping import stops_set
from reconciler.core.entitlements.judging import link_notes
from reconciler.core.observed import ObservedSnapshot, snapshot_json
from reconciler.core.plans import Plan, Status, plan_from_data
from reconciler.core.presenting import data
from reconciler.core.presenting.redaction import redact_plan, redact_snapshot
from reconciler.core.results import DeviceOutcome, DeviceResult, FleetResult
from reconciler.errors import Interrupted, SavedPlanError, UsageError
from reconciler.shell.files import write_atomically
from reconciler.shell.progress import Reporter
from reconciler.shell.rollouts import Rollout
from reconciler.shell.store import RolloutRecord, Store
from reconciler.shell.targets import redactor

# --- observe ---------------------------------------------------------------------------------------------


def observe(path: Path, rev: str | None, out: Path | None, options: LiveOptions) -> Outcome:
    session = open_session(path, rev, options)
    if isinstance(session, Outcome):
        return session
    reporter = Reporter("observing", len(session.fleet.devices))
    with reporter:
        snapshot = asyncio.run(_observe(session, reporter.observed))
    offline = sum(1 for device in snapshot.devices if not device.online)
    notes = [*session.notes, f"observed {len(snapshot.devices)} routers ({offline} unreachable)"]
    content = snapshot_json(redact_snapshot(snapshot, redactor(session.unsealer))).decode() + "\n"
    if out is not None:
        write_atomically(out, content.encode())
        notes.append(f"snapshot saved to {out}")
        return Outcome("", OK, notes)
    return Outcome(content, OK, notes)


async def _observe(session: Session, progress: Callable[[str, str], None] | None = None) -> ObservedSnapshot:
    driver = session.driver()
    try:
        return await observe_routers(session, driver, progress)
    finally:
        await driver.close()


# --- plan --live ---------------------------------------------------------------------------------------------


def plan_live(path: Path, rev: str | None, fmt: str, out: Path | None, detailed: bool, options: LiveOptions,
              jobs: int | None = None) -> Outcome:
    session = open_session(path, rev, options)
    if isinstance(session, Outcome):
        return session
    result, snapshot = _plan_observed(session, Reporter("observing", len(session.fleet.devices)), jobs)
    notes = [*session.notes, *(f"warning: {note}" for note in
                               link_notes(session.fleet, session.revision.build.entitlements, snapshot))]
    if out is not None:
        write_atomically(out, as_json(_saved(result, path)).encode())
        notes.append(f"plan saved to {out}")
    invalid = result.counts.get(Status.INVALID, 0)
    code = FAILED if invalid else CHANGES if detailed and result.has_changes else OK
    return Outcome(present_plan(fmt, result), code, notes)


def _plan_observed(session: Session, reporter: Reporter, jobs: int | None,
                   keys: bool = True) -> tuple[Plan, ObservedSnapshot]:
    with reporter:
        snapshot = asyncio.run(_observe(session, reporter.observed))
    plan = plan_revision(session.revision, snapshot, session.clock.now(), jobs=jobs, keys=keys)
    return redact_plan(plan, redactor(session.unsealer)), snapshot


def _saved(plan: Plan, path: Path) -> dict[str, Any]:
    saved = data.plan_data(plan)
    saved["source"] = str(path.resolve())
    return saved


# --- apply -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Steering:
    """How `apply` treats a staged rollout (rollouts.yaml): approve its gate, ignore windows, wait for them."""

    approve: bool = False
    ignore_windows: bool = False  # an audited override for emergencies
    wait: dt.timedelta | None = None  # keep going this long while the rollout waits for a window or approval


def apply(target: Path, rev: str | None, yes: bool, options: LiveOptions,
          confirm: Callable[[str], bool] | None = None, steering: Steering | None = None) -> Outcome:
    """Apply a saved plan (a .json file) exactly, or plan against the live routers and apply that (as a staged
    rollout when the fleet has rollouts.yaml: as far as it can go now, or for `steering.wait`)."""
    if target.is_file() and target.suffix == ".json":
        return _apply_saved(target, options)
    session = open_session(target, rev, options, writes=True)
    if isinstance(session, Outcome):
        return session
    steering = steering or Steering()
    until = session.clock.monotonic() + (steering.wait.total_seconds() if steering.wait else 0.0)
    outcome = _apply_once(session, yes, confirm, steering)
    while isinstance(outcome, _Waiting) and session.clock.monotonic() < until:
        asyncio.run(session.clock.sleep(min(WAIT_POLL_S, max(0.0, until - session.clock.monotonic()))))
        outcome = _apply_once(session, True, confirm, steering)
    return outcome.outcome if isinstance(outcome, _Waiting) else outcome


WAIT_POLL_S = 30.0  # with --wait: how often a waiting rollout looks again (a window opened, an approval came)


@dataclass(frozen=True)
class _Waiting:
    outcome: Outcome


def _apply_once(session: Session, yes: bool, confirm: Callable[[str], bool] | None,
                steering: Steering) -> Outcome | _Waiting:
    # Without --yes the plan is shown (key by key) before asking; with it the plan is only applied, and apply
    # plans each device again as it starts: the key changes are not kept (a million for a factory fleet).
    plan, snapshot = _plan_observed(session, Reporter("observing", len(session.fleet.devices)), None, keys=not yes)
    pending = [d for d in plan.devices if d.status is Status.CHANGES]
    if pending and not yes:
        summary = present_plan("text", plan)
        if not (confirm or _ask)(summary + f"apply these changes to {len(pending)} routers? [y/N] "):
            return Outcome("", FAILED, ["not applied (answer y, or pass --yes)"])
    actor = _actor()
    staged = staged_rollout(session, plan, left_out(plan), actor, ignore_windows=steering.ignore_windows)
    if staged is None:
        request = ApplyRequest(pending, "apply", actor, observed=snapshot.by_serial(), earlier=left_out(plan))
        return _run(session, request)
    if steering.approve:
        rollouts.approve(session.store, staged.rollout, actor)
    request = ApplyRequest(pending, "apply", actor, observed=snapshot.by_serial())
    outcome = _run(session, request, staged.engine)
    return _rollout_outcome(outcome, staged.engine.outcome, staged.superseded)


def _rollout_outcome(outcome: Outcome, record: RolloutRecord | None, superseded: Sequence[str]) -> Outcome | _Waiting:
    """The run's outcome with where its rollout stands; a rollout that waits gets its own exit code."""
    if record is None:
        return outcome
    notes = [*outcome.notes]
    if superseded:
        notes.append(f"{len(superseded)} devices of the rollout this one replaced had not started: superseded")
    notes.append(f"rollout {record.id}: {record.state.value}, wave {record.wave} of {record.waves}"
                 + (f" ({record.reason})" if record.reason else ""))
    if record.state in rollouts.WAITING:
        return _Waiting(Outcome(outcome.output, ROLLOUT_WAITING, notes))
    return Outcome(outcome.output, outcome.exit_code, notes)


def _ask(prompt: str) -> bool:
    if not sys.stdin.isatty():
        raise UsageError("apply needs --yes when it cannot ask (no terminal)")
    sys.stdout.write(prompt)
    sys.stdout.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def read_saved_plan(raw: bytes, name: str) -> tuple[Plan, str]:
    """The bytes of a saved plan (`name` says where they come from) as the plan and the repository it
    was made from; anything else is a SavedPlanError."""
    try:
        saved = orjson.loads(raw)  # nesting is bounded (json.loads recursed until RecursionError)
        plan = plan_from_data(saved)
    except ValueError as exc:
        raise SavedPlanError(f"{name} is not a saved plan: {exc}") from None
    source = saved.get("source")
    if not source or not isinstance(source, str):
        raise SavedPlanError(f"{name} does not say which repository it was made from (source)")
    return plan, source


def _apply_saved(plan_file: Path, options: LiveOptions) -> Outcome:
    raw = plan_file.read_bytes()
    plan, source = read_saved_plan(raw, str(plan_file))
    session = open_session(Path(source), plan.revision, options, writes=True)
    if isinstance(session, Outcome):
        return session
    if plan.content and session.revision.content != plan.content:
        raise SavedPlanError(f"{source} at {session.revision.label} is not what the plan was made from (the files "
                             "changed): make a new plan")
    digest = hashlib.sha256(raw).hexdigest()
    done = session.store.finished_in_plan(digest)
    pending = [d for d in plan.devices if d.status is Status.CHANGES]
    already = [DeviceResult(d.device, DeviceOutcome.ALREADY, "converged in an earlier run of this plan")
               for d in pending if d.device in done]
    request = ApplyRequest([d for d in pending if d.device not in done], "apply-plan", _actor(), saved=True,
                           plan_digest=digest, earlier=already)
    return _run(session, request)


def _run(session: Session, request: ApplyRequest, rollout: Rollout | None = None) -> Outcome:
    reporter = Reporter("applying", len(request.devices))
    with reporter:
        result = asyncio.run(_apply(session, request, reporter.applied, rollout))
    table = reporter.table(result.results) if result.results else "nothing to apply: every router is in sync\n"
    if result.interrupted:
        raise Interrupted(f"interrupted: {result.summary}; run apply again to finish what is left\n{table}")
    return Outcome(table, FAILED if result.failed else OK, [*session.notes, result.summary])


async def _apply(session: Session, request: ApplyRequest, report: Callable[[DeviceResult], None],
                 rollout: Rollout | None = None) -> FleetResult:
    stop = asyncio.Event()
    driver = session.driver()
    # From before the run is recorded until its end is, a stop only asks the routers in flight to finish.
    with stops_set(stop):
        try:
            return await run_apply(session, request, driver, stop, report, rollout)
        finally:
            await driver.close()


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


# --- rollout --------------------------------------------------------------------------------------------------


def rollout(data_dir: Path, action: str, rollout_id: int | None, fmt: str) -> Outcome:
    """`reconciler rollout status|pause|resume|abort|retry-failed|approve`."""
    store = Store(data_dir)
    operations = {"pause": rollouts.pause, "resume": rollouts.resume, "abort": rollouts.abort,
                  "retry-failed": rollouts.retry_failed, "approve": rollouts.approve}
    if action in operations:
        store.require_anchor()
        record = operations[action](store, rollout_id, _actor())
        return Outcome(rollout_text(store, record), OK, [f"rollout {record.id}: {action} done ({record.state.value})"])
    record = rollouts.current(store, rollout_id)
    if fmt == "json":
        return Outcome(as_json(rollout_data(store, record)))
    return Outcome(rollout_text(store, record))


def rollout_data(store: Store, record: RolloutRecord) -> dict[str, Any]:
    """A rollout as JSON-ready data: its state and every device's wave and state (the API serves the same)."""
    devices = store.rollouts.devices(record.id)
    return {"id": record.id, "revision": record.revision, "state": record.state.value, "wave": record.wave,
            "waves": record.waves, "reason": record.reason, "target": record.target,
            "created_at": record.created_at, "updated_at": record.updated_at,
            "approvals": [{"point": a.point, "by": a.by, "at": a.at} for a in record.approvals],
            "superseded_by": record.superseded_by,
            "counts": {state.value: n for state, n in store.rollouts.counts(record.id).items()},
            "devices": [{"device": d.device, "wave": d.wave, "strategy": d.strategy, "state": d.state.value,
                         "failure": d.failure, "attempts": d.attempts, "detail": d.detail} for d in devices]}


def rollout_text(store: Store, record: RolloutRecord) -> str:
    lines = [f"rollout {record.id} of {(record.revision or '-')[:12]}: {record.state.value}, "
             f"wave {record.wave} of {record.waves}" + (f" ({record.reason})" if record.reason else "")]
    by_wave: dict[int, dict[str, int]] = {}
    for device in store.rollouts.devices(record.id):
        states = by_wave.setdefault(device.wave, {})
        states[device.state.value] = states.get(device.state.value, 0) + 1
    for wave, states in sorted(by_wave.items()):
        lines.append(f"  wave {wave}: " + ", ".join(f"{n} {state}" for state, n in sorted(states.items())))
    failed = [d for d in store.rollouts.devices(record.id) if d.failure]
    lines.extend(f"  {d.device}: {d.state.value} ({d.failure}): {d.detail}" for d in failed)
    return "\n".join(lines) + "\n"


# --- audit ------------------------------------------------------------------------------------------------------


def audit(data_dir: Path, verify: bool, fmt: str, limit: int | None, reset_reason: str | None = None) -> Outcome:
    store = Store(data_dir)
    if reset_reason is not None:
        return _reset_anchor(store, reset_reason)
    rows = store.audit_rows()
    if verify:
        return _verify(store, len(rows))
    rows = rows[-limit:] if limit else rows
    if fmt == "json":
        return Outcome(as_json([row.as_dict() for row in rows]))
    lines = [f"{row.id:>5}  {row.at}  {row.actor:<12} {row.action:<11} {row.outcome}  "
             f"({len(row.devices)} devices; {(row.revision or '-')[:12]})" for row in rows]
    return Outcome("\n".join(lines) + ("\n" if lines else "the audit log is empty\n"))


def _verify(store: Store, count: int) -> Outcome:
    problems = store.verify_audit()
    if problems:
        broken = f"the audit log of {count} rows is broken"
        return Outcome("".join(f"{p}\n" for p in problems), FAILED, [broken])
    since = store.anchored_from()
    vouched = (f"; rows 1–{since} were written before the store had an anchor: a cut before them cannot be seen"
               if since else "")
    return Outcome(f"the audit log is intact: {count} rows, each chained to the one before, the newest vouched for "
                   f"by the anchor {store.anchor.path}{vouched}\n")


def _reset_anchor(store: Store, reason: str) -> Outcome:
    if not reason.strip():
        raise UsageError("--reset-anchor needs a --reason (it goes into the audit log)")
    chain = store.chain_problems()
    if chain:
        raise UsageError("the audit log's own chain is broken, an anchor cannot vouch for it: "
                         + "; ".join(chain[:3]))
    row = store.reset_anchor(_actor(), reason.strip())
    return Outcome(f"the anchor now vouches for this store at row {row.id} (the reset is audit row {row.id})\n")
