"""What the daemon reports besides routers: entitlement warnings and open incidents (D0.23–D0.33, D1.11, D4.9).

Where it sits: the reconciler calls `entitlement_notes` after each cycle (licence expiry and
capacity, the credit run time and D1.11's stop, from the revision it reconciles and its clone's
history) and `track_incidents` with the routers now unreachable; the API shows both in
`/api/v1/status`. An unreachable router is the D4.9 event "cloud connection lost" (P1), its
deadlines under the plan of the product `services/support.yaml` marks as covering the fleet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.core.entitlements import sla, support
from reconciler.core.entitlements.licences import fleet_licences
from reconciler.core.models import SupportFile
from reconciler.shell import billing
from reconciler.shell.git.protocol import FleetRepository
from reconciler.shell.revisions import LoadedRevision

UNREACHABLE_EVENT = "management connection lost"
OVER_LICENCE_EVENT = "licence capacity exceeded"
FLEET = "(fleet)"  # the subject of fleet-wide incidents


@dataclass(frozen=True)
class Incident:
    device: str
    event: str  # the D4.9 event
    priority: str
    opened_at: dt.datetime
    plan: str | None
    reaction_due: dt.datetime | None

    def as_dict(self) -> dict[str, str | None]:
        return {"device": self.device, "event": self.event, "priority": self.priority,
                "opened_at": self.opened_at.isoformat(timespec="seconds"), "plan": self.plan,
                "reaction_due": self.reaction_due.isoformat(timespec="seconds") if self.reaction_due else None}


def entitlement_notes(revision: LoadedRevision, clone: FleetRepository,
                      now: dt.datetime) -> tuple[list[str], bool]:
    """The licence and rental warnings and errors of the revision, as messages; whether capacity is exceeded."""
    fleet = revision.build.fleet
    if fleet is None:
        return [], False
    licence_problems = fleet_licences(revision.build.entitlements, fleet, now)[1]
    notes = [p.message for p in licence_problems]
    _, problems, _ = billing.rental_ledger(clone, revision.source.revision, revision, now)
    notes += [p.message for p in problems if p.code in ("rental-run-time", "rental-stopped")]
    return notes, any(p.code == "licence-capacity" for p in licence_problems)


def track_incidents(open_now: dict[str, Incident], events: Mapping[str, str], revision: LoadedRevision,
                    now: dt.datetime) -> dict[str, Incident]:
    """Open an incident for each new event (subject → the daemon's event: a router unreachable, the fleet over
    its licences), keep the open ones, close the rest. Three or more at once raise each a level (D2.13)."""
    plan, region = _fleet_plan(revision, now.date())
    kept = {subject: found for subject, found in open_now.items() if subject in events}
    for subject, happened in events.items():
        if subject in kept:
            continue
        event, priority, _ = support.incident(happened) or (happened, "P3", "")
        priority = sla.raised(priority, len(events))
        kept[subject] = Incident(subject, event, priority, now, plan, _reaction_due(plan, region, priority, now))
    return kept


def _fleet_plan(revision: LoadedRevision, day: dt.date) -> tuple[str | None, str]:
    for located in revision.build.entitlements:
        if isinstance(located.spec, SupportFile):
            for product in located.spec.products:
                term = support.plan_on(product, day) if product.covers_fleet else None
                if term is not None:
                    return term.plan, product.region.value
    return None, "europe"


def _reaction_due(plan: str | None, region: str, priority: str, opened: dt.datetime) -> dt.datetime | None:
    if plan is None:
        return None
    _, found = sla.deadlines(plan, priority, opened, region)
    return next((d.due for d in found if d.what == "reaction"), None)
