"""The PBX rental ledger (D1): credits topped up, selections charged to the second, run time.

Where it sits: `app.entitlements.costs` (and `validate`) hand it the account's top-ups, the price
lists, and every version of every PBX's selection with the time it was configured (rebuilt from
git history by `shell.git.history`: the commit time, unless the file says `effective:`), plus "now".
A purely computational module; amounts are exact (fractions of a credit), shown to 4 places.

- D1.4/D1.5: a selection costs, per second, the monthly rent of its articles at the price list
  current when it was configured, divided by `SECONDS_PER_MONTH` (our reading of an average month:
  365 × 86,400 / 12 = 2,628,000 s); durations are elapsed time, computed in UTC;
- D1.5/D1.8: versions count in commit order; what was charged stays charged, so only a PBX's first
  version may be backdated with `effective:`, a later one counts from its commit at the earliest
  (`schedule`);
- D1.6/D1.10: one balance per account; top-ups at any time; bound credits are never removed,
  changed or moved to another account (`bound_credit_problems`, from the account's history);
- D1.7: a selection configured while the balance is zero cannot start (an error);
- D1.8/D1.9: after every change, the monthly consumption and the run time follow;
- D1.11: at zero every rented licence stops until a top-up resumes them;
- D1.12: an empty selection costs nothing; unused credit stays;
- D1.1: hardware licences (01-00500-xxx), partner software and articles not marked rentable are
  refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from reconciler.core.entitlements.models.rentals import AccountFile, PriceArticle, PriceList, SelectionFile, TopUp
from reconciler.core.problems import Origin, Problem, error, warning

ACCOUNT = "rentals/account.yaml"
SECONDS_PER_MONTH = 365 * 86_400 // 12  # 2,628,000: the average month of D1.4 (interpretation)
HARDWARE_PREFIX = "01-00500-"  # D1.1
RUN_OUT_WARNINGS = (dt.timedelta(weeks=7), dt.timedelta(weeks=1), dt.timedelta(days=1))


@dataclass(frozen=True)
class SelectionVersion:
    """One PBX's selection as configured at a time (a commit of its file, or its `effective:`)."""

    pbx: str
    configured_at: dt.datetime  # as asked: its `effective:` time, or its commit time
    spec: SelectionFile | None  # None: the file was deleted (the rental ended)
    origin: Origin
    revision: str | None = None  # the commit that made it
    committed_at: dt.datetime | None = None  # the time of that commit (None: not committed)


@dataclass(frozen=True)
class Line:
    article: str
    name: str
    quantity: int
    credits_per_month: Decimal  # per piece, at the price list of the configuration time

    @property
    def monthly(self) -> Fraction:
        return Fraction(self.credits_per_month) * self.quantity


@dataclass(frozen=True)
class PbxRent:
    pbx: str
    configured_at: dt.datetime
    revision: str | None
    lines: tuple[Line, ...]

    @property
    def monthly(self) -> Fraction:
        return sum((line.monthly for line in self.lines), Fraction(0))


@dataclass(frozen=True)
class Segment:
    """Credits consumed at a constant rate from `start` to `end`."""

    start: dt.datetime
    end: dt.datetime
    per_second: Fraction

    def consumed(self, since: dt.datetime | None = None, until: dt.datetime | None = None) -> Fraction:
        start = max(self.start, since) if since else self.start
        end = min(self.end, until) if until else self.end
        return self.per_second * max(Fraction(0), seconds_between(start, end))


def seconds_between(since: dt.datetime, until: dt.datetime) -> Fraction:
    """Elapsed seconds, computed in UTC: two times in the same zone (a month in Europe/Berlin) would subtract as
    wall clocks, and a DST month would be an hour off."""
    return Fraction((until.astimezone(dt.UTC) - since.astimezone(dt.UTC)).total_seconds()).limit_denominator(1000)


def _later(when: dt.datetime, seconds: Fraction) -> dt.datetime:
    """`seconds` after `when` (elapsed, in UTC), shown in `when`'s zone."""
    return (when.astimezone(dt.UTC) + dt.timedelta(seconds=float(seconds))).astimezone(when.tzinfo)


