"""Router-management licences (D0.23–D0.35): which licences hold on a date, and what they allow.

Where it sits: `validate`, `reconciler licences` and the daemon (API licence, D0.23) call
`evaluate` with the revision's licence files (`entitlement_files`), the fleet's variant, the
number of registered routers, and the date to judge ("now" is an argument: the core has no
clock). A purely computational module: it verifies signatures (Ed25519), works out each licence's
term, and returns a `LicenceReport` and the problems (positioned by YAML path).

The rules, by number:
- D0.34 a licence counts only if signed by a key the fleet trusts and unaltered since;
- D0.24–D0.29 the articles: what each grants, for how long, and for which variant (server and
  datacenter articles never mix with the other variant);
- D0.30 a subscription runs 24 months from activation; a renewal extends the subscription (or the
  renewal) of its own variant it was activated under by 12 months, starting where that ends (D0.25);
  a trial is no subscription and is never extended; a renewal not yet activated is advised only
  what can still succeed (activate it while the term it would extend holds);
- D0.31 a key not activated within 24 months of purchase is invalid;
- D0.32 after its term a licence is invalid; an expired subscription cannot be renewed, and a key
  cannot be activated twice (a second file with the same key is refused);
- D0.33 a trial runs 45 days (and grants a subscription's routers and API use: our reading);
- capacity on a date = the routers of the licences valid that date; more registered routers than
  that is an error; a licence whose end would leave too few is warned of 90, 30 and 7 days ahead;
- D0.23 the API licence (checked by the daemon and `token create`);
- D0.3 an approval for more than 5,000 routers counts only once given (`fleet_licences`, which has
  the date).

Terms end exclusively (`end`: the first day a licence no longer holds); every message and output
names the last valid day instead (`last_day`).
"""

from __future__ import annotations

import base64
import calendar
import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from reconciler.core.building import APPROVAL_ABOVE
from reconciler.core.entitlements.models.licences import LicenceFile, LicencesFile, LicenceTerms
from reconciler.core.fleets import Fleet, Located
from reconciler.core.problems import Origin, Problem, error, warning

ACTIVATION_MONTHS = 24  # D0.31
TRIAL_DAYS = 45  # D0.33
WARN_DAYS = (90, 30, 7)


class Role(StrEnum):
    SUBSCRIPTION = "subscription"
    RENEWAL = "renewal"
    API = "api"
    INSTALLATION = "installation"
    TRIAL = "trial"


@dataclass(frozen=True)
class Article:
    number: str
    name: str
    role: Role
    variant: str | None  # server | datacenter; None: either (trial)
    routers: int  # router licences per piece
    months: int = 0
    days: int = 0


ARTICLES = {a.number: a for a in (
    Article("10023610", "Server subscription", Role.SUBSCRIPTION, "server", 500, months=24),  # D0.24
    Article("10023611", "Server renewal", Role.RENEWAL, "server", 500, months=12),  # D0.25
    Article("10023613", "Server API licence", Role.API, "server", 0, months=12),  # D0.26
    Article("10023614", "Data Center subscription", Role.SUBSCRIPTION, "datacenter", 1000, months=24),  # D0.27
    Article("10023615", "Data Center renewal", Role.RENEWAL, "datacenter", 500, months=12),  # D0.28
    Article("10023616", "Data Center API licence", Role.API, "datacenter", 0, months=12),  # D0.29
    Article("10022802", "Server installation", Role.INSTALLATION, "server", 0),  # D0.29
    Article("10022803", "Data Center installation", Role.INSTALLATION, "datacenter", 0),  # D0.29
)}
TRIAL = Article("trial", "Trial licence", Role.TRIAL, None, 0, days=TRIAL_DAYS)  # D0.33, routers: the variant's


class State(StrEnum):
    VALID = "valid"
    NOT_ACTIVATED = "not-activated"  # bought, key not yet activated (still within 24 months)
    NOT_YET = "not-yet-valid"  # its term starts later (a renewal waiting for its subscription to end)
    EXPIRED = "expired"
    INVALID = "invalid"  # unsigned, altered, foreign key, wrong variant, activated too late, renewed nothing


