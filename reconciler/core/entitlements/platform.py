"""The hosted platform (D2): instance URLs, maintenance windows, and monthly availability.

Where it sits: `validate`, `reconciler windows` (and, later, rollout windows and blackouts) call
these with the instances of `services/paas.yaml` and the times to look at. A purely computational
module: time zones from zoneinfo, "now" and ranges are arguments.

- D2.2/D2.3 URLs: `https://<company>.myIntrexx.com`, test and dev with `-test`/`-dev`, or the
  customer's own domain (with the customer's certificate, which must be in the repository);
- D2.6 windows: the first Tuesday of every month from 17:00 Europe/Berlin, announced 7 days ahead;
  critical planned maintenance counts as planned only if announced 72 hours ahead;
- D2.8 availability per month: 99.5 %, after deducting planned maintenance; only critical,
  provider-caused downtime counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from reconciler.core.entitlements import sla
from reconciler.core.entitlements.licences import add_months
from reconciler.core.entitlements.models.platform import Cause, Environment, Instance, PaasFile, Severity
from reconciler.core.fleets import Located
from reconciler.core.problems import Problem, error, warning

BERLIN = ZoneInfo("Europe/Berlin")
WINDOW_HOUR = 17  # D2.6: from 17:00
MONTHLY_NOTICE = dt.timedelta(days=7)  # D2.6
CRITICAL_NOTICE = dt.timedelta(hours=72)  # D2.6
AVAILABILITY_TARGET = 0.995  # D2.8
DOMAIN_SUFFIX = "myIntrexx.com"


@dataclass(frozen=True)
class Window:
    kind: str  # monthly | critical
    start: dt.datetime
    end: dt.datetime
    announce_by: dt.datetime  # the latest the announcement may come
    instance: str | None = None  # critical windows belong to one instance
    reason: str = ""


def instance_urls(instance: Instance) -> dict[str, str]:
    """D2.2/D2.3: each environment's URL (prod on the customer's own domain, if it has one)."""
    urls = {}
    for environment in instance.environments:
        suffix = "" if environment is Environment.PROD else f"-{environment.value}"
        urls[environment.value] = f"https://{instance.company}{suffix}.{DOMAIN_SUFFIX}"
    if instance.domain is not None and Environment.PROD in instance.environments:
        urls["prod"] = f"https://{instance.domain.name}"
    return urls


def first_tuesday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(1 - first.weekday()) % 7)


def monthly_windows(since: dt.datetime, until: dt.datetime, duration: dt.timedelta) -> Iterator[Window]:
    """D2.6: every monthly window that overlaps [since, until), 17:00 Berlin time on the first Tuesday."""
    local = since.astimezone(BERLIN)
    year, month = local.year, local.month - 1
    if month == 0:
        year, month = year - 1, 12
    while True:
        day = first_tuesday(year, month)
        # in UTC from here: durations and notice periods are elapsed time, not wall-clock differences
        start = dt.datetime(day.year, day.month, day.day, WINDOW_HOUR, tzinfo=BERLIN).astimezone(dt.UTC)
        if start >= until:
            return
        if start + duration > since:
            yield Window("monthly", start, start + duration, start - MONTHLY_NOTICE)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def critical_windows(instance: Instance) -> list[Window]:
    """The critical planned maintenance announced 72 hours ahead (later announcements are unplanned, D2.6)."""
    return [Window("critical", a.start, a.start + a.duration, a.start - CRITICAL_NOTICE, instance.name, a.reason)
            for a in instance.critical_maintenance if a.start - a.announced >= CRITICAL_NOTICE]


def windows(paas: PaasFile, since: dt.datetime, until: dt.datetime) -> list[Window]:
    found = list(monthly_windows(since, until, paas.maintenance_duration))
    found += [w for instance in paas.instances for w in critical_windows(instance) if w.end > since and w.start < until]
    return sorted(found, key=lambda w: (w.start, w.instance or ""))


@dataclass(frozen=True)
class Availability:
    instance: str
    month: str
    planned_s: float  # maintenance deducted from the month
    counted_s: float  # critical, provider-caused downtime outside planned maintenance
    availability: float

    @property
    def met(self) -> bool:
        return self.availability >= AVAILABILITY_TARGET


def availability(paas: PaasFile, instance: Instance, year: int, month: int) -> Availability:
    """D2.8: 1 − counted downtime / (the month − planned maintenance). The month is Berlin's calendar month, its
    length elapsed time (UTC): March has 743 hours, October 745."""
    start = dt.datetime(year, month, 1, tzinfo=BERLIN).astimezone(dt.UTC)
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=BERLIN).astimezone(dt.UTC)
    planned = _merge([(w.start, w.end) for w in windows(paas, start, end) if w.instance in (None, instance.name)],
                     start, end)
    counted = [(d.start, d.end) for d in instance.downtimes
               if d.severity is Severity.CRITICAL and d.cause is Cause.PROVIDER]
    counted_s = sum(_seconds_outside(span, planned, start, end) for span in _merge(counted, start, end))
    planned_s = sum((b - a).total_seconds() for a, b in planned)
    total = (end - start).total_seconds() - planned_s
    return Availability(instance.name, f"{year:04d}-{month:02d}", planned_s, counted_s, 1 - counted_s / total)


def _merge(spans: Sequence[tuple[dt.datetime, dt.datetime]], start: dt.datetime,
           end: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    clipped = sorted((max(a, start).astimezone(dt.UTC), min(b, end).astimezone(dt.UTC))  # UTC: elapsed time
                     for a, b in spans if b > start and a < end)
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for a, b in clipped:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _seconds_outside(span: tuple[dt.datetime, dt.datetime], planned: Sequence[tuple[dt.datetime, dt.datetime]],
                     start: dt.datetime, end: dt.datetime) -> float:
    a, b = span
    inside = sum(max(0.0, (min(b, pb) - max(a, pa)).total_seconds()) for pa, pb in planned)
    return (b - a).total_seconds() - inside


HANDOVER = dt.timedelta(weeks=4)  # D2.10


def provisioning_due(ordered: dt.datetime) -> dt.datetime:
    """D2.4: an instance is provisioned within one business day (support hours, D2.11's calendar)."""
    return sla.end_of_business_day(sla.PAAS_SUPPORT, ordered, 1)


def handover_by(terminated: dt.date) -> dt.date:
    """D2.10: after termination the data is handed over within 4 weeks, then deleted."""
    return terminated + HANDOVER


BACKUP_EVERY = dt.timedelta(hours=24)  # D2.9


def platform_problems(located: Located, files: Mapping[str, object], now: dt.datetime | None = None) -> list[Problem]:
    """Unique instance names; a custom domain's certificate must be in the repository (D2.2); backups (D2.9)."""
    spec = located.spec
    assert isinstance(spec, PaasFile)
    problems, seen = [], set()
    for index, instance in enumerate(spec.instances):
        where = located.origin.child("instances", index)
        if instance.name in seen:
            problems.append(error("paas-duplicate", f"instance {instance.name!r} is declared twice", where))
        seen.add(instance.name)
        if instance.domain is not None and instance.domain.certificate not in files:
            problems.append(error("paas-certificate", f"{instance.name}: the certificate "
                                  f"{instance.domain.certificate!r} of {instance.domain.name} is not in the "
                                  "repository (the customer supplies domain and certificate, D2.2)",
                                  where.child("domain", "certificate")))
        if now is not None and instance.last_backup is not None and now - instance.last_backup > BACKUP_EVERY:
            problems.append(warning("paas-backup", f"{instance.name}: the last backup is from "
                                    f"{instance.last_backup.isoformat()}, more than 24 hours ago: a restore could lose "
                                    "more than D2.9 allows", where.child("last_backup")))
        postponed = instance.postponed_update
        if postponed is not None and postponed.until > add_months(postponed.release, 6):  # D2.7
            problems.append(error("paas-postpone", f"{instance.name}: the major update released {postponed.release} "
                                  f"can be postponed until {add_months(postponed.release, 6)} at most (6 months, D2.7)",
                                  where.child("postponed_update", "until")))
        for number, downtime in enumerate(instance.downtimes):
            if downtime.end <= downtime.start:
                problems.append(error("paas-downtime", f"{instance.name}: a downtime must end after it starts",
                                      where.child("downtimes", number, "end")))
    return problems
