"""SLA clocks in business time (D2.11, D2.12, D4.2–D4.5): weekends, holidays and DST nights included."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from reconciler.core.entitlements.sla import (
    CARE_SUPPORT,
    PAAS_SUPPORT,
    UCAAS_SERVICE,
    add_business_time,
    care_calendar,
    deadlines,
    raised,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
DUBAI = ZoneInfo("Asia/Dubai")


def at(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=zone)


def due(plan: str, priority: str, opened: dt.datetime, region: str = "europe", what: str = "reaction") -> dt.datetime:
    found = {d.what.split(":")[0]: d.due for d in deadlines(plan, priority, opened, region)[1]}
    result = found[what]
    assert result is not None
    return result


def test_d2_11_the_clock_stops_outside_support_hours_and_on_baden_wuerttemberg_holidays() -> None:
    """Professional, major (< 8 h): opened Thu 31 Dec 15:00, due Mon 4 Jan 15:00 (New Year's Day, the weekend)."""
    assert due("professional", "P2", at(BERLIN, 2026, 12, 31, 15)) == at(BERLIN, 2027, 1, 4, 15)
    # 6 January (Epiphany) is a holiday in Baden-Württemberg: the clock skips it
    assert add_business_time(PAAS_SUPPORT, at(BERLIN, 2027, 1, 5, 16), dt.timedelta(hours=2)) == \
        at(BERLIN, 2027, 1, 7, 10)


@pytest.mark.parametrize(("plan", "hours"), [("starter", 24), ("advanced", 4), ("professional", 2)])
def test_d2_11_critical_reaction_times_by_package(plan: str, hours: int) -> None:
    """Critical: Starter 24 h, Advanced < 4 h, Professional < 2 h of support hours (9–17 CET)."""
    opened = at(BERLIN, 2026, 11, 23, 9)  # a Monday at 09:00
    expected = add_business_time(PAAS_SUPPORT, opened, dt.timedelta(hours=hours))
    assert due(plan, "P1", opened) == expected
    if plan == "starter":
        assert expected == at(BERLIN, 2026, 11, 25, 17)  # three days of eight hours


def test_d2_12_premium_critical_runs_24_7_and_reasonable_effort_has_no_deadline() -> None:
    """Premium critical < 1 h around the clock (Christmas Eve, after hours); Starter's major: no deadline."""
    assert due("premium", "P1", at(BERLIN, 2026, 12, 24, 22)) == at(BERLIN, 2026, 12, 24, 23)
    assert due("premium", "P2", at(BERLIN, 2026, 12, 24, 22)) == at(BERLIN, 2026, 12, 28, 13)  # < 4 h, in hours
    assert deadlines("starter", "P2", at(BERLIN, 2026, 11, 23, 9))[1][0].due is None


def test_d4_2_basic_p1_next_business_day_across_the_dst_night() -> None:
    """Opened Fri 27 March 2026 17:00 (CET); Europe's hours end 18:00: due Mon 30 March 18:00 CEST."""
    result = due("basic", "P1", at(BERLIN, 2026, 3, 27, 17))
    assert result == at(BERLIN, 2026, 3, 30, 18) and result.utcoffset() == dt.timedelta(hours=2)
    assert result.astimezone(dt.UTC) == dt.datetime(2026, 3, 30, 16, tzinfo=dt.UTC)


def test_d4_2_gold_business_hours_include_saturdays_and_bank_holidays() -> None:
    """Gold P2 (< 2 business hours) opened Christmas Eve 17:30: 30 min that day, then 09:00–10:30 on Christmas Day."""
    assert due("gold", "P2", at(BERLIN, 2026, 12, 24, 17, 30)) == at(BERLIN, 2026, 12, 25, 10, 30)
    assert due("basic", "P2", at(BERLIN, 2026, 12, 24, 17, 30)) == at(BERLIN, 2026, 12, 29, 18)  # 2 business days


def test_d4_3_a_p1_is_notified_within_4_hours_basic_or_30_minutes() -> None:
    """Basic 4 business hours, gold and platinum 30 minutes."""
    opened = at(BERLIN, 2026, 11, 23, 16)
    assert due("basic", "P1", opened, what="priority notified") == at(BERLIN, 2026, 11, 24, 11)
    assert due("gold", "P1", opened, what="priority notified") == at(BERLIN, 2026, 11, 23, 16, 30)
    assert due("platinum", "P1", at(BERLIN, 2026, 11, 22, 3), what="priority notified") == \
        at(BERLIN, 2026, 11, 22, 3, 30)


def test_d4_4_escalation_steps_and_who_takes_over() -> None:
    """Gold: 2, 4, 8, 16, 40 business hours; P1 goes to the team leader (1), support manager (3), executive (4)."""
    _, found = deadlines("gold", "P1", at(BERLIN, 2026, 11, 23, 9))
    steps = [d for d in found if d.what.startswith("escalation")]
    assert [d.what for d in steps] == ["escalation 1: team leader", "escalation 2", "escalation 3: support manager",
                                       "escalation 4: executive", "escalation 5"]
    assert steps[0].due == at(BERLIN, 2026, 11, 23, 11) and steps[2].due == at(BERLIN, 2026, 11, 23, 17)
    _, basic = deadlines("basic", "P4", at(BERLIN, 2026, 11, 23, 9))
    assert next(d.what for d in basic if d.what.startswith("escalation")) == "escalation 1: support team"
    assert [d.due for d in basic if d.what.startswith("escalation 5")] == [at(BERLIN, 2026, 12, 21, 18)]


def test_d4_5_regions_have_their_own_hours_days_and_time_zones() -> None:
    """Americas 07–17 US Eastern; Middle East Sun–Thu 09–18 Gulf time; UAE Mon–Fri; platinum 24/7."""
    assert due("gold", "P4", at(NEW_YORK, 2026, 11, 23, 12), "americas") == at(NEW_YORK, 2026, 11, 24, 10)
    sunday = at(DUBAI, 2026, 11, 22, 9)
    assert due("gold", "P3", sunday, "middle-east") == at(DUBAI, 2026, 11, 22, 13)
    assert due("gold", "P3", sunday, "uae") == at(DUBAI, 2026, 11, 23, 13)  # Sunday is not a UAE business day
    assert care_calendar("platinum", "europe").always
    assert due("platinum", "P3", at(BERLIN, 2026, 11, 22, 23)) == at(BERLIN, 2026, 11, 23, 3)


def test_d3_9_ucaas_service_hours_skip_nationwide_holidays_only() -> None:
    """Mon–Fri 08–17; German Unity Day (3 October) is closed, Epiphany (a Baden-Württemberg holiday) is not."""
    assert add_business_time(UCAAS_SERVICE, at(BERLIN, 2027, 10, 1, 16), dt.timedelta(hours=2)) == \
        at(BERLIN, 2027, 10, 4, 9)  # Fri 1 Oct, then the weekend; 3 October is a Sunday in 2027
    assert add_business_time(UCAAS_SERVICE, at(BERLIN, 2026, 10, 2, 16), dt.timedelta(hours=2)) == \
        at(BERLIN, 2026, 10, 5, 9)  # Sat 3 October 2026
    assert add_business_time(UCAAS_SERVICE, at(BERLIN, 2027, 1, 5, 16), dt.timedelta(hours=2)) == \
        at(BERLIN, 2027, 1, 6, 9)  # Epiphany counts for UCaaS


def test_d2_13_several_incidents_at_once_raise_the_priority() -> None:
    """Three or more at once: one level up; P1 stays P1."""
    assert raised("P3", 2) == "P3" and raised("P3", 3) == "P2" and raised("P1", 10) == "P1"


def test_d4_10_support_levels_and_channels() -> None:
    """L2 for every plan, L1 (optional) and remote support only with gold and platinum."""
    assert CARE_SUPPORT["basic"]["levels"] == ("L2 system administrators",)
    assert "remote support" not in CARE_SUPPORT["basic"]["channels"]
    for plan in ("gold", "platinum"):
        assert "remote support" in CARE_SUPPORT[plan]["channels"]
        assert "L1 end users (optional)" in CARE_SUPPORT[plan]["levels"]


def test_round_the_clock_deadlines_are_elapsed_time_across_the_autumn_dst_night() -> None:
    """Premium critical (< 1 h, 24/7) opened 25 October 2026 at 02:30 CEST (00:30 UTC): due 02:30 CET (01:30 UTC),
    the clock having gone back an hour, not 03:30 CET."""
    opened = at(BERLIN, 2026, 10, 25, 2, 30)
    result = due("premium", "P1", opened)
    assert result.astimezone(dt.UTC) == dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC)
    assert result.utcoffset() == dt.timedelta(hours=1) and (result.hour, result.minute) == (2, 30)