@dataclass(frozen=True)
class Licence:
    """One licence file, judged on a date."""

    file: str
    key: str
    article: str
    name: str
    role: str
    quantity: int
    routers: int  # in all (quantity × per piece)
    purchased: dt.date
    activated: dt.date | None
    start: dt.date | None
    end: dt.date | None  # exclusive: the first day it no longer holds (shown as `last_day`)
    state: State
    reason: str = ""

    @property
    def last_day(self) -> dt.date | None:
        """The last day it holds (D0.32: on `end` it is invalid already): what every output shows."""
        return last_day(self.end)


@dataclass(frozen=True)
class LicenceReport:
    at: dt.date
    variant: str
    licences: tuple[Licence, ...]
    capacity: int  # router licences valid on `at`
    registered: int
    api: bool  # a valid API (or trial) licence on `at` (D0.23)
    api_until: dt.date | None  # exclusive, like `Licence.end`
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def api_last_day(self) -> dt.date | None:
        return last_day(self.api_until)

    @property
    def managed(self) -> bool:
        """The fleet keeps licences in its repository (if not, nothing is enforced)."""
        return bool(self.licences)


def signed_bytes(terms: LicenceTerms) -> bytes:
    """What a signature covers: the licence terms as canonical JSON (sorted keys, no spaces)."""
    return json.dumps(terms.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later (or earlier, if negative), or the month's last day (31 January + 1 month =
    28/29 February)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def last_day(end: dt.date | None) -> dt.date | None:
    """The last valid day of a term that ends (exclusively) on `end`."""
    return end - dt.timedelta(days=1) if end is not None else None


Judged = tuple["LicenceReport", list[Problem]]


def evaluate(files: Sequence[Located], variant: str, registered: int, at: dt.date) -> Judged:
    """A purely computational function: the licences of a fleet on date `at`, and what is wrong with them."""
    declarations = [f for f in files if isinstance(f.spec, LicencesFile)]
    licence_files = [f for f in files if isinstance(f.spec, LicenceFile)]
    problems: list[Problem] = []
    trusted = _trusted(declarations, problems)
    judged = _judge(licence_files, trusted, variant, at, problems)
    capacity = _capacity(judged, at)
    api_until = _api_until(judged, at)
    report = LicenceReport(at, variant, tuple(judged), capacity, registered, api_until is not None, api_until)
    if not judged:
        return report, problems
    origin = declarations[0].origin if declarations else Origin(licence_files[0].origin.file)
    if registered > capacity:
        problems.append(error("licence-capacity", f"{registered} routers are registered, but the licences valid on "
                              f"{at} cover {capacity} (D0.24–D0.28)", origin))
    notes = _expiry_warnings(judged, registered, at)
    problems.extend(warning("licence-expiry", note, origin) for note in notes)
    return LicenceReport(report.at, variant, report.licences, capacity, registered, report.api, api_until,
                         tuple(notes)), problems


def _trusted(declarations: Sequence[Located], problems: list[Problem]) -> dict[str, Ed25519PublicKey]:
    keys: dict[str, Ed25519PublicKey] = {}
    for located in declarations:
        assert isinstance(located.spec, LicencesFile)
        for index, trusted in enumerate(located.spec.trusted_keys):
            try:
                keys[trusted.name] = Ed25519PublicKey.from_public_bytes(base64.b64decode(trusted.public_key))
            except ValueError:
                problems.append(error("licence-key", f"trusted key {trusted.name!r} is not an Ed25519 public key",
                                      located.origin.child("trusted_keys", index, "public_key")))
    return keys


def _judge(files: Sequence[Located], trusted: dict[str, Ed25519PublicKey], variant: str, at: dt.date,
           problems: list[Problem]) -> list[Licence]:
    seen: dict[str, str] = {}
    judged: list[Licence] = []
    chain: list[Licence] = []  # the terms so far (subscriptions, renewals, trials), for renewals to extend
    ordered = sorted(files, key=lambda f: (_activated_sort(f.spec), f.origin.file))
    for located in ordered:
        assert isinstance(located.spec, LicenceFile)
        terms = located.spec.licence
        refusal = _signature_problem(located.spec, trusted) or _reuse_problem(terms, seen) \
            or _variant_problem(terms, variant) or _activation_problem(terms, at)
        article = _article(terms)
        if refusal is not None:
            reason, where = refusal
            problems.append(error("licence-invalid", f"licence {terms.key}: {reason}", located.origin.child(*where)))
            judged.append(_licence(located, terms, article, variant, None, None, State.INVALID, reason))
            continue
        seen[terms.key] = located.origin.file
        licence = _term(located, terms, article, variant, chain, at, problems)
        judged.append(licence)
        if licence.role in (Role.SUBSCRIPTION, Role.RENEWAL, Role.TRIAL) and licence.start is not None:
            chain.append(licence)
    return sorted(judged, key=lambda lic: (lic.file, lic.key))


