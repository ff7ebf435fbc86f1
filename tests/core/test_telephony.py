"""Hosted telephony (D3): licence rules, billing the month's maximum, link quality, the sites' ports."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from reconciler.core.configs import parse_config
from reconciler.core.entitlements.models.telephony import UcaasFile
from reconciler.core.entitlements.telephony import (
    AVAILABILITY_TARGET,
    LinkReading,
    customer_problems,
    link_problems,
    missing_ports,
    monthly_bill,
    yearly_availability,
)
from reconciler.core.problems import Origin
from reconciler.core.rendering import Renderer
from tests.conftest import build, small_fleet

UTC = dt.UTC
TODAY = dt.date(2026, 11, 21)


def customer(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "pbx": "acme", "licences": ["base"], "additional_locations": 1,
        "locations": [{"name": "hq", "address": "Main St 1", "trunk": {"id": "t1"}},
                      {"name": "branch", "address": "Side St 2"}],
        "users": [{"name": "Ann", "location": "hq", "packages": ["voll"]},
                  {"name": "Bob", "location": "branch", "packages": ["klar"]}]}
    return {**base, **changes}


def problems_of(*customers: dict[str, Any]) -> list[Any]:
    return customer_problems(UcaasFile.model_validate({"customers": list(customers)}), Origin("services/ucaas.yaml"),
                             TODAY)


def test_a_valid_customer_has_no_problems() -> None:
    """One base licence, a trunk, two locations with one additional-location licence, every user a package."""
    assert problems_of(customer()) == []


def test_d3_1_exactly_one_base_licence() -> None:
    """None, or base and extended-base together, is an error at `licences`."""
    for licences in ([], ["base", "extended-base"]):
        found = problems_of(customer(licences=licences))
        assert [p.code for p in found] == ["ucaas-base"] and found[0].origin.path == ("customers", 0, "licences")


def test_d3_2_every_user_needs_a_package() -> None:
    found = problems_of(customer(users=[{"name": "Ann", "location": "hq", "packages": []}]))
    assert [p.code for p in found] == ["ucaas-package"] and "(D3.2)" in found[0].message


def test_d3_3_one_trunk_per_location_and_an_additional_location_licence_each() -> None:
    """The same trunk at two locations, and a second location without its licence."""
    locations = [{"name": "hq", "address": "a", "trunk": {"id": "t1"}},
                 {"name": "branch", "address": "b", "trunk": {"id": "t1"}}]
    found = problems_of(customer(locations=locations, additional_locations=0))
    assert sorted(p.code for p in found) == ["ucaas-locations", "ucaas-trunk"]


def test_d3_4_a_demo_has_3_users_1_trunk_and_4_weeks() -> None:
    """Started 24 October 2026: over on 21 November (28 days later); 4 users and 2 trunks are too many."""
    assert problems_of(customer(demo={"started": dt.date(2026, 10, 25), "assigned_by": "staff"})) == []
    users = [{"name": f"u{i}", "location": "hq", "packages": ["klar"]} for i in range(4)]
    locations = [{"name": "hq", "address": "a", "trunk": {"id": "t1"}},
                 {"name": "branch", "address": "b", "trunk": {"id": "t2"}}]
    found = problems_of(customer(demo={"started": dt.date(2026, 10, 24), "assigned_by": "staff"}, users=users,
                                 locations=locations))
    assert len(found) == 3 and all(p.code == "ucaas-demo" for p in found)
    assert any("ended on 2026-11-21" in p.message for p in found)


def test_d3_5_the_month_is_billed_at_the_maximum_made_available() -> None:
    """2 users on 1 March, 5 from 10 March, 3 from 20 March: March bills 5; April bills 3; demos are free."""
    def version(users: int, demo: bool = False) -> UcaasFile:
        people = [{"name": f"u{i}", "location": "hq", "packages": ["klar"]} for i in range(users)]
        extra = {"demo": {"started": dt.date(2026, 3, 1), "assigned_by": "staff"}} if demo else {}
        return UcaasFile.model_validate({"customers": [customer(users=people, **extra)]})

    history = [(dt.datetime(2026, 2, 20, tzinfo=UTC), version(2)), (dt.datetime(2026, 3, 10, tzinfo=UTC), version(5)),
               (dt.datetime(2026, 3, 20, tzinfo=UTC), version(3))]
    march = monthly_bill(history, dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 4, 1, tzinfo=UTC))
    april = monthly_bill(history, dt.datetime(2026, 4, 1, tzinfo=UTC), dt.datetime(2026, 5, 1, tzinfo=UTC))
    assert march == {"klar": 5, "base": 1, "additional-location": 1}
    assert april == {"klar": 3, "base": 1, "additional-location": 1}
    assert monthly_bill([(dt.datetime(2026, 3, 1, tzinfo=UTC), version(3, demo=True))],
                        dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 4, 1, tzinfo=UTC)) == {}


def test_d3_6_delay_jitter_and_loss_limits() -> None:
    """150 ms and 20 ms are still fine, 1 % loss is not."""
    ok = LinkReading("r1", 150, 20, 0.99)
    bad = LinkReading("r2", 151, 21, 1.0)
    found = link_problems("berlin", [ok, bad])
    assert found == ["berlin: r2: delay 151 ms > 150, jitter 21 ms > 20, loss 1 % ≥ 1 (D3.6)"]


def test_d3_7_the_macro_renders_every_port_and_a_missing_rule_is_found() -> None:
    """icom/firewall.j2's telephony_rules satisfy the check; without the RTP rule, it is named."""
    template = '{% import "icom/firewall.j2" as fw %}\n{{ fw.telephony_rules("net1", "net2", "198.51.100.20") }}\n'
    files = small_fleet()
    files["templates/base.j2"] += template
    fleet_build = build(files)
    assert fleet_build.ok, fleet_build.problems
    assert fleet_build.fleet is not None and fleet_build.templates is not None
    renderer = Renderer(fleet_build.fleet, fleet_build.templates)
    desired = renderer.render(fleet_build.fleet.devices["ber-r01"])
    values = desired.parsed().values  # type: ignore[union-attr]
    assert missing_ports(values, "198.51.100.20") == []
    assert missing_ports(values, "203.0.113.9") == ["SIP/TLS signalling tcp 5060–5061 to 203.0.113.9",
                                                    "SIP/TLS signalling udp 5060–5061 to 203.0.113.9"]
    text = desired.config_text or ""  # type: ignore[union-attr]
    without_rtp = text.replace("rule_dport=16384", "rule_dport=16385")
    assert missing_ports(parse_config(without_rtp).values, None) == ["voice (RTP) udp 16384–32767 to 46.189.64.189"]


