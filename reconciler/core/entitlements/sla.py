"""SLA clocks in business time (D2.11–D2.13, D4.2–D4.5): calendars, reaction and escalation deadlines.

Where it sits: `reconciler sla` (and, later, the daemon's incidents) call `deadlines` with a plan, a
priority, the time an incident was opened and a region. A purely computational module: the
calendars are data (weekly hours in a time zone, public holidays from the `holidays` package),
and every deadline is found by walking business intervals in local wall-clock time, so weekends,
holidays and DST nights fall out right.

Readings of ours where the documents are silent: "Central European" hours are Europe/Berlin's, the
Middle East's are Asia/Dubai's; Europe's public holidays are Germany's nationwide ones (D3.9's
calendar), the Americas' those of the US, the Middle East's those of the UAE; "next business day"
and "N business days" end when business hours end on that day; gold's and platinum's P1 "< 60 min"
runs in their calendars (platinum's is 24/7).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import holidays

Hours = tuple[int, int]  # from, until (hours of the day, until 24)
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
WEEKDAYS = (MON, TUE, WED, THU, FRI)


@dataclass(frozen=True)
class Calendar:
    name: str
    zone: str
    weekly: dict[int, Hours] = field(default_factory=dict)  # weekday → hours
    holiday_hours: Hours | None = None  # hours on public holidays (gold), None: closed
    holiday: Callable[[dt.date], bool] = field(default=lambda day: False, compare=False)
    always: bool = False  # 24/7/365

    def intervals(self, since: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """The business intervals from `since` on, in order, in UTC: found in local wall-clock time, but measured
        and added to as elapsed time (two times in one zone would subtract as wall clocks across a DST night)."""
        since = since.astimezone(dt.UTC)
        if self.always:
            yield since, dt.datetime.max.replace(tzinfo=dt.UTC)
            return
        zone = ZoneInfo(self.zone)
        day = since.astimezone(zone).date()
        for _ in range(3660):  # ten years of days: more than any deadline needs
            hours = self.holiday_hours if self.holiday(day) else self.weekly.get(day.weekday())
            if hours is not None:
                start, end = _at(day, hours[0], zone).astimezone(dt.UTC), _at(day, hours[1], zone).astimezone(dt.UTC)
                if end > since:
                    yield max(start, since), end
            day += dt.timedelta(days=1)


def _at(day: dt.date, hour: int, zone: ZoneInfo) -> dt.datetime:
    if hour == 24:
        day, hour = day + dt.timedelta(days=1), 0
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=zone)


def add_business_time(calendar: Calendar, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
    """`duration` of open business time after `start` (the clock stops outside business hours), in the calendar's
    zone."""
    left = duration
    for begin, end in calendar.intervals(start):
        if end - begin >= left:
            return (begin + left).astimezone(ZoneInfo(calendar.zone))
        left -= end - begin
    raise ValueError("the calendar has no business time left")  # pragma: no cover - ten years of days


def end_of_business_day(calendar: Calendar, start: dt.datetime, days: int) -> dt.datetime:
    """The end of business hours on the `days`-th business day after the day `start` falls on."""
    zone = ZoneInfo(calendar.zone)
    opened = start.astimezone(zone).date()
    counted = 0
    for begin, end in calendar.intervals(start):
        if begin.astimezone(zone).date() > opened:  # each business day is one interval in these calendars
            counted += 1
            if counted == days:
                return end.astimezone(zone)
    raise ValueError("the calendar has no business days left")  # pragma: no cover


def _holidays(country: str, subdivision: str | None = None) -> Callable[[dt.date], bool]:
    table = holidays.country_holidays(country, subdiv=subdivision)
    return lambda day: day in table


def _weekly(days: tuple[int, ...], hours: Hours) -> dict[int, Hours]:
    return dict.fromkeys(days, hours)


# D2.11: Mon–Fri 09:00–17:00 CET, except public holidays in Baden-Württemberg
PAAS_SUPPORT = Calendar("paas support hours", "Europe/Berlin", _weekly(WEEKDAYS, (9, 17)),
                        holiday=_holidays("DE", "BW"))
PAAS_ALWAYS = Calendar("24/7 (premium, critical: D2.12)", "Europe/Berlin", always=True)

# D4.5: business hours by region; gold adds Saturdays and bank holidays; platinum is 24/7
REGIONS = {
    "americas": ("America/New_York", WEEKDAYS, (7, 17), (7, 12), ("US", None)),
    "europe": ("Europe/Berlin", WEEKDAYS, (9, 18), (9, 18), ("DE", None)),
    "middle-east": ("Asia/Dubai", (SUN, MON, TUE, WED, THU), (9, 18), (12, 18), ("AE", None)),
    "uae": ("Asia/Dubai", WEEKDAYS, (9, 18), (12, 18), ("AE", None)),
}


def care_calendar(plan: str, region: str) -> Calendar:
    zone, days, hours, extra, (country, subdivision) = REGIONS[region]
    if plan == "platinum":
        return Calendar(f"platinum {region}: 24/7/365", zone, always=True)
    weekly = _weekly(days, hours)
    if plan == "gold":
        weekly[SAT] = extra
        return Calendar(f"gold {region}", zone, weekly, holiday_hours=extra, holiday=_holidays(country, subdivision))
    return Calendar(f"basic {region}", zone, weekly, holiday=_holidays(country, subdivision))


# D4.2 reaction, D4.3 priority notification of a P1, D4.4 escalation steps and who takes over
H = dt.timedelta(hours=1)
CARE_REACTION: dict[str, dict[str, tuple[str, float] | None]] = {
    "basic": {"P1": ("days", 1), "P2": ("days", 2), "P3": None, "P4": None},
    "gold": {"P1": ("hours", 1), "P2": ("hours", 2), "P3": ("hours", 4), "P4": ("hours", 8)},
    "platinum": {"P1": ("hours", 1), "P2": ("hours", 2), "P3": ("hours", 4), "P4": ("hours", 8)},
}
CARE_NOTIFY_P1 = {"basic": 4.0, "gold": 0.5, "platinum": 0.5}  # hours (D4.3)
CARE_ESCALATION = {"basic": ("days", (2, 3, 5, 10, 20)), "gold": ("hours", (2, 4, 8, 16, 40)),
                   "platinum": ("hours", (2, 4, 8, 16, 40))}
ESCALATION_OWNERS = {  # D4.4: step → who takes over, per priority
    "P1": {1: "team leader", 3: "support manager", 4: "executive"},
    "P2": {1: "support team", 2: "team leader", 4: "support manager", 5: "executive"},
    "P3": {1: "support team", 4: "team leader", 5: "support manager"},
    "P4": {1: "support team", 5: "team leader"},
}

# D2.11 reaction in support hours (None: reasonable effort); D2.12 premium's critical runs 24/7
PAAS_REACTION: dict[str, dict[str, float | None]] = {
    "starter": {"critical": 24, "major": None, "other": None},
    "advanced": {"critical": 4, "major": 24, "other": None},
    "professional": {"critical": 2, "major": 8, "other": 48},
    "premium": {"critical": 1, "major": 4, "other": 24},
}
PAAS_PRIORITIES = {"P1": "critical", "P2": "major", "P3": "other", "P4": "other"}
# D2.12: phone support in support hours: Premium for everything, Professional for critical incidents only
PAAS_PHONE = {"premium": ("critical", "major", "other"), "professional": ("critical",)}


@dataclass(frozen=True)
class Deadline:
    what: str
    due: dt.datetime | None  # None: as soon as possible / reasonable effort
    rule: str


def deadlines(plan: str, priority: str, opened: dt.datetime, region: str = "europe") -> tuple[Calendar, list[Deadline]]:
    """A purely computational function: every deadline an incident of `priority` opened at `opened` has."""
    if plan in PAAS_REACTION:
        return _paas(plan, priority, opened)
    if plan not in CARE_REACTION:
        raise ValueError(f"unknown plan {plan!r}: basic, gold, platinum (D4) or starter, advanced, professional, "
                         "premium (D2.11)")
    if region not in REGIONS:
        raise ValueError(f"unknown region {region!r}: {', '.join(REGIONS)} (D4.5)")
    calendar = care_calendar(plan, region)
    found = [_care_due(calendar, opened, CARE_REACTION[plan][priority], "reaction", "D4.2")]
    if priority == "P1":
        due = add_business_time(calendar, opened, dt.timedelta(hours=CARE_NOTIFY_P1[plan]))
        found.append(Deadline("priority notified", due, "D4.3"))
    unit, steps = CARE_ESCALATION[plan]
    for step, amount in enumerate(steps, 1):
        owner = ESCALATION_OWNERS[priority].get(step)
        what = f"escalation {step}" + (f": {owner}" if owner else "")
        found.append(_care_due(calendar, opened, (unit, amount), what, "D4.4"))
    return calendar, found


def _care_due(calendar: Calendar, opened: dt.datetime, rule: tuple[str, float] | None, what: str,
              source: str) -> Deadline:
    if rule is None:
        return Deadline(what, None, f"{source}: as soon as possible")
    unit, amount = rule
    if unit == "days":
        plural = "s" if amount != 1 else ""
        return Deadline(what, end_of_business_day(calendar, opened, int(amount)),
                        f"{source}: {amount:g} business day{plural}")
    return Deadline(what, add_business_time(calendar, opened, dt.timedelta(hours=amount)),
                    f"{source}: {amount:g} business hour{'s' if amount != 1 else ''}")


def _paas(plan: str, priority: str, opened: dt.datetime) -> tuple[Calendar, list[Deadline]]:
    severity = PAAS_PRIORITIES[priority]
    hours = PAAS_REACTION[plan][severity]
    calendar = PAAS_ALWAYS if plan == "premium" and severity == "critical" else PAAS_SUPPORT  # D2.12
    if hours is None:
        return calendar, [Deadline("reaction", None, "D2.11: reasonable effort")]
    due = add_business_time(calendar, opened, dt.timedelta(hours=hours))
    return calendar, [Deadline("reaction", due, f"D2.11: {hours:g} h in {calendar.name}")]


# D3.8/D3.9: hosted telephony's service hours (Mon–Fri 08:00–17:00, nationwide German holidays)
UCAAS_SERVICE = Calendar("ucaas service hours", "Europe/Berlin", _weekly(WEEKDAYS, (8, 17)), holiday=_holidays("DE"))
UCAAS_NOTICE = dt.timedelta(weeks=1)  # D3.8
UCAAS_EMERGENCY_NOTICE = dt.timedelta(hours=1)  # D3.8


def in_business_hours(calendar: Calendar, start: dt.datetime, end: dt.datetime) -> bool:
    """Whether [start, end) touches the calendar's business hours."""
    if end <= start:
        return False
    first = next(calendar.intervals(start), None)
    return first is not None and first[0] < end


def raised(priority: str, concurrent: int, threshold: int = 3) -> str:
    """D2.13: several incidents at once raise an incident one level (P1 stays P1); `threshold` is ours."""
    level = int(priority[1])
    return f"P{max(1, level - 1)}" if concurrent >= threshold else priority


# D4.10: support levels and channels per plan (L1, end users, optional with gold and platinum)
CARE_SUPPORT = {
    "basic": {"levels": ("L2 system administrators",), "channels": ("web help centre", "e-mail", "phone", "chat")},
    "gold": {"levels": ("L1 end users (optional)", "L2 system administrators"),
             "channels": ("web help centre", "e-mail", "phone", "chat", "remote support")},
    "platinum": {"levels": ("L1 end users (optional)", "L2 system administrators"),
                 "channels": ("web help centre", "e-mail", "phone", "chat", "remote support")},
}
