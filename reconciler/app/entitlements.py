"""The entitlement commands: `licences` (what holds on a date), `licence keygen` and `licence sign`.

Where it sits: `cli` calls these; they load the fleet (`shell.revisions`), ask the clock (or take
`--at`), and hand the licence files to the core (`core.licences`), whose report is presented by
`core.presenting.licences`. `keygen` and `sign` are for vendors and tests: the example fleet's
licences are signed with a key kept for the example only (example-fleet-repo/.demo).
"""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from reconciler.app.outcomes import FAILED, OK, Outcome, as_json, problems_outcome
from reconciler.core.documents import parse_yaml
from reconciler.core.entitlements import licences as core_licences
from reconciler.core.entitlements import platform, telephony
from reconciler.core.entitlements import sla as sla_core
from reconciler.core.fleets import Fleet
from reconciler.core.loading import load_file
from reconciler.core.models import LicenceFile, LicenceTerms, PaasFile, UcaasFile, kind_of
from reconciler.core.presenting.licences import licence_data, licence_markdown, licence_text
from reconciler.core.presenting.rentals import rental_data, rental_text
from reconciler.core.problems import did_you_mean
from reconciler.errors import SourceError, UnknownDevice, UsageError
from reconciler.shell import billing, clock
from reconciler.shell.files import write_atomically
from reconciler.shell.git.repositories import WorkTree
from reconciler.shell.revisions import FleetLoader

LICENCES = "licences/"


def licences(path: Path, rev: str | None, at: str | None, fmt: str) -> Outcome:
    revision = FleetLoader().load(path, rev)
    fleet = revision.build.fleet
    if fleet is None:
        return problems_outcome([p for p in revision.problems if p.is_error], revision.label, fmt)
    entitlements = revision.build.entitlements
    if at is not None and len(at) == len("2026-11-21"):  # a calendar date: judged as that day
        moment: dt.datetime | dt.date = clock.parse_time(at, "--at").date()
    else:
        moment = clock.parse_time(at, "--at") if at is not None else clock.now()
    report, problems = core_licences.fleet_licences(entitlements, fleet, moment)
    # D0.34: a licence file that does not even load (a malformed signature, a missing key) is refused as loudly
    # as an altered one: it is reported and fails the command, never silently left out of the report
    unreadable = [p for p in revision.problems if p.is_error and p.origin.file.startswith(LICENCES)]
    located = [*unreadable, *revision.locate(problems)]
    errors = [p for p in located if p.is_error]
    if fmt == "json":
        body = {**licence_data(report), "problems": [p.as_dict() for p in located]}
        return Outcome(as_json(body), FAILED if errors else OK)
    shown = licence_markdown(report) if fmt == "markdown" else licence_text(report)
    shown += "".join(f"{file}: not counted: the file does not load (D0.34)\n"
                     for file in sorted({p.origin.file for p in unreadable}))
    shown += "".join(f"{p}\n" for p in errors)
    return Outcome(shown, FAILED if errors else OK)


def licence_keygen(out: Path) -> Outcome:
    """A vendor signing key pair: the private key to `out/licence-signing.key`, the public one printed."""
    private = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    encoded = base64.b64encode(private).decode()
    target = out / "licence-signing.key"
    write_atomically(target, (encoded + "\n").encode(), mode=0o600)
    public = core_licences.public_key_of(encoded)
    return Outcome(f"{public}\n", notes=[f"private key written to {target} (mode 600); trust the public key above "
                                         "in licences/licences.yaml (trusted_keys: - name: …, public_key: …)"])