def _activated_sort(spec: object) -> dt.date:
    assert isinstance(spec, LicenceFile)
    return spec.licence.activated or dt.date.max


Refusal = tuple[str, tuple[str, ...]]  # why a licence file is invalid, and the key in the file that says so


def _signature_problem(spec: LicenceFile, trusted: dict[str, Ed25519PublicKey]) -> Refusal | None:
    """D0.34: unsigned, signed by a key the fleet does not trust, or altered since it was signed."""
    if spec.signature is None:
        return "not signed (a licence file comes signed by the vendor, D0.34)", ("licence",)
    key = trusted.get(spec.signature.key)
    if key is None:
        return (f"signed with key {spec.signature.key!r}, which licences/licences.yaml does not trust (D0.34)",
                ("signature",))
    try:
        key.verify(base64.b64decode(spec.signature.value), signed_bytes(spec.licence))
    except (InvalidSignature, ValueError):
        return "its signature does not match: the file was altered after signing (D0.34)", ("signature",)
    return None


def _reuse_problem(terms: LicenceTerms, seen: dict[str, str]) -> Refusal | None:
    if terms.key in seen:
        return (f"the key is already used by {seen[terms.key]}: a key is activated once, never again (D0.32)",
                ("licence", "key"))
    return None


def _variant_problem(terms: LicenceTerms, variant: str) -> Refusal | None:
    article = _article(terms)
    if article is None:
        return (f"unknown article {terms.article!r} (D0.24–D0.29: 10023610, 10023611, 10023613, 10023614, "
                "10023615, 10023616, 10022802, 10022803, or trial)", ("licence", "article"))
    if article.variant is not None and article.variant != variant:
        return (f"article {article.number} ({article.name}) is for a {article.variant} installation; this fleet is "
                f"{variant} (server and datacenter articles do not mix, D0.24–D0.29)", ("licence", "article"))
    return None


def _activation_problem(terms: LicenceTerms, at: dt.date) -> Refusal | None:
    """D0.31: a key must be activated within 24 months of purchase."""
    deadline = add_months(terms.purchased, ACTIVATION_MONTHS)
    if terms.activated is not None and terms.activated < terms.purchased:
        return f"activated on {terms.activated}, before it was bought ({terms.purchased})", ("licence", "activated")
    if terms.activated is not None and terms.activated >= deadline:
        return (f"activated on {terms.activated}, more than 24 months after its purchase on {terms.purchased} "
                "(D0.31)", ("licence", "activated"))
    if terms.activated is None and at >= deadline:
        return (f"never activated, and 24 months have passed since its purchase on {terms.purchased} (D0.31)",
                ("licence", "purchased"))
    return None


def _article(terms: LicenceTerms) -> Article | None:
    return TRIAL if terms.article == "trial" else ARTICLES.get(terms.article)


def _routers(article: Article | None, terms: LicenceTerms, variant: str) -> int:
    if article is None:
        return 0
    if article.role is Role.TRIAL:
        return ARTICLES["10023614" if variant == "datacenter" else "10023610"].routers * terms.quantity
    return article.routers * terms.quantity


def _licence(located: Located, terms: LicenceTerms, article: Article | None, variant: str, start: dt.date | None,
             end: dt.date | None, state: State, reason: str = "") -> Licence:
    return Licence(located.origin.file, terms.key, terms.article, article.name if article else terms.article,
                   article.role.value if article else "unknown", terms.quantity, _routers(article, terms, variant),
                   terms.purchased, terms.activated, start, end, state, reason)


