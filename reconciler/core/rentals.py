"""The PBX rental ledger (D1): credits topped up, selections charged to the second, run time.

Where it sits: `app.entitlements.costs` (and `validate`) hand it the account's top-ups, the price
lists, and every version of every PBX's selection with the time it was configured (rebuilt from
git history by `shell.history`: the commit time, unless the file says `effective:`), plus "now".
A purely computational module; amounts are exact (fractions of a credit), shown to 4 places.

- D1.4/D1.5: a selection costs, per second, the monthly rent of its articles at the price list
  current when it was configured, divided by `SECONDS_PER_MONTH` (our reading of an average month:
  365 × 86,400 / 12 = 2,628,000 s);
- D1.6/D1.10: one balance per account; top-ups at any time;
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

from reconciler.core.models.rentals import PriceArticle, PriceList, SelectionFile, TopUp
from reconciler.core.problems import Origin, Problem, error, warning

SECONDS_PER_MONTH = 365 * 86_400 // 12  # 2,628,000: the average month of D1.4 (interpretation)
HARDWARE_PREFIX = "01-00500-"  # D1.1
RUN_OUT_WARNINGS = (dt.timedelta(weeks=7), dt.timedelta(weeks=1), dt.timedelta(days=1))


@dataclass(frozen=True)
class SelectionVersion:
    """One PBX's selection as configured at a time (a commit of its file, or its `effective:`)."""

    pbx: str
    configured_at: dt.datetime
    spec: SelectionFile | None  # None: the file was deleted (the rental ended)
    origin: Origin
    revision: str | None = None  # the commit that made it


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
        return self.per_second * Fraction(max(0.0, (end - start).total_seconds())).limit_denominator(1000)


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
    """A purely computational function: the account's ledger at `at`, and what is wrong with the rentals."""
    problems: list[Problem] = []
    seen: dict[str, TopUp] = {}
    for index, top in enumerate(top_ups):  # D1.3: an activation key is bound to the account once
        if top.key in seen:
            problems.append(error("rental-key", f"activation key {top.key} is used twice: a key credits the "
                                  "account once (D1.3)", Origin("rentals/account.yaml", ("top_ups", index, "key"))))
        seen.setdefault(top.key, top)
    top_ups = list(seen.values())
    events: list[tuple[dt.datetime, int, object]] = [(t.at, 0, t) for t in top_ups if t.at <= at]
    events += [(v.configured_at, 1, v) for v in versions if v.configured_at <= at]
    events.sort(key=lambda event: (event[0], event[1]))
    rents: dict[str, PbxRent] = {}
    balance = topped = Fraction(0)
    segments: list[Segment] = []
    clock: dt.datetime | None = None
    stopped: dt.datetime | None = None
    for when, _, event in events:
        balance, stopped = _run(segments, rents, balance, stopped, clock, when)
        clock = when
        if isinstance(event, TopUp):
            balance += Fraction(event.credits)
            topped += Fraction(event.credits)
            stopped = None if balance > 0 else stopped
        else:
            assert isinstance(event, SelectionVersion)
            current = _is_current(event, versions, at)
            _start(rents, _rent(event, lists, problems, current), event, balance, problems if current else [])
    balance, stopped = _run(segments, rents, balance, stopped, clock, at)
    rate = _rate(rents)
    runs_out = at + dt.timedelta(seconds=float(balance / rate)) if rate > 0 and balance > 0 else None
    result = Ledger(at, account, topped, topped - balance, balance, rate, tuple(rents[p] for p in sorted(rents)),
                    runs_out, stopped if rate > 0 else None, tuple(segments))
    problems.extend(_run_out_warnings(result))
    return result, problems


def _rate(rents: Mapping[str, PbxRent]) -> Fraction:
    return sum((rent.monthly for rent in rents.values()), Fraction(0)) / SECONDS_PER_MONTH


def _run(segments: list[Segment], rents: Mapping[str, PbxRent], balance: Fraction, stopped: dt.datetime | None,
         since: dt.datetime | None, until: dt.datetime) -> tuple[Fraction, dt.datetime | None]:
    """Charge the running selections from `since` to `until`; stop them when the balance reaches zero (D1.11)."""
    rate = _rate(rents)
    if since is None or until <= since or rate == 0 or stopped is not None or balance <= 0:
        return balance, stopped if rate > 0 else None
    seconds = Fraction((until - since).total_seconds()).limit_denominator(1000)
    if rate * seconds < balance:
        segments.append(Segment(since, until, rate))
        return balance - rate * seconds, None
    end = since + dt.timedelta(seconds=float(balance / rate))
    segments.append(Segment(since, end, rate))
    return Fraction(0), end


def _is_current(version: SelectionVersion, versions: Sequence[SelectionVersion], at: dt.datetime) -> bool:
    later = [v for v in versions if v.pbx == version.pbx and version.configured_at < v.configured_at <= at]
    return not later


def _rent(version: SelectionVersion, lists: Sequence[PriceList], problems: list[Problem], current: bool) -> PbxRent:
    """The selection priced at the list current when it was configured (D1.5); D1.1 refusals for the current one."""
    prices = price_list_at(lists, version.configured_at)
    lines = []
    for index, selected in enumerate(version.spec.articles if version.spec else ()):
        price = prices.get(selected.article)
        refused = _refusal(selected.article, price, version.configured_at)
        if refused is not None:
            if current:
                problems.append(error("rental-article", f"{version.pbx}: {refused}",
                                      version.origin.child("articles", index, "article")))
            continue
        assert price is not None
        lines.append(Line(selected.article, price.name, selected.quantity, price.credits_per_month))
    return PbxRent(version.pbx, version.configured_at, version.revision, tuple(lines))


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


def _start(rents: dict[str, PbxRent], rent: PbxRent, version: SelectionVersion, balance: Fraction,
           problems: list[Problem]) -> None:
    previous = rents.get(version.pbx)
    if version.spec is None or not rent.lines:
        rents.pop(version.pbx, None)  # D1.12: nothing rented, nothing charged
        return
    if balance <= 0 and rent.monthly > (previous.monthly if previous else 0):
        problems.append(error("rental-no-credit", f"{version.pbx}: the selection configured at "
                              f"{version.configured_at.isoformat()} cannot start: the account has no credit "
                              "(load credit first, D1.7)", version.origin))
    rents[version.pbx] = rent


def _run_out_warnings(result: Ledger) -> list[Problem]:
    if result.runs_out is None and result.stopped_since is None:
        return []
    origin = Origin("rentals/account.yaml")
    if result.stopped_since is not None:
        return [error("rental-stopped", f"the credits ran out at {result.stopped_since.isoformat()}: every rented "
                      "licence is deactivated until a top-up (D1.11)", origin)]
    assert result.runs_out is not None
    left = result.runs_out - result.at
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