def licence_sign(file: Path, key_file: Path, name: str | None) -> Outcome:
    """Sign the `licence` mapping of a licence file in place (any later change to it breaks the signature)."""
    try:
        raw = file.read_bytes()
        private = key_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SourceError(f"cannot read {exc.filename}: {exc.strerror}") from None
    kind = kind_of("licences/x.licence")
    assert kind is not None
    document = parse_yaml(str(file), raw)
    body = document.data.get("licence") if isinstance(document.data, dict) else None
    loaded = load_file(parse_yaml(str(file), _yaml_text({"licence": body})), kind) if body is not None else None
    if loaded is None or loaded.spec is None:
        problems = loaded.problems if loaded is not None else ()
        detail = "; ".join(p.message for p in problems) or "no `licence:` mapping"
        raise UsageError(f"{file}: not a licence to sign: {detail}")
    assert isinstance(loaded.spec, LicenceFile)
    terms: LicenceTerms = loaded.spec.licence
    key_name = name or key_file.stem
    try:
        signature = core_licences.sign(private, terms)
    except ValueError as exc:
        raise UsageError(f"{key_file} is not an Ed25519 private key from `licence keygen`: {exc}") from None
    signed = {"licence": terms.model_dump(mode="python", exclude_none=True),
              "signature": {"key": key_name, "value": signature}}
    header = b"# A licence file (D0.34): any change to `licence` breaks the signature.\n"
    write_atomically(file, header + _yaml_text(signed))
    return Outcome("", OK, [f"{file} signed with {key_name!r}"])