def _term(located: Located, terms: LicenceTerms, article: Article | None, variant: str, chain: list[Licence],
          at: dt.date, problems: list[Problem]) -> Licence:
    assert article is not None
    if terms.activated is None:
        reason = _activation_advice(terms, article, chain, at)
        return _licence(located, terms, article, variant, None, None, State.NOT_ACTIVATED, reason)
    if article.role is Role.INSTALLATION:
        return _licence(located, terms, article, variant, terms.activated, None, State.VALID)
    start = terms.activated
    if article.role is Role.RENEWAL:
        extended = [lic.end for lic in _extendable(chain, article) if _holds(lic, terms.activated)]
        if not extended:
            reason = (f"a renewal extends a valid {article.variant} subscription (D0.25), but none was valid when "
                      f"it was activated on {terms.activated} (a trial is not a subscription, D0.33): an expired "
                      "subscription cannot be renewed (D0.32)")
            problems.append(error("licence-invalid", f"licence {terms.key}: {reason}",
                                  located.origin.child("licence", "activated")))
            return _licence(located, terms, article, variant, None, None, State.INVALID, reason)
        start = max(end for end in extended if end is not None)
    end = add_months(start, article.months) if article.months else start + dt.timedelta(days=article.days)
    state = State.VALID if start <= at < end else State.NOT_YET if at < start else State.EXPIRED
    return _licence(located, terms, article, variant, start, end, state)


def _extendable(chain: Iterable[Licence], renewal: Article) -> list[Licence]:
    """D0.25/D0.30: what a renewal may extend: a subscription of its own variant, or a renewal of one (never a
    trial, which grants a subscription's routers but is none)."""
    return [lic for lic in chain if lic.role in (Role.SUBSCRIPTION, Role.RENEWAL)
            and ARTICLES[lic.article].variant == renewal.variant]


def _activation_advice(terms: LicenceTerms, article: Article, chain: Sequence[Licence], at: dt.date) -> str:
    """When a key not yet activated can still be activated (D0.31), and for a renewal, whether now anything is
    there to extend (D0.25): no advice that cannot succeed."""
    deadline = add_months(terms.purchased, ACTIVATION_MONTHS)
    by = f"activate it by {last_day(deadline)} (24 months after its purchase, D0.31)"
    if article.role is not Role.RENEWAL:
        return by
    term_end = _continued_until(_extendable(chain, article), at)
    if term_end is None:
        ended = max((lic.end for lic in _extendable(chain, article) if lic.end is not None and lic.end <= at),
                    default=None)
        since = f" (the last one held until the end of {last_day(ended)})" if ended is not None else ""
        return (f"cannot be activated now: no {article.variant} subscription is valid on {at} for it to extend"
                f"{since}, and an expired one cannot be renewed (D0.25, D0.32); it can only extend a new "
                f"subscription, and only if activated by {last_day(deadline)} (D0.31)")
    if term_end < deadline:
        return (f"activate it by {last_day(term_end)}, the last day of the subscription it extends: after that "
                "there is nothing to renew (D0.25, D0.32)")
    return by


def _continued_until(licences: Iterable[Licence], day: dt.date) -> dt.date | None:
    """The (exclusive) end of the licences holding on `day`, following those that continue them without a gap."""
    candidates = [lic for lic in licences if lic.end is not None]
    until: dt.date | None = None
    current = day
    while True:
        ends = [lic.end for lic in candidates if _holds(lic, current) and lic.end is not None]
        if not ends or (until is not None and max(ends) <= until):
            return until
        until = current = max(ends)


def _holds(licence: Licence, day: dt.date) -> bool:
    return licence.start is not None and licence.end is not None and licence.start <= day < licence.end \
        and licence.state is not State.INVALID


def _capacity(licences: Iterable[Licence], day: dt.date) -> int:
    return sum(lic.routers for lic in licences if lic.role in (Role.SUBSCRIPTION, Role.RENEWAL, Role.TRIAL)
               and _holds(lic, day))


def _api_until(licences: Sequence[Licence], day: dt.date) -> dt.date | None:
    """The end of the API licence (or trial) valid on `day`, following any that continue it."""
    return _continued_until((lic for lic in licences if lic.role in (Role.API, Role.TRIAL)), day)


