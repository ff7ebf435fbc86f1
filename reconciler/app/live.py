"""The live commands: observe routers, plan against them, apply plans, and read the audit log.

Where it sits: `cli` calls these; they load a fleet revision (`shell.loading`), reach its routers
through the icom driver (`shell.drivers.icom`, or the simulator with `--simulator URL`), keep
state in the data directory's store, and hand everything else to the core and to
`shell.applying`. Each command runs its own event loop; Ctrl-C and SIGTERM stop an apply cleanly.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import getpass
import hashlib
import json
import signal
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.app.offline import CHANGES, FAILED, OK, Outcome, _json, _problems_outcome, link_notes, present_plan
from reconciler.core.fleets import Fleet
from reconciler.core.observed import ObservedDevice, ObservedSnapshot, snapshot_json
from reconciler.core.plans import DevicePlan, Plan, Status, plan_fleet, plan_from_data
from reconciler.core.presenting import data
from reconciler.errors import Interrupted, SavedPlanError, UsageError
from reconciler.shell.applying import Context, DeviceResult, Work, apply_all, counts
from reconciler.shell.applying import Outcome as ApplyOutcome
from reconciler.shell.drivers import Target
from reconciler.shell.drivers.icom import DriverSettings, IcomDriver
from reconciler.shell.files import write_atomically
from reconciler.shell.loading import FleetLoader, LoadedRevision
from reconciler.shell.observing import observe_fleet
from reconciler.shell.parallel import map_slices
from reconciler.shell.progress import Reporter
from reconciler.shell.store import ClosedRun, Store
from reconciler.shell.targets import CredentialsFile, Unsealer, read_credentials, targets

DEFAULT_DATA_DIR = Path(".reconciler")


@dataclass(frozen=True)
class LiveOptions:
    """How to reach the routers and where to keep state (the options every live command takes)."""

    simulator: str | None = None
    data_dir: Path = DEFAULT_DATA_DIR
    credentials: Path | None = None
    secrets_key: Path | None = None
    ca: Path | None = None
    insecure: bool = False
    max_parallel: int | None = None
    connect_timeout: float | None = None
    read_timeout: float | None = None
    poll_interval: float | None = None
    retry_backoff: float | None = None


@dataclass
class Session:
    """A loaded revision and everything needed to talk to its routers."""

    revision: LoadedRevision
    store: Store
    settings: DriverSettings
    credentials: CredentialsFile
    unsealer: Unsealer
    options: LiveOptions
    tokens: dict[str, str] = field(default_factory=dict)  # the routers' login tokens, kept from observe to apply
    closed: list[ClosedRun] = field(default_factory=list)  # runs a killed process had left open, closed now

    @property
    def notes(self) -> list[str]:
        return [f"run {run.id} ({run.kind}) was left open by a process that ended; closed as interrupted, with an "
                f"audit row naming the {len(run.devices)} routers it changed" for run in self.closed]

    def driver(self) -> IcomDriver:
        """A driver for the current event loop; the login tokens carry over from the session's earlier drivers."""
        return IcomDriver(self.settings, self.tokens)

    @property
    def fleet(self) -> Fleet:
        fleet = self.revision.build.fleet
        assert fleet is not None
        return fleet

    @property
    def max_parallel(self) -> int:
        return self.options.max_parallel or self.fleet.spec.management.max_parallel

    def targets(self) -> dict[str, Target]:
        return targets(self.fleet, self.credentials, self.unsealer, self.options.simulator)


def open_session(path: Path, rev: str | None, options: LiveOptions, writes: bool = False) -> Session | Outcome:
    """Load and check the fleet (an invalid one is never used live), open the store, close runs a killed
    process left open; a command that `writes` refuses a store its audit anchor does not vouch for."""
    revision = FleetLoader().load(path, rev)
    if not revision.ok:
        return _problems_outcome([p for p in revision.problems if p.is_error], revision.label, "text")
    store = Store(options.data_dir)
    if writes:
        store.require_anchor()
    session = session_for(revision, store, options)
    if store.anchor_problem() is None:
        session.closed = store.close_interrupted_runs()
    return session


def session_for(revision: LoadedRevision, store: Store, options: LiveOptions) -> Session:
    """A session for a revision already loaded and found valid (the daemon's last good one)."""
    fleet = revision.build.fleet
    assert fleet is not None
    return Session(revision, store, _settings(revision, options), read_credentials(options.credentials),
                   Unsealer(fleet, options.secrets_key), options)


