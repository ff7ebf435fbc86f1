"""Support terms (D4.1, D4.6–D4.9): the plan covering a product on a day, renewals, add-ons, incidents.

Where it sits: `validate` and `reconciler sla` call these with `services/support.yaml` and "now";
the daemon maps its own events onto `INCIDENTS` (D4.9). A purely computational module.

- D4.1 every product has basic for the 12 months after its purchase;
- D4.6 a renewal ordered before expiry or within 120 days after it continues at the old expiry;
  ordered later, it starts on the order date, and an upgrade fee is due for each (started) year of lapse;
- D4.7 add-ons end with their base product's plan;
- D4.8 the end of support ends a term early; an end-of-life product has no support;
- D4.9 the events proactive monitoring raises, with their priority and reaction.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace

from reconciler.core.entitlements.licences import add_months
from reconciler.core.entitlements.models.support import Product, Renewal, SupportFile
from reconciler.core.problems import Origin, Problem, error, warning

GRACE_DAYS = 120  # D4.6

# D4.9: event → (priority, reaction); and what the daemon's own router events map onto
INCIDENTS: dict[str, tuple[str, str]] = {
    "VoIP stack crashed": ("P1", "< 1 h"),
    "a licensed application crashed": ("P1", "< 1 h"),
    "high-availability replication problem": ("P3", "< 4 h"),
    "disk space will soon run out": ("P4", "< 8 h"),
    "disk space almost exhausted": ("P3", "< 4 h"),
    "database storage will soon run out": ("P4", "< 8 h"),
    "database storage almost exhausted": ("P3", "< 4 h"),
    "channels exhausted": ("P3", "< 4 h"),
    "licence exceeded": ("P3", "< 4 h"),
    "cloud connection lost": ("P1", "< 1 h"),
}
ROUTER_EVENTS = {  # the daemon's events, read as D4.9's (our mapping)
    "management connection lost": "cloud connection lost",
    "disk almost full": "disk space almost exhausted",
    "disk filling up": "disk space will soon run out",
    "licence capacity exceeded": "licence exceeded",
}


@dataclass(frozen=True)
class Term:
    start: dt.date
    end: dt.date  # exclusive
    plan: str
    fee_years: int = 0  # D4.6: upgrade fee for the lapse before it
    renewal: int | None = None  # the index of the renewal (in the file) that made it


def renew(expiry: dt.date, renewal: Renewal) -> Term:
    """D4.6: where a renewal's term starts, and the years of lapse an upgrade fee is due for."""
    lapse = (renewal.ordered - expiry).days
    if lapse <= GRACE_DAYS:
        return Term(expiry, add_months(expiry, 12 * renewal.years), "")
    fee_years = math.ceil(lapse / 365)
    return Term(renewal.ordered, add_months(renewal.ordered, 12 * renewal.years), "", fee_years)


def terms(product: Product) -> list[Term]:
    """Every term of the product's support, in order: basic first (D4.1), then the plan and its renewals."""
    found = [Term(product.purchased, add_months(product.purchased, 12), "basic")]
    if product.plan_started is not None and product.plan_expires is not None:
        found.append(Term(product.plan_started, product.plan_expires, product.plan.value))
        for index, renewal in sorted(enumerate(product.renewals), key=lambda item: item[1].ordered):
            term = renew(found[-1].end, renewal)
            found.append(Term(term.start, term.end, product.plan.value, term.fee_years, index))
    if product.end_of_support is not None:  # D4.8
        found = [replace(t, end=min(t.end, product.end_of_support)) for t in found
                 if t.start < product.end_of_support]
    return found


def plan_on(product: Product, day: dt.date) -> Term | None:
    """The term covering `day` (the better plan where two overlap), or None: no support (D4.8: end of life)."""
    if product.end_of_life:
        return None
    covering = [t for t in terms(product) if t.start <= day < t.end]
    order = ["basic", "gold", "platinum"]
    return max(covering, key=lambda t: order.index(t.plan)) if covering else None


def support_problems(spec: SupportFile, origin: Origin, today: dt.date) -> list[Problem]:
    problems: list[Problem] = []
    for index, product in enumerate(spec.products):
        where = origin.child("products", index)
        all_terms = terms(product)
        end = max((t.end for t in all_terms), default=product.purchased)
        for number, add_on in enumerate(product.add_ons):  # D4.7
            if add_on.expires > end:
                problems.append(warning("support-add-on", f"{product.name}: add-on {add_on.name} is sold until "
                                        f"{add_on.expires}, but ends with the product's plan on {end} (D4.7)",
                                        where.child("add_ons", number, "expires")))
        for term in all_terms:  # each lapse at the renewal that lapsed (in the file's order, not the terms')
            if term.fee_years and term.renewal is not None:
                problems.append(warning("support-lapse", f"{product.name}: renewed {term.start} after more than "
                                        f"{GRACE_DAYS} days of lapse: the term starts on the order date and an "
                                        f"upgrade fee is due for {term.fee_years} year(s) (D4.6)",
                                        where.child("renewals", term.renewal)))
        if product.plan_started is not None and product.plan_expires is not None \
                and product.plan_expires <= product.plan_started:
            problems.append(error("support-term", f"{product.name}: the plan expires before it starts",
                                  where.child("plan_expires")))
    return problems


def incident(event: str) -> tuple[str, str, str] | None:
    """(D4.9 event, priority, reaction) of one of the daemon's events or of a D4.9 event itself."""
    name = ROUTER_EVENTS.get(event, event)
    found = INCIDENTS.get(name)
    return (name, *found) if found else None