def _yaml_text(data: object) -> bytes:
    """YAML with dates as dates (unquoted), as the models read them."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()


# --- costs: the PBX rental ledger (D1) -----------------------------------------------------------------------

def costs(path: Path, rev: str | None, at: str | None, month: str | None, fmt: str) -> Outcome:
    revision = FleetLoader().load(path, rev)
    fleet = revision.build.fleet
    if fleet is None:
        return problems_outcome([p for p in revision.problems if p.is_error], revision.label, fmt)
    moment = clock.parse_time(at, "--at") if at is not None else clock.now()
    result, problems, notes = billing.rental_ledger(WorkTree(path), rev, revision, moment)
    located = revision.locate(problems)
    zone = ZoneInfo(fleet.spec.timezone)
    window = _month(month, zone) if month else None
    bill = billing.telephony_bill(WorkTree(path), rev, revision, *window) if window else None
    errors = [p for p in located if p.is_error]
    if fmt == "json":
        body = {**(rental_data(result, window) if result else {}), "telephony": bill, "notes": notes,
                "problems": [p.as_dict() for p in located]}
        return Outcome(as_json(body), FAILED if errors else OK)
    shown = rental_text(result, window) if result else "no PBX rentals in this repository (rentals/)\n"
    if window is not None:
        billed = ", ".join(f"{count} {licence}" for licence, count in bill.items()) if bill else "nothing"
        shown += f"hosted telephony {window[0]:%Y-%m} (D3.5, the month's maximum of each licence): {billed}\n" \
            if bill is not None else "no hosted telephony in this repository (services/ucaas.yaml)\n"
        ucaas = next((e.spec for e in revision.build.entitlements if isinstance(e.spec, UcaasFile)), None)
        if ucaas is not None:
            share = telephony.yearly_availability(ucaas, window[0].year, window[1], zone)
            verdict = "met" if share >= telephony.AVAILABILITY_TARGET else "MISSED"
            shown += (f"hosted telephony availability {window[0].year} up to {window[1]:%Y-%m-%d}: {share:.4%} "
                      f"(target 99.8 %, D3.9): {verdict}\n")
    shown += "".join(f"note: {note}\n" for note in notes) + "".join(f"{p}\n" for p in located)
    return Outcome(shown, FAILED if errors else OK)


def _month(text: str, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """The calendar month `text` in `zone` (the fleet's: the provider bills by its own calendar month, D3.5), from
    its first midnight to the next month's; the core measures durations in UTC."""
    try:
        start = dt.datetime.strptime(text, "%Y-%m").replace(tzinfo=zone)
    except ValueError:
        raise UsageError(f"--month: expected YYYY-MM, not {text!r}") from None
    following = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return start, following


# --- windows: the hosted platform's maintenance (D2.6) and availability (D2.8) --------------------------------


def windows(path: Path, rev: str | None, since: str | None, days: int, device: str | None,
            month: str | None) -> Outcome:
    revision = FleetLoader().load(path, rev)
    fleet = revision.build.fleet
    if fleet is None:
        return problems_outcome([p for p in revision.problems if p.is_error], revision.label, "text")
    paas = next((located.spec for located in revision.build.entitlements if isinstance(located.spec, PaasFile)), None)
    if paas is None:
        return Outcome("no hosted platform in this repository (services/paas.yaml)\n")
    zone = _device_zone(fleet, device)
    start = clock.parse_time(since, "--from") if since is not None else clock.now()
    found = platform.windows(paas, start, start + dt.timedelta(days=days))
    header = f"maintenance windows from {start:%Y-%m-%d %H:%M %Z} for {days} days (D2.6; local = Europe/Berlin"
    header += f", {device} = {zone})" if zone else ")"
    lines = [header]
    for window in found:
        lines.append(_window_line(window, zone, device))
    if not found:
        lines.append("  none")
    for instance in paas.instances:
        if instance.ordered is not None:
            lines.append(f"  {instance.name}: ordered {instance.ordered:%Y-%m-%d %H:%M}, to be provisioned by "
                         f"{platform.provisioning_due(instance.ordered):%Y-%m-%d %H:%M %Z} (D2.4)")
        if instance.terminated is not None:
            lines.append(f"  {instance.name}: terminated {instance.terminated}, data handed over by "
                         f"{platform.handover_by(instance.terminated)}, then deleted (D2.10)")
    if month is not None:
        first = _month(month, dt.UTC)[0]  # only its year and month
        year, number = first.year, first.month
        for instance in paas.instances:
            result = platform.availability(paas, instance, year, number)
            verdict = "met" if result.met else "MISSED"
            lines.append(f"availability {result.month} of {instance.name}: {result.availability:.4%} "
                         f"({result.counted_s / 60:.0f} min critical downtime counted, "
                         f"{result.planned_s / 3600:.1f} h planned maintenance deducted): {verdict} "
                         f"(target {platform.AVAILABILITY_TARGET:.1%}, D2.8)")
    return Outcome("\n".join(lines) + "\n")


def _device_zone(fleet: Fleet, device: str | None) -> ZoneInfo | None:
    if device is None:
        return None
    found = fleet.devices.get(device)
    if found is None:
        raise UnknownDevice(f"no device {device!r} in the fleet{did_you_mean(device, fleet.devices)}")
    return ZoneInfo(found.site.timezone) if found.site is not None else ZoneInfo(fleet.spec.timezone)


def _window_line(window: platform.Window, zone: ZoneInfo | None, device: str | None) -> str:
    local = window.start.astimezone(platform.BERLIN)
    utc = window.start.astimezone(dt.UTC)
    what = "monthly" if window.kind == "monthly" else f"critical ({window.instance}: {window.reason or 'planned'})"
    line = (f"  {what:<24} {local:%a %Y-%m-%d %H:%M %Z} – {window.end.astimezone(platform.BERLIN):%H:%M}  "
            f"= {utc:%Y-%m-%d %H:%M} UTC")
    if zone is not None:
        line += f"  = {window.start.astimezone(zone):%a %H:%M %Z} at {device}"
    return line + f"  (announced by {window.announce_by.astimezone(platform.BERLIN):%Y-%m-%d %H:%M})"


# --- sla: reaction and escalation deadlines in business time (D2.11, D4.2–D4.5) ------------------------------


def sla(plan: str, priority: str, opened: str, region: str) -> Outcome:
    moment = clock.parse_time(opened, "--opened")
    try:
        calendar, found = sla_core.deadlines(plan, priority, moment, region)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    zone = ZoneInfo(calendar.zone)
    lines = [f"{plan} {priority} opened {moment.astimezone(zone):%a %Y-%m-%d %H:%M %Z} ({calendar.name}, "
             f"{calendar.zone})"]
    for deadline in found:
        local, utc = (deadline.due.astimezone(zone), deadline.due.astimezone(dt.UTC)) if deadline.due else (None, None)
        due = "as soon as possible" if local is None or utc is None else \
            f"{local:%a %Y-%m-%d %H:%M %Z} = {utc:%Y-%m-%d %H:%M} UTC"
        lines.append(f"  {deadline.what:<32} {due}  ({deadline.rule})")
    if plan in sla_core.PAAS_REACTION:
        phone = sla_core.PAAS_PRIORITIES[priority] in sla_core.PAAS_PHONE.get(plan, ())
        lines.append(f"  phone support: {'yes' if phone else 'no (the support centre only)'} (D2.12)")
    care = sla_core.CARE_SUPPORT.get(plan)
    if care is not None:
        lines.append(f"  support: {', '.join(care['levels'])}; by {', '.join(care['channels'])} (D4.10)")
    return Outcome("\n".join(lines) + "\n")