def _settings(revision: LoadedRevision, options: LiveOptions) -> DriverSettings:
    assert revision.build.fleet is not None
    management = revision.build.fleet.spec.management
    ca_pem = _ca(revision, management.ca, options.ca)
    return DriverSettings(
        connect_timeout=options.connect_timeout or management.connect_timeout.total_seconds(),
        read_timeout=options.read_timeout or management.read_timeout.total_seconds(),
        retries=management.retries,
        reboot_timeout=management.reboot_timeout.total_seconds(),
        poll_interval=options.poll_interval or 2.0,
        backoff=options.retry_backoff or 0.5,
        ca_pem=ca_pem,
        verify_tls=management.verify_tls and not options.insecure,
        connections=max(100, (options.max_parallel or management.max_parallel) + 10),
    )


def _ca(revision: LoadedRevision, in_repository: str | None, override: Path | None) -> str | None:
    if override is not None:
        try:
            return override.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read the CA file {override}: {exc.strerror}") from exc
    if in_repository is None:
        return None
    source = revision.source.files.get(in_repository)
    if source is None:
        raise UsageError(f"fleet.yaml management.ca names {in_repository}, which the repository does not have")
    return source.data.decode("utf-8", errors="replace")


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
    content = snapshot_json(snapshot).decode() + "\n"
    if out is not None:
        write_atomically(out, content.encode())
        notes.append(f"snapshot saved to {out}")
        return Outcome("", OK, notes)
    return Outcome(content, OK, notes)


async def _observe(session: Session, progress: Callable[[str, str], None] | None = None) -> ObservedSnapshot:
    driver = session.driver()
    try:
        return await observe_fleet(session.fleet, session.targets(), driver, session.store.device_states(),
                                   session.max_parallel, progress)
    finally:
        await driver.close()


# --- plan --live ---------------------------------------------------------------------------------------------


def plan_live(path: Path, rev: str | None, fmt: str, out: Path | None, detailed: bool, options: LiveOptions,
              jobs: int | None = None) -> Outcome:
    session = open_session(path, rev, options)
    if isinstance(session, Outcome):
        return session
    result, snapshot = _plan_observed(session, Reporter("observing", len(session.fleet.devices)), jobs)
    notes = [*session.notes, *(f"warning: {note}" for note in link_notes(session.revision, snapshot))]
    if out is not None:
        write_atomically(out, _json(_saved(result, path)).encode())
        notes.append(f"plan saved to {out}")
    invalid = result.counts.get(Status.INVALID.value, 0)
    code = FAILED if invalid else CHANGES if detailed and result.has_changes else OK
    return Outcome(present_plan(fmt, result), code, notes)


def _plan_observed(session: Session, reporter: Reporter, jobs: int | None,
                   keys: bool = True) -> tuple[Plan, ObservedSnapshot]:
    with reporter:
        snapshot = asyncio.run(_observe(session, reporter.observed))
    revision = session.revision
    plan = plan_fleet(session.fleet, revision.renderer(), snapshot, revision.source.revision,
                      dt.datetime.now(dt.UTC), revision.content, functools.partial(map_slices, jobs=jobs), keys)
    return plan, snapshot


def _saved(plan: Plan, path: Path) -> dict[str, Any]:
    saved = data.plan_data(plan)
    saved["source"] = str(path.resolve())
    return saved


# --- apply -------------------------------------------------------------------------------------------------------


def apply(target: Path, rev: str | None, yes: bool, options: LiveOptions,
          confirm: Callable[[str], bool] | None = None) -> Outcome:
    """Apply a saved plan (a .json file) exactly, or plan against the live routers and apply that."""
    if target.is_file() and target.suffix == ".json":
        return _apply_saved(target, options)
    session = open_session(target, rev, options, writes=True)
    if isinstance(session, Outcome):
        return session
    # Without --yes the plan is shown (key by key) before asking; with it the plan is only applied, and apply
    # plans each device again as it starts: the key changes are not kept (a million for a factory fleet).
    plan, snapshot = _plan_observed(session, Reporter("observing", len(session.fleet.devices)), None, keys=not yes)
    pending = [d for d in plan.devices if d.status is Status.CHANGES]
    if pending and not yes:
        summary = present_plan("text", plan)
        if not (confirm or _ask)(summary + f"apply these changes to {len(pending)} routers? [y/N] "):
            return Outcome("", FAILED, ["not applied (answer y, or pass --yes)"])
    works = works_for(session, pending, observed=snapshot.by_serial())
    return _run(session, works, "apply", plan_digest=None, earlier=not_applied(plan))


