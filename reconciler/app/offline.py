"""The offline commands: everything that reads only the fleet repository (and the clock).

Where it sits: `cli` parses arguments and prints outcomes; the functions here wire the shell
(reading revisions, files, the clock) to the pure core (validation, rendering, diffs, plans) and
to `core.presenting`. They return text and an exit code instead of printing, so tests and the
daemon can use them without a terminal.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

import orjson

from reconciler.app.outcomes import CHANGES, FAILED, OK, Outcome, as_json, present_plan, presented, problems_outcome
from reconciler.app.planning import plan_revision
from reconciler.app.verdicts import History, judge_revision
from reconciler.core.documents import parse_yaml
from reconciler.core.entitlements.judging import link_notes
from reconciler.core.loading import load_file
from reconciler.core.models import FleetSpec, kind_of
from reconciler.core.observed import ObservedSnapshot, SnapshotProblem, parse_snapshot
from reconciler.core.plans import Status
from reconciler.core.presenting import data, markdown, text
from reconciler.core.problems import Problem, did_you_mean
from reconciler.core.rendering import RenderFailure
from reconciler.core.revision_diffs import diff_revisions
from reconciler.core.schemas import json_schemas
from reconciler.errors import NotAFleetRepository, SecretError, SnapshotError, SourceError, UnknownDevice
from reconciler.shell import clock, sealing
from reconciler.shell.files import write_atomically
from reconciler.shell.parallel import map_slices
from reconciler.shell.revisions import FleetLoader, LoadedRevision


def _fleet(loader: FleetLoader, path: Path, rev: str | None) -> LoadedRevision:
    """Load a fleet for diff or plan, where exit code 2 means "changes": not a fleet is an error (1)."""
    try:
        return loader.load(path, rev)
    except NotAFleetRepository as exc:
        raise SourceError(str(exc)) from exc


# --- validate ---------------------------------------------------------------------------------------------


def validate(path: Path, rev: str | None, fmt: str, loader: FleetLoader | None = None,
             jobs: int | None = None) -> Outcome:
    revision = (loader or FleetLoader()).load(path, rev)
    verdict = judge_revision(revision, clock.now(), History(path, rev), jobs)
    code = OK if verdict.ok else FAILED
    if fmt == "json":
        return Outcome(as_json(data.problems_data(verdict.problems, revision.label)), code)
    fleet = revision.build.fleet
    lines = text.problems_text(verdict.problems)
    lines.append(text.problems_summary(verdict.problems, f"{path} at {revision.label}",
                                       len(fleet.devices) if fleet is not None else None))
    return Outcome("\n".join(lines) + "\n", code)


# --- render -------------------------------------------------------------------------------------------------


def render(path: Path, device: str, rev: str | None, fmt: str) -> Outcome:
    revision = FleetLoader().load(path, rev)
    fleet = revision.build.fleet
    if fleet is None or not revision.ok:
        return _invalid(revision, fmt)
    if device not in fleet.devices:
        raise UnknownDevice(f"no device {device!r} in {path} at {revision.label}{did_you_mean(device, fleet.devices)}")
    state = revision.renderer().render(fleet.devices[device])
    if isinstance(state, RenderFailure):
        return problems_outcome([state.problem], revision.label, fmt)
    if fmt == "json":
        return Outcome(as_json(data.desired_data(state, revision.label)))
    return Outcome(text.desired_text(state, revision.label, fleet.devices[device].groups))


def _problems(revision: LoadedRevision, path: Path, rev: str | None) -> tuple[Problem, ...]:
    """Everything `validate` would say of the revision (a diff or plan of it shows the same problems)."""
    return judge_revision(revision, clock.now(), History(path, rev)).problems


def _invalid(revision: LoadedRevision, fmt: str) -> Outcome:
    errors = [p for p in revision.problems if p.is_error]
    return problems_outcome(errors, revision.label, fmt)


# --- diff -----------------------------------------------------------------------------------------------------


def diff(path: Path, base: str, head: str | None, fmt: str, detailed: bool, incremental: bool = True,
         loader: FleetLoader | None = None, jobs: int | None = None) -> Outcome:
    loader = loader or FleetLoader()
    head_revision = _fleet(loader, path, head)
    if not head_revision.ok:
        return problems_outcome(_problems(head_revision, path, head), head_revision.label, fmt)
    try:
        base_revision: LoadedRevision | None = loader.load(path, base)
    except NotAFleetRepository:
        base_revision = None  # the change that adds the fleet: every device is new
    if base_revision is not None and base_revision.build.fleet is None:
        return problems_outcome(list(base_revision.problems), base_revision.label, fmt)
    base_label = base_revision.label if base_revision is not None else f"{base} (no fleet)"
    base_renderer = base_revision.renderer() if base_revision is not None else None
    result = diff_revisions(base_renderer, head_revision.renderer(), base_label, head_revision.label, incremental,
                            functools.partial(map_slices, jobs=jobs))
    notes = []
    if base_revision is None:
        notes.append(f"note: {path} has no fleet.yaml at {base}: every device counts as added")
    elif not base_revision.ok:
        notes.append(f"note: the base {base_revision.label} has validation errors")
    failed = sum(1 for change in result.changes if change.fails_on_head)
    if failed:
        notes.append(f"error: {failed} device(s) of {head_revision.label} do not render")
    code = FAILED if failed else CHANGES if detailed and result.has_changes else OK
    return Outcome(presented(fmt, result, data.diff_data, markdown.diff_markdown, text.diff_text), code, notes)


# --- plan ------------------------------------------------------------------------------------------------------


def plan(path: Path, observed: Path, rev: str | None, fmt: str, out: Path | None, detailed: bool,
         now: dt.datetime | None = None, jobs: int | None = None) -> Outcome:
    snapshot = _snapshot(observed)
    revision = _fleet(FleetLoader(), path, rev)
    if not revision.ok:
        return problems_outcome(_problems(revision, path, rev), revision.label, fmt)
    fleet = revision.build.fleet
    assert fleet is not None
    result = plan_revision(revision, snapshot, now or clock.now(), jobs=jobs)
    notes = []
    if out is not None:
        write_atomically(out, as_json(data.plan_data(result)).encode())
        notes.append(f"plan saved to {out}")
    invalid = result.counts.get(Status.INVALID, 0)
    if invalid:
        notes.append(f"error: {invalid} device(s) do not render")
    notes += [f"warning: {note}" for note in link_notes(fleet, revision.build.entitlements, snapshot)]
    code = FAILED if invalid else CHANGES if detailed and result.has_changes else OK
    return Outcome(present_plan(fmt, result), code, notes)


def _snapshot(path: Path) -> ObservedSnapshot:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SnapshotError(f"cannot read the observed state {path}: {exc.strerror}") from exc
    try:
        return parse_snapshot(raw)
    except SnapshotProblem as exc:
        raise SnapshotError(f"{path}: {exc}") from None


# --- schema -----------------------------------------------------------------------------------------------------


def schema(out: Path) -> Outcome:
    written = []
    for name, body in json_schemas().items():
        target = out / name
        content = orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
        write_atomically(target, content)
        written.append(str(target))
    return Outcome("".join(f"wrote {w}\n" for w in written))


# --- secret ------------------------------------------------------------------------------------------------------


def secret_keygen(out: Path | None) -> Outcome:
    private, public = sealing.generate_key()
    if out is None:
        return Outcome(f"private key (keep it off git): {private}\npublic key (fleet.yaml sealing_key): {public}\n")
    write_atomically(out, (private + "\n").encode(), mode=0o600)
    return Outcome(f"{public}\n", notes=[f"private key written to {out} (mode 600); put the public key above "
                                          "into fleet.yaml as sealing_key"])


def secret_seal(fleet: Path, name: str, value: str) -> Outcome:
    plaintext = value.removesuffix("\n")
    if not plaintext:
        raise SecretError("nothing to seal: pass the value on stdin")
    sealed = sealing.seal(_sealing_key(fleet), name, plaintext)
    return Outcome(f"{sealed}\n", notes=[f"add it to secrets/*.yaml as:  {name}: {{sealed: <the line above>}}"])


def _sealing_key(fleet: Path) -> str:
    path = fleet / "fleet.yaml"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}") from exc
    kind = kind_of("fleet.yaml")
    assert kind is not None
    loaded = load_file(parse_yaml("fleet.yaml", raw), kind)
    if not isinstance(loaded.spec, FleetSpec):
        raise SecretError(f"{path} is invalid: run `reconciler validate {fleet}`")
    if loaded.spec.sealing_key is None:
        raise SecretError(f"{path} has no sealing_key: create one with `reconciler secret keygen`")
    return loaded.spec.sealing_key