@dataclass(frozen=True)
class Ledger:
    at: dt.datetime
    account: str
    topped_up: Fraction
    consumed: Fraction
    balance: Fraction
    per_second: Fraction  # the current selections' rate, running or not
    rents: tuple[PbxRent, ...]  # the current selection of each PBX
    runs_out: dt.datetime | None  # when the balance reaches zero at the current rate
    stopped_since: dt.datetime | None  # D1.11: the balance is zero and the rentals are stopped
    segments: tuple[Segment, ...] = field(default=(), repr=False)

    @property
    def monthly(self) -> Fraction:
        """D1.9: the monthly consumption of the current selections."""
        return self.per_second * SECONDS_PER_MONTH

    def consumed_between(self, since: dt.datetime, until: dt.datetime) -> Fraction:
        return sum((segment.consumed(since, until) for segment in self.segments), Fraction(0))


def price_list_at(lists: Sequence[PriceList], when: dt.datetime) -> dict[str, PriceArticle]:
    """The articles of the price list current at `when` (the newest whose effective day has begun, UTC)."""
    day = when.astimezone(dt.UTC).date()
    current = [price_list for price_list in lists if price_list.effective <= day]
    if not current:
        return {}
    newest = max(current, key=lambda price_list: price_list.effective)
    return {article.article: article for article in newest.articles}


def ledger(account: str, top_ups: Sequence[TopUp], lists: Sequence[PriceList],
           versions: Sequence[SelectionVersion], at: dt.datetime) -> tuple[Ledger, list[Problem]]:
    """A purely computational function: the account's ledger at `at`, and what is wrong with the rentals.
    `versions` come in commit order (oldest first, uncommitted ones last): the order decides which is current."""
    problems: list[Problem] = []
    seen: dict[str, TopUp] = {}
    for index, top in enumerate(top_ups):  # D1.3: an activation key is bound to the account once
        if top.key in seen:
            problems.append(error("rental-key", f"activation key {top.key} is used twice: a key credits the "
                                  "account once (D1.3)", Origin(ACCOUNT, ("top_ups", index, "key"))))
        seen.setdefault(top.key, top)
    top_ups = list(seen.values())
    scheduled = [entry for entry in schedule(versions) if entry.starts <= at]
    current = {entry.version.pbx: entry for entry in scheduled}  # the last in force by `at`, per PBX
    events: list[tuple[dt.datetime, int, int, TopUp | Scheduled]] = [(t.at, 0, 0, t) for t in top_ups if t.at <= at]
    events += [(entry.starts, 1, entry.order, entry) for entry in scheduled]
    events.sort(key=lambda event: event[:3])
    rents: dict[str, PbxRent] = {}
    balance = topped = Fraction(0)
    segments: list[Segment] = []
    clock: dt.datetime | None = None
    stopped: dt.datetime | None = None
    for when, _, _, event in events:
        balance, stopped = _run(segments, rents, balance, stopped, clock, when)
        clock = when
        if isinstance(event, TopUp):
            balance += Fraction(event.credits)
            topped += Fraction(event.credits)
            stopped = None if balance > 0 else stopped
        else:
            is_current = current[event.version.pbx] is event
            reported = problems if is_current else []
            _start(rents, _rent(event, lists, reported), event, balance, reported)
            reported.extend(_backdating(event))
    balance, stopped = _run(segments, rents, balance, stopped, clock, at)
    rate = _rate(rents)
    runs_out = _later(at, balance / rate) if rate > 0 and balance > 0 else None
    result = Ledger(at, account, topped, topped - balance, balance, rate, tuple(rents[p] for p in sorted(rents)),
                    runs_out, stopped if rate > 0 else None, tuple(segments))
    problems.extend(_run_out_warnings(result))
    return result, problems


@dataclass(frozen=True)
class Scheduled:
    """A selection version in force from `starts` until the next one of its PBX."""

    version: SelectionVersion
    starts: dt.datetime
    order: int  # its position in commit order

    @property
    def backdated(self) -> bool:
        """Its `effective:` lay before its commit, which had charged the PBX's earlier versions already."""
        return self.starts != self.version.configured_at