def not_applied(plan: Plan) -> list[DeviceResult]:
    """Devices the plan leaves out, as outcomes: offline ones are unreachable, blocked ones skipped."""
    outcomes = {Status.OFFLINE: ApplyOutcome.UNREACHABLE, Status.BLOCKED: ApplyOutcome.SKIPPED,
                Status.INVALID: ApplyOutcome.FAILED, Status.UNOBSERVED: ApplyOutcome.UNREACHABLE}
    return [DeviceResult(d.device, outcomes[d.status], "; ".join(d.notes)) for d in plan.devices
            if d.status in outcomes]


def _ask(prompt: str) -> bool:
    if not sys.stdin.isatty():
        raise UsageError("apply needs --yes when it cannot ask (no terminal)")
    sys.stdout.write(prompt)
    sys.stdout.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _apply_saved(plan_file: Path, options: LiveOptions) -> Outcome:
    raw = plan_file.read_bytes()
    try:
        saved = json.loads(raw)
        plan = plan_from_data(saved)
    except (ValueError, KeyError, TypeError) as exc:
        raise SavedPlanError(f"{plan_file} is not a saved plan: {exc}") from None
    source = saved.get("source")
    if not source:
        raise SavedPlanError(f"{plan_file} does not say which repository it was made from (source)")
    session = open_session(Path(source), plan.revision, options, writes=True)
    if isinstance(session, Outcome):
        return session
    if plan.content and session.revision.content != plan.content:
        raise SavedPlanError(f"{source} at {session.revision.label} is not what the plan was made from (the files "
                             "changed): make a new plan")
    digest = hashlib.sha256(raw).hexdigest()
    done = session.store.finished_in_plan(digest)
    pending = [d for d in plan.devices if d.status is Status.CHANGES]
    works = works_for(session, [d for d in pending if d.device not in done], saved=True)
    already = [DeviceResult(d.device, ApplyOutcome.ALREADY, "converged in an earlier run of this plan")
               for d in pending if d.device in done]
    return _run(session, works, "apply-plan", plan_digest=digest, earlier=already)


def works_for(session: Session, devices: Sequence[DevicePlan], saved: bool = False,
           observed: Mapping[str, ObservedDevice] | None = None) -> list[Work]:
    """What to apply: a saved plan's devices must still be as observed then; a live plan's were observed just now."""
    reach = session.targets()
    return [Work(plan, reach[plan.device], plan.observed_hash if saved else None,
                 (observed or {}).get(plan.serial)) for plan in devices]


def _run(session: Session, works: list[Work], action: str, plan_digest: str | None,
         earlier: Sequence[DeviceResult] = ()) -> Outcome:
    actor = _actor()
    revision = session.revision
    run_id = session.store.start_run(action, actor, revision.source.revision, revision.content, plan_digest)
    reporter = Reporter("applying", len(works))
    with reporter:
        results, interrupted = asyncio.run(_apply(session, works, run_id, reporter.applied))
    results = [*earlier, *results]
    tally = counts(results)
    status = "interrupted" if interrupted else "done"
    session.store.finish_run(run_id, status, tally)
    changed = [r.device for r in results if r.outcome in (ApplyOutcome.CONVERGED, ApplyOutcome.FAILED)]
    session.store.audit(actor, action, changed, revision.source.revision or revision.content, _summary(tally),
                        run=run_id)
    table = reporter.table(results) if results else "nothing to apply: every router is in sync\n"
    if interrupted:
        raise Interrupted(f"interrupted: {_summary(tally)}; run apply again to finish what is left\n{table}")
    done = (ApplyOutcome.CONVERGED, ApplyOutcome.IN_SYNC, ApplyOutcome.ALREADY)
    failed = any(result.outcome not in done for result in results)
    return Outcome(table, FAILED if failed else OK, [*session.notes, _summary(tally)])


async def _apply(session: Session, works: list[Work], run_id: int,
                 report: Callable[[DeviceResult], None]) -> tuple[list[DeviceResult], bool]:
    stop = asyncio.Event()
    driver = session.driver()
    revision = session.revision
    context = Context(session.fleet, revision.renderer(), revision.source.files, driver, session.store,
                      session.unsealer, run_id, revision.source.revision, revision.content)
    with _signals(stop):
        try:
            results = await apply_all(works, context, session.max_parallel, stop, report)
        finally:
            await driver.close()
    return results, stop.is_set()


@contextmanager
def _signals(stop: asyncio.Event) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    installed = []
    for number in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(number, stop.set)
            installed.append(number)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
            pass
    try:
        yield
    finally:
        for number in installed:
            loop.remove_signal_handler(number)


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _summary(tally: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {outcome}" for outcome, n in sorted(tally.items())) or "nothing"


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
        return Outcome(_json([row.as_dict() for row in rows]))
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