def _expiry_warnings(licences: Sequence[Licence], registered: int, at: dt.date) -> list[str]:
    """Licences ending within 90 days whose end would leave too few routers, or no API licence."""
    notes = []
    for lic in licences:
        if lic.state is not State.VALID or lic.end is None:
            continue
        days = (lic.end - at).days  # the days it still holds, `at` included
        threshold = next((limit for limit in sorted(WARN_DAYS) if days <= limit), None)
        if threshold is None:
            continue
        short = lic.role != Role.API.value and _capacity(licences, lic.end) < registered
        api_gap = lic.role in (Role.API.value, Role.TRIAL.value) and _api_until(licences, lic.end) is None
        if short or api_gap:
            what = "then no API licence is left (D0.23)" if api_gap and not short else \
                f"then capacity drops to {_capacity(licences, lic.end)} for {registered} routers"
            notes.append(f"licence {lic.key} ({lic.name}) is valid until the end of {lic.last_day}, {days} "
                         f"day{'s' if days != 1 else ''} left (under {threshold}): {what}")
    return notes


def fleet_licences(entitlements: Sequence[Located], fleet: Fleet, now: dt.datetime | dt.date) -> Judged:
    """The fleet's licences judged on the date it is `now` in the fleet's time zone (or on the day `now`), with
    D0.35's support coverage and D0.3's approval."""
    day = now.astimezone(ZoneInfo(fleet.spec.timezone)).date() if isinstance(now, dt.datetime) else now
    report, problems = evaluate(entitlements, fleet.spec.variant.value, len(fleet.devices), day)
    origin = next((f.origin for f in entitlements if isinstance(f.spec, LicencesFile)), Origin("licences"))
    problems += [warning("licence-support", note, origin) for note in support_coverage(fleet, report)]
    return report, problems + approval_problems(fleet, day)


def approval_problems(fleet: Fleet, day: dt.date) -> list[Problem]:
    """D0.3: more than 5,000 routers need an approval given before: one dated after `day` is not one yet
    (validation checks that one is recorded and covers the count; only the date needs "now")."""
    approval = fleet.spec.approval
    if approval is None or len(fleet.devices) <= APPROVAL_ABOVE or approval.approved_on <= day:
        return []
    return [error("approval-not-prior", f"{len(fleet.devices):,} devices: the approval {approval.reference} is "
                  f"dated {approval.approved_on}, after {day}: registering more than {APPROVAL_ABOVE:,} routers "
                  "needs a prior approval (D0.3)", Origin("fleet.yaml", ("approval", "approved_on")))]


def sign(private_key: str, terms: LicenceTerms) -> str:
    """A purely computational function: the base64 Ed25519 signature of `terms` (for vendors and tests)."""
    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(private_key))
    return base64.b64encode(key.sign(signed_bytes(terms))).decode()


def public_key_of(private_key: str) -> str:
    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(private_key))
    return base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def support_coverage(fleet: Fleet, report: LicenceReport) -> list[str]:
    """D0.35: the vendor supports the newest firmware of a model or one at most a year older, and only under a
    valid or trial licence. Messages for the fleet's routers outside that (only for licence-managed fleets)."""
    if not report.managed:
        return []
    covered = any(lic.role in (Role.SUBSCRIPTION, Role.RENEWAL, Role.TRIAL) and _holds(lic, report.at)
                  for lic in report.licences)
    if not covered:
        return [f"no valid subscription or trial licence on {report.at}: the vendor supports no version (D0.35)"]
    outside: dict[tuple[str, str], list[str]] = {}
    for device in fleet.devices.values():
        running = fleet.firmware.get(device.firmware or "")
        candidates = [f for f in fleet.firmware.values() if device.model in f.models and f.released is not None]
        if running is None or running.released is None or not candidates:
            continue
        newest = max(candidates, key=lambda f: f.released or dt.date.min)
        assert newest.released is not None
        if running.released < add_months(newest.released, -12):
            outside.setdefault((running.version, newest.version), []).append(device.name)
    return [f"{len(names)} router(s) run {old}, more than a year older than {new}, the newest for their model: "
            f"outside vendor support (D0.35): {', '.join(sorted(names)[:5])}{' …' if len(names) > 5 else ''}"
            for (old, new), names in sorted(outside.items())]