def schedule(versions: Sequence[SelectionVersion]) -> list[Scheduled]:
    """D1.5/D1.8 in commit order: when each version takes over, and which were superseded before they did.

    What was charged stays charged: a version with a predecessor counts from its commit at the earliest (an
    `effective:` before the commit, kept from an earlier version or written anew, would re-bill the past).
    Only the first version of a PBX's selection may be backdated. A later commit supersedes whatever an earlier
    one scheduled for the same moment or after it: the order of commits decides, not their time stamps alone
    (a file committed and deleted in the same second never was in force)."""
    timeline: dict[str, list[Scheduled]] = {}
    for order, version in enumerate(versions):
        entries = timeline.get(version.pbx)
        starts = version.configured_at
        if entries is not None and version.committed_at is not None:
            starts = max(starts, version.committed_at)
        kept = [entry for entry in entries or () if entry.starts < starts]
        timeline[version.pbx] = [*kept, Scheduled(version, starts, order)]
    return sorted((entry for entries in timeline.values() for entry in entries),
                  key=lambda entry: (entry.starts, entry.order))


def _backdating(entry: Scheduled) -> list[Problem]:
    """A warning where `effective:` was overridden, at that key, while the version is the current one."""
    version = entry.version
    if not entry.backdated or version.spec is None or version.spec.effective is None:
        return []
    commit = f"commit {version.revision[:10]}" if version.revision else "its commit"
    return [warning("rental-effective", f"{version.pbx}: `effective: {version.configured_at.isoformat()}` lies "
                    f"before {commit} ({entry.starts.isoformat()}), which changed a selection already charged: "
                    "what was consumed stays consumed, so this selection counts from its commit (D1.5, D1.8); "
                    "update or remove `effective:`", version.origin.child("effective"))]


def _rate(rents: Mapping[str, PbxRent]) -> Fraction:
    return sum((rent.monthly for rent in rents.values()), Fraction(0)) / SECONDS_PER_MONTH


def _run(segments: list[Segment], rents: Mapping[str, PbxRent], balance: Fraction, stopped: dt.datetime | None,
         since: dt.datetime | None, until: dt.datetime) -> tuple[Fraction, dt.datetime | None]:
    """Charge the running selections from `since` to `until`; stop them when the balance reaches zero (D1.11)."""
    rate = _rate(rents)
    if since is None or until <= since or rate == 0 or stopped is not None or balance <= 0:
        return balance, stopped if rate > 0 else None
    seconds = seconds_between(since, until)
    if rate * seconds < balance:
        segments.append(Segment(since, until, rate))
        return balance - rate * seconds, None
    end = _later(since, balance / rate)
    segments.append(Segment(since, end, rate))
    return Fraction(0), end


def _rent(entry: Scheduled, lists: Sequence[PriceList], problems: list[Problem]) -> PbxRent:
    """The selection priced at the list current when it took effect (D1.5); D1.1 refusals into `problems`."""
    version = entry.version
    prices = price_list_at(lists, entry.starts)
    lines = []
    for index, selected in enumerate(version.spec.articles if version.spec else ()):
        price = prices.get(selected.article)
        refused = _refusal(selected.article, price, entry.starts)
        if refused is not None:
            problems.append(error("rental-article", f"{version.pbx}: {refused}",
                                  version.origin.child("articles", index, "article")))
            continue
        assert price is not None
        lines.append(Line(selected.article, price.name, selected.quantity, price.credits_per_month))
    return PbxRent(version.pbx, entry.starts, version.revision, tuple(lines))


def _refusal(article: str, price: PriceArticle | None, when: dt.datetime) -> str | None:
    if article.startswith(HARDWARE_PREFIX):
        return f"article {article} is a hardware licence (01-00500-xxx): hardware is never rented (D1.1)"
    if price is None:
        return f"article {article} is not on the price list current on {when.date()} (D1.1, D1.5)"
    if price.partner:
        return f"article {article} ({price.name}) is partner software: not rentable (D1.1)"
    if not price.rentable:
        return f"article {article} ({price.name}) is not marked rentable on the price list (D1.1)"
    return None


def _start(rents: dict[str, PbxRent], rent: PbxRent, entry: Scheduled, balance: Fraction,
           problems: list[Problem]) -> None:
    version = entry.version
    previous = rents.get(version.pbx)
    if version.spec is None or not rent.lines:
        rents.pop(version.pbx, None)  # D1.12: nothing rented, nothing charged
        return
    if balance <= 0 and rent.monthly > (previous.monthly if previous else 0):
        problems.append(error("rental-no-credit", f"{version.pbx}: the selection configured at "
                              f"{entry.starts.isoformat()} cannot start: the account has no credit "
                              "(load credit first, D1.7)", version.origin))
    rents[version.pbx] = rent


