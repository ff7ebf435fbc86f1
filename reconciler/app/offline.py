"""The offline commands: everything that reads only the fleet repository (and the clock).

Where it sits: `cli` parses arguments and prints outcomes; the functions here wire the shell
(reading revisions, files, the clock) to the pure core (validation, rendering, diffs, plans) and
to `core.presenting`. They return text and an exit code instead of printing, so tests and the
daemon can use them without a terminal.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import orjson

from reconciler.core import telephony
from reconciler.core.changes import diff_revisions
from reconciler.core.documents import parse_yaml
from reconciler.core.fleets import Fleet
from reconciler.core.licences import fleet_licences
from reconciler.core.loading import load_file
from reconciler.core.models import FleetSpec, PaasFile, SupportFile, UcaasFile, kind_of
from reconciler.core.models.telephony import Location
from reconciler.core.observed import ObservedSnapshot, SnapshotProblem, parse_snapshot
from reconciler.core.plans import Plan, Status, plan_fleet
from reconciler.core.platform import platform_problems
from reconciler.core.presenting import data, markdown, text
from reconciler.core.problems import Origin, Problem, collapse, did_you_mean, error, sort_key
from reconciler.core.rendering import Renderer, RenderFailure
from reconciler.core.schemas import json_schemas
from reconciler.core.support import support_problems
from reconciler.errors import NotAFleetRepository, SecretError, SnapshotError, SourceError, UnknownDevice
from reconciler.shell import billing, clock, sealing
from reconciler.shell.files import write_atomically
from reconciler.shell.loading import FleetLoader, LoadedRevision
from reconciler.shell.parallel import map_slices

OK, FAILED, CHANGES = 0, 1, 2
T = TypeVar("T")


@dataclass(frozen=True)
class Outcome:
    """What a command hands back: its output, an exit code, and notes for stderr."""

    output: str
    exit_code: int = OK
    notes: Sequence[str] = field(default_factory=tuple)


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n"


def _all_problems(revision: LoadedRevision, renderer: Renderer | None, jobs: int | None = None) -> list[Problem]:
    """Validation problems plus render failures of the devices validation found nothing wrong with."""
    problems = list(revision.problems)
    fleet = revision.build.fleet
    if fleet is not None:
        problems.extend(revision.locate(_entitlement_problems(revision, fleet, renderer, clock.now())))
    if renderer is not None:
        invalid = revision.build.invalid_devices
        names = [name for name in renderer.fleet.devices if name not in invalid]
        problems.extend(revision.locate(map_slices(_render_failures, renderer, names, jobs)))
    return sorted(collapse(problems), key=sort_key)


def _entitlement_problems(revision: LoadedRevision, fleet: Fleet, renderer: Renderer | None,
                          now: dt.datetime) -> list[Problem]:
    """The licences, the platform, telephony and support plans, judged at `now` (RECONCILER_NOW pins it)."""
    entitlements = revision.build.entitlements
    today = now.astimezone(ZoneInfo(fleet.spec.timezone)).date()
    problems = fleet_licences(entitlements, fleet, now)[1]
    for located in entitlements:
        if isinstance(located.spec, PaasFile):
            problems += platform_problems(located, revision.source.files, now)
        elif isinstance(located.spec, SupportFile):
            problems += support_problems(located.spec, located.origin, today)
    return problems + _telephony_problems(revision, fleet, renderer, today)


def _telephony_problems(revision: LoadedRevision, fleet: Fleet, renderer: Renderer | None,
                        today: dt.date) -> list[Problem]:
    """D3.1–D3.4 of services/ucaas.yaml, and D3.7: the routers at a telephony site let its ports out."""
    problems: list[Problem] = []
    for located in revision.build.entitlements:
        if not isinstance(located.spec, UcaasFile):
            continue
        problems += telephony.customer_problems(located.spec, located.origin, today)
        if renderer is None:
            continue
        for index, customer in enumerate(located.spec.customers):
            for number, location in enumerate(customer.locations):
                where = located.origin.child("customers", index, "locations", number, "site")
                problems += _site_ports(fleet, renderer, location, customer.pbx, where)
    return problems


def _site_ports(fleet: Fleet, renderer: Renderer, location: Location, pbx: str, where: Origin) -> list[Problem]:
    if location.site is None:
        return []
    if location.site not in fleet.sites:
        return [error("ucaas-site", f"{pbx}/{location.name}: unknown site {location.site!r}", where)]
    problems = [error("ucaas-router", f"{pbx}/{location.name}: router {name!r} is not at site {location.site}",
                      where) for name in location.routers
                if name not in fleet.devices or (site := fleet.devices[name].site) is None
                or site.name != location.site]
    provider = location.trunk.provider_ip if location.trunk is not None else None
    for device in fleet.devices.values():
        at_site = device.site is not None and device.site.name == location.site
        if not at_site or (location.routers and device.name not in location.routers):
            continue
        desired = renderer.render(device)
        if isinstance(desired, RenderFailure):
            continue  # reported as a render failure
        missing = telephony.missing_ports(desired.parsed().values, provider)
        if missing:
            problems.append(error("ucaas-ports", f"{device.name} at telephony site {location.site} ({pbx}, "
                                  f"{location.name}) does not let out: {'; '.join(missing)} (D3.7)", where,
                                  device=device.name))
    return problems


def _render_failures(renderer: Renderer, names: Sequence[str]) -> list[Problem]:
    return renderer.failures(names)


def _fleet(loader: FleetLoader, path: Path, rev: str | None) -> LoadedRevision:
    """Load a fleet for diff or plan, where exit code 2 means "changes": not a fleet is an error (1)."""
    try:
        return loader.load(path, rev)
    except NotAFleetRepository as exc:
        raise SourceError(str(exc)) from exc


def _renderer(revision: LoadedRevision) -> Renderer | None:
    return revision.renderer() if revision.build.fleet is not None and revision.build.templates else None


# --- validate ---------------------------------------------------------------------------------------------


def validate(path: Path, rev: str | None, fmt: str, loader: FleetLoader | None = None,
             jobs: int | None = None) -> Outcome:
    revision = (loader or FleetLoader()).load(path, rev)
    problems = _all_problems(revision, _renderer(revision), jobs)
    if revision.build.fleet is not None:  # rentals are judged from the selections' git history (D1.1, D1.7)
        rental_problems = billing.rental_ledger(path, rev, revision, clock.now())[1]
        problems = sorted([*problems, *revision.locate(rental_problems)], key=sort_key)
    invalid = any(p.is_error for p in problems)
    fleet = revision.build.fleet
    devices = len(fleet.devices) if fleet is not None else None
    if fmt == "json":
        return Outcome(_json(data.problems_data(problems, revision.label)), FAILED if invalid else OK)
    lines = text.problems_text(problems)
    lines.append(text.problems_summary(problems, f"{path} at {revision.label}", devices))
    return Outcome("\n".join(lines) + "\n", FAILED if invalid else OK)


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
        return _problems_outcome([state.problem], revision.label, fmt)
    if fmt == "json":
        return Outcome(_json(data.desired_data(state, revision.label)))
    return Outcome(text.desired_text(state, revision.label, fleet.devices[device].groups))


def _invalid(revision: LoadedRevision, fmt: str) -> Outcome:
    errors = [p for p in revision.problems if p.is_error]
    return _problems_outcome(errors, revision.label, fmt)


def _problems_outcome(problems: Sequence[Problem], label: str, fmt: str) -> Outcome:
    if fmt == "json":
        return Outcome(_json(data.problems_data(problems, label)), FAILED)
    if fmt == "markdown":
        return Outcome(markdown.problems_markdown(problems, label), FAILED)
    lines = text.problems_text(problems)
    return Outcome("", FAILED, [*lines, text.problems_summary(problems, label, None)])


# --- diff -----------------------------------------------------------------------------------------------------


def diff(path: Path, base: str, head: str | None, fmt: str, detailed: bool, incremental: bool = True,
         loader: FleetLoader | None = None, jobs: int | None = None) -> Outcome:
    loader = loader or FleetLoader()
    head_revision = _fleet(loader, path, head)
    if not head_revision.ok:
        return _problems_outcome(_all_problems(head_revision, None), head_revision.label, fmt)
    try:
        base_revision: LoadedRevision | None = loader.load(path, base)
    except NotAFleetRepository:
        base_revision = None  # the change that adds the fleet: every device is new
    if base_revision is not None and base_revision.build.fleet is None:
        return _problems_outcome(list(base_revision.problems), base_revision.label, fmt)
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
    return Outcome(_presented(fmt, result, data.diff_data, markdown.diff_markdown, text.diff_text), code, notes)


# --- plan ------------------------------------------------------------------------------------------------------


def plan(path: Path, observed: Path, rev: str | None, fmt: str, out: Path | None, detailed: bool,
         now: dt.datetime | None = None, jobs: int | None = None) -> Outcome:
    snapshot = _snapshot(observed)
    revision = _fleet(FleetLoader(), path, rev)
    if not revision.ok:
        return _problems_outcome(_all_problems(revision, None), revision.label, fmt)
    fleet = revision.build.fleet
    assert fleet is not None
    result = plan_fleet(fleet, revision.renderer(), snapshot, revision.source.revision, now or dt.datetime.now(dt.UTC),
                        revision.content, functools.partial(map_slices, jobs=jobs))
    notes = []
    if out is not None:
        write_atomically(out, _json(data.plan_data(result)).encode())
        notes.append(f"plan saved to {out}")
    invalid = result.counts.get(Status.INVALID.value, 0)
    if invalid:
        notes.append(f"error: {invalid} device(s) do not render")
    notes += [f"warning: {note}" for note in link_notes(revision, snapshot)]
    code = FAILED if invalid else CHANGES if detailed and result.has_changes else OK
    return Outcome(present_plan(fmt, result), code, notes)


def link_notes(revision: LoadedRevision, snapshot: ObservedSnapshot) -> list[str]:
    """D3.6: the observed link quality of the routers at telephony locations, per site."""
    fleet = revision.build.fleet
    assert fleet is not None
    sites = {name: device.site.name for name, device in fleet.devices.items() if device.site is not None}
    by_serial = {device.serial: name for name, device in fleet.devices.items()}
    metrics = {by_serial[d.serial]: d.metrics for d in snapshot.devices if d.metrics and d.serial in by_serial}
    return [note for located in revision.build.entitlements if isinstance(located.spec, UcaasFile)
            for note in telephony.site_link_problems(located.spec, sites, metrics)]


def present_plan(fmt: str, result: Plan) -> str:
    """A plan in the requested format (the live commands print theirs the same way)."""
    return _presented(fmt, result, data.plan_data, markdown.plan_markdown, text.plan_text)


def _presented(fmt: str, result: T, as_data: Callable[[T], Any], as_markdown: Callable[[T], str],
               as_text: Callable[[T], str]) -> str:
    """A diff or plan in the requested format: json, markdown, or text (anything else)."""
    if fmt == "json":
        return _json(as_data(result))
    if fmt == "markdown":
        return as_markdown(result)
    return as_text(result)


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