def test_d3_8_maintenance_outside_business_hours_a_week_ahead_emergencies_an_hour() -> None:
    """Tue 24 Nov 2026 18:00 announced 7 days ahead: fine; 6 days: warned; 10:00: business hours; emergency ok."""
    berlin = dt.timezone(dt.timedelta(hours=1))
    evening = dt.datetime(2026, 11, 24, 18, tzinfo=berlin)
    morning = dt.datetime(2026, 11, 24, 10, tzinfo=berlin)

    def check(start: dt.datetime, ahead: dt.timedelta, emergency: bool = False) -> list[str]:
        spec = UcaasFile.model_validate({"customers": [customer()], "maintenance": [
            {"start": start, "duration": "2h", "announced": start - ahead, "emergency": emergency}]})
        return [p.message for p in customer_problems(spec, Origin("services/ucaas.yaml"), TODAY)]

    assert check(evening, dt.timedelta(days=7)) == []
    assert "D3.8 promises 1 week" in check(evening, dt.timedelta(days=6))[0]
    assert "falls into business hours" in check(morning, dt.timedelta(days=8))[0]
    assert check(morning, dt.timedelta(hours=1), emergency=True) == []
    assert "D3.8 promises 1 hour" in check(morning, dt.timedelta(minutes=30), emergency=True)[0]


def test_d3_9_availability_is_99_8_percent_a_year_announced_maintenance_excluded() -> None:
    """2026 has 525,600 minutes: 1,051 minutes of outage is 99.8 %, one more misses; a window announced
    a week ahead does not count."""
    def spec(minutes: int, announced_days: int = 8) -> UcaasFile:
        start = dt.datetime(2026, 3, 7, 22, tzinfo=UTC)
        return UcaasFile.model_validate({"customers": [customer()], "outages": [
            {"start": start, "end": start + dt.timedelta(minutes=minutes)}], "maintenance": [
            {"start": dt.datetime(2026, 6, 6, 22, tzinfo=UTC), "duration": "2h",
             "announced": dt.datetime(2026, 6, 6, 22, tzinfo=UTC) - dt.timedelta(days=announced_days)}]})

    assert yearly_availability(spec(1051), 2026) >= AVAILABILITY_TARGET
    assert yearly_availability(spec(1052), 2026) < AVAILABILITY_TARGET
    with_window = UcaasFile.model_validate({**spec(0).model_dump(), "outages": [
        {"start": dt.datetime(2026, 6, 6, 22, tzinfo=UTC), "end": dt.datetime(2026, 6, 7, 0, tzinfo=UTC)}]})
    assert yearly_availability(with_window, 2026) == 1.0


def test_d3_5_a_version_superseded_in_the_same_second_was_never_made_available() -> None:
    """2 users from 20 February; on 10 March 00:00:00 two commits: 8 users, then 4. March bills 4, not 8."""
    def version(users: int) -> UcaasFile:
        people = [{"name": f"u{i}", "location": "hq", "packages": ["klar"]} for i in range(users)]
        return UcaasFile.model_validate({"customers": [customer(users=people)]})

    tenth = dt.datetime(2026, 3, 10, tzinfo=UTC)
    history = [(dt.datetime(2026, 2, 20, tzinfo=UTC), version(2)), (tenth, version(8)), (tenth, version(4))]
    march = monthly_bill(history, dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 4, 1, tzinfo=UTC))
    assert march["klar"] == 4


def test_d3_9_the_year_is_the_fleets_calendar_year() -> None:
    """An hour's outage from 31 December 2026 23:00 UTC is New Year's first hour in Berlin: it counts for 2027
    (8,760 hours: 1 − 1/8,760), not for 2026."""
    berlin = ZoneInfo("Europe/Berlin")
    start = dt.datetime(2026, 12, 31, 23, tzinfo=UTC)
    spec = UcaasFile.model_validate({"customers": [customer()], "outages": [
        {"start": start, "end": start + dt.timedelta(hours=1)}]})
    assert yearly_availability(spec, 2026, zone=berlin) == 1.0
    assert yearly_availability(spec, 2027, zone=berlin) == 1 - 1 / 8760
    assert yearly_availability(spec, 2026) == 1 - 1 / 8760  # in UTC the hour is 2026's last