def _run_out_warnings(result: Ledger) -> list[Problem]:
    if result.runs_out is None and result.stopped_since is None:
        return []
    origin = Origin(ACCOUNT)
    if result.stopped_since is not None:
        return [error("rental-stopped", f"the credits ran out at {result.stopped_since.isoformat()}: every rented "
                      "licence is deactivated until a top-up (D1.11)", origin)]
    assert result.runs_out is not None
    left = result.runs_out.astimezone(dt.UTC) - result.at.astimezone(dt.UTC)
    threshold = next((limit for limit in sorted(RUN_OUT_WARNINGS) if left <= limit), None)
    if threshold is None:
        return []
    return [warning("rental-run-time", f"the credits run out at {result.runs_out.isoformat(timespec='minutes')} "
                    f"(in {_span(left)}, under {_span(threshold)}); then every rented licence stops (D1.11)",
                    origin)]


def _span(delta: dt.timedelta) -> str:
    if delta >= dt.timedelta(weeks=1) and delta.days % 7 == 0 and delta.seconds == 0:
        return f"{delta.days // 7} weeks" if delta.days > 7 else "1 week"
    if delta >= dt.timedelta(days=1):
        return f"{delta.days} days" if delta.days > 1 else "1 day"
    return f"{int(delta.total_seconds() // 3600)} hours"


@dataclass(frozen=True)
class AccountVersion:
    """One committed version of rentals/account.yaml."""

    revision: str
    spec: AccountFile | None  # None: the commit deleted it (and forfeited its credits, D1.6)


def bound_credit_problems(history: Sequence[AccountVersion], current: AccountFile) -> list[Problem]:
    """D1.6: credits bound to the account cannot be removed, changed or moved to another account. Every top-up
    ever committed must still be in the file as it was, under the account it was bound to; a deleted account
    forfeited its credits, and its keys credit no account again (D1.3). Errors name the key and the commit."""
    owner, bound, forfeited = _bound_credits(history)
    problems = []
    if owner is not None and current.account != owner:
        keys = ", ".join(sorted(bound))
        problems.append(error("rental-account-moved", f"the account is {current.account!r}, but the credits of "
                              f"{keys} are bound to {owner!r}: credits cannot be moved to another account (D1.6)",
                              Origin(ACCOUNT, ("account",))))
    present = {top.key: (index, top) for index, top in enumerate(current.top_ups)}
    for key, (top, revision) in bound.items():
        if key not in present:
            problems.append(error("rental-credit-removed", f"activation key {key} ({top.credits} iSC at "
                                  f"{top.at.isoformat()}, bound by commit {revision[:10]}) is no longer in the "
                                  "account: credits cannot be removed (D1.6); restore its top-up",
                                  Origin(ACCOUNT, ("top_ups",))))
            continue
        index, now = present[key]
        if (now.credits, now.at) != (top.credits, top.at):
            changed = "credits" if now.credits != top.credits else "at"
            problems.append(error("rental-credit-changed", f"activation key {key} was bound with {top.credits} iSC "
                                  f"at {top.at.isoformat()} (commit {revision[:10]}): a bound top-up cannot be "
                                  "changed (D1.6)", Origin(ACCOUNT, ("top_ups", index, changed))))
    for key, (account, revision) in forfeited.items():
        if key in present and key not in bound:
            problems.append(error("rental-credit-forfeited", f"activation key {key} credited account {account!r}, "
                                  f"which commit {revision[:10]} deleted: its credits were forfeited with it (D1.6), "
                                  "and a key credits an account once (D1.3)",
                                  Origin(ACCOUNT, ("top_ups", present[key][0], "key"))))
    return problems


Bound = dict[str, tuple[TopUp, str]]  # key → the top-up as first committed, and that commit


def _bound_credits(history: Sequence[AccountVersion]) -> tuple[str | None, Bound, dict[str, tuple[str, str]]]:
    """The account the credits are bound to (from its first top-up on), the top-ups bound to it, and the keys of
    deleted accounts (key → that account, and the commit that deleted it)."""
    bound: Bound = {}
    forfeited: dict[str, tuple[str, str]] = {}
    owner: str | None = None
    for version in history:
        if version.spec is None:
            forfeited.update((key, (owner or "?", version.revision)) for key in bound)
            bound, owner = {}, None
            continue
        if owner is None and version.spec.top_ups:
            owner = version.spec.account
        for top in version.spec.top_ups:
            bound.setdefault(top.key, (top, version.revision))
    return owner, bound, forfeited
