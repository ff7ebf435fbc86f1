"""Windows: cron schedules read in each device's site time zone, DST nights defined, half-open, and a device
without a site or without a window that applies to it always open."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.core.models.rollouts import WindowSpec
from reconciler.core.rollouts.windows import Opening, earliest_opening, in_window, local_instant, next_window
from tests.core.rollouts.fleetparts import device, policy

BERLIN, NEW_YORK, UTC = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), dt.UTC


def window(schedule: str, duration: str = "4h", name: str = "w", **applies_to: list[str]) -> WindowSpec:
    data: dict[str, object] = {"name": name, "schedule": schedule, "duration": duration}
    if applies_to:
        data["applies_to"] = applies_to
    return WindowSpec.model_validate(data)


def local(opening: Opening | None) -> tuple[dt.datetime, dt.datetime]:
    assert opening is not None
    return opening.local()


def test_the_first_tuesday_of_the_month_from_17_00_is_expressible() -> None:
    """`0 17 * * 2#1` opens on the first Tuesday of each month at 17:00 local time (the seeds' schedule)."""
    first_tuesday = [window("0 17 * * 2#1")]
    router = device("ber-r01")
    opening = next_window(router, first_tuesday, dt.datetime(2026, 11, 21, 12, tzinfo=BERLIN))
    assert local(opening) == (dt.datetime(2026, 12, 1, 17, tzinfo=BERLIN), dt.datetime(2026, 12, 1, 21, tzinfo=BERLIN))
    after = next_window(router, first_tuesday, dt.datetime(2026, 12, 1, 21, tzinfo=BERLIN))
    assert local(after)[0] == dt.datetime(2027, 1, 5, 17, tzinfo=BERLIN)
    assert in_window(router, first_tuesday, dt.datetime(2026, 12, 1, 20, 59, tzinfo=BERLIN))
    assert not in_window(router, first_tuesday, dt.datetime(2026, 12, 8, 18, tzinfo=BERLIN))


def test_one_schedule_opens_at_local_time_in_each_sites_zone() -> None:
    """The same `0 1 * * *` window opens at 01:00 in Berlin and at 01:00 in Newark, six hours apart."""
    night = [window("0 1 * * *")]
    at = dt.datetime(2026, 11, 21, 12, tzinfo=UTC)
    berlin = next_window(device("ber"), night, at)
    newark = next_window(device("nwk", site_name="newark"), night, at)
    assert berlin is not None and newark is not None
    assert local(berlin)[0] == dt.datetime(2026, 11, 22, 1, tzinfo=BERLIN)
    assert local(newark)[0] == dt.datetime(2026, 11, 22, 1, tzinfo=NEW_YORK)
    assert newark.start - berlin.start == dt.timedelta(hours=6)


def test_windows_are_half_open() -> None:
    """A 01:00–05:00 window lets a device start at 01:00 and at 04:59:59, not at 05:00 or at 00:59:59."""
    night, router = [window("0 1 * * *")], device("ber")
    day = dt.datetime(2026, 6, 1, tzinfo=BERLIN)
    assert in_window(router, night, day.replace(hour=1))
    assert in_window(router, night, day.replace(hour=4, minute=59, second=59))
    assert not in_window(router, night, day.replace(hour=5))
    assert not in_window(router, night, day.replace(hour=0, minute=59, second=59))


def test_a_start_the_clocks_skip_opens_when_they_jump() -> None:
    """02:30 on the last Sunday of March does not exist in Berlin: the window opens at 03:00 CEST, for 4h."""
    opening = next_window(device("ber"), [window("30 2 * * *")], dt.datetime(2026, 3, 29, 0, tzinfo=BERLIN))
    assert opening is not None
    assert local(opening) == (dt.datetime(2026, 3, 29, 3, tzinfo=BERLIN), dt.datetime(2026, 3, 29, 7, tzinfo=BERLIN))
    assert opening.start == dt.datetime(2026, 3, 29, 1, tzinfo=UTC)
    assert opening.end - opening.start == dt.timedelta(hours=4)


def test_a_start_in_the_repeated_hour_opens_once_at_its_first_occurrence() -> None:
    """02:30 on the last Sunday of October happens twice in Berlin: the window opens at the first (CEST), once."""
    nightly, router = [window("30 2 * * *", "30m")], device("ber")
    opening = next_window(router, nightly, dt.datetime(2026, 10, 25, 0, tzinfo=BERLIN))
    assert opening is not None
    assert opening.start == dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    second_half_past_two = dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET
    assert not in_window(router, nightly, second_half_past_two)
    after = next_window(router, nightly, second_half_past_two)
    assert after is not None and after.start == dt.datetime(2026, 10, 26, 1, 30, tzinfo=UTC)


def test_a_window_lasts_its_duration_in_elapsed_time_across_a_dst_change() -> None:
    """4h from 01:00 on the night the clocks go back ends at 04:00 CET (4 hours later), not at 05:00."""
    opening = next_window(device("ber"), [window("0 1 * * *")], dt.datetime(2026, 10, 25, 0, tzinfo=BERLIN))
    assert local(opening) == (dt.datetime(2026, 10, 25, 1, tzinfo=BERLIN), dt.datetime(2026, 10, 25, 4, tzinfo=BERLIN))
    spring = next_window(device("ber"), [window("0 1 * * *")], dt.datetime(2026, 3, 29, 0, tzinfo=BERLIN))
    assert local(spring)[1] == dt.datetime(2026, 3, 29, 6, tzinfo=BERLIN)


def test_local_instants_across_half_hour_and_negative_offsets() -> None:
    """Lord Howe's 30-minute spring jump and New York's autumn repeat follow the same rule as Berlin."""
    lord_howe = ZoneInfo("Australia/Lord_Howe")
    assert local_instant(dt.datetime(2026, 10, 4, 2, 15), lord_howe) == dt.datetime(2026, 10, 4, 2, 30,
                                                                                     tzinfo=lord_howe)
    repeated = local_instant(dt.datetime(2026, 11, 1, 1, 30), NEW_YORK)
    assert repeated.astimezone(UTC) == dt.datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # EDT, the first 01:30
    skipped = local_instant(dt.datetime(2026, 3, 8, 2, 30), NEW_YORK)
    assert skipped.astimezone(UTC) == dt.datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT


def test_a_device_without_a_site_or_a_matching_window_is_always_open() -> None:
    """No site (no time zone) or no window that applies to it: next_window is None and in_window true."""
    lab_only = [window("0 1 * * *", groups=["lab"])]
    at = dt.datetime(2026, 11, 21, 12, tzinfo=UTC)
    assert next_window(device("nowhere", site_name=None, groups=("lab",)), lab_only, at) is None
    assert next_window(device("ber"), lab_only, at) is None
    assert in_window(device("ber"), lab_only, at)
    assert not in_window(device("lab1", groups=("lab",)), lab_only, at)
    assert next_window(device("any"), [], at) is None


def test_a_window_applies_by_group_site_or_tag() -> None:
    """applies_to matches a device in any listed group, at any listed site, or with any listed tag."""
    rules = policy("""\
windows:
  - {name: w, schedule: "0 1 * * *", duration: 1h, applies_to: {groups: [lab], sites: [newark], tags: [crane]}}
""")
    at = dt.datetime(2026, 11, 21, 12, tzinfo=UTC)
    restricted = [device("a", groups=("lab",)), device("b", site_name="newark"), device("c", tags=("crane",))]
    assert all(not in_window(d, rules.windows, at) for d in restricted)
    assert in_window(device("d", tags=("office",)), rules.windows, at)


def test_of_several_windows_the_open_one_that_lasts_longest_or_the_next_to_open() -> None:
    """Two windows: while both are open the later end counts; when none is, the one that opens first."""
    windows = [window("0 1 * * *", "2h", name="short"), window("30 1 * * *", "3h", name="long"),
               window("0 12 * * *", "1h", name="noon")]
    router = device("ber")
    inside = next_window(router, windows, dt.datetime(2026, 6, 1, 1, 45, tzinfo=BERLIN))
    assert inside is not None and inside.window == "long"
    outside = next_window(router, windows, dt.datetime(2026, 6, 1, 5, tzinfo=BERLIN))
    assert outside is not None and outside.window == "noon"


def test_a_naive_time_is_refused() -> None:
    """`at` without a time zone is a programming error, not a guess at the local zone."""
    with pytest.raises(ValueError, match="aware"):
        earliest_opening([window("0 1 * * *")], "Europe/Berlin", dt.datetime(2026, 6, 1))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Sao_Paulo"]),
       st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 12, 31)),
       st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(hours=6)))
def test_wall_clock_starts_map_to_instants_in_order(zone_name: str, wall: dt.datetime, later: dt.timedelta) -> None:
    """A later wall-clock start never opens earlier, and a start opens at its own wall time unless skipped."""
    zone = ZoneInfo(zone_name)
    first, second = local_instant(wall, zone), local_instant(wall + later, zone)
    assert first.astimezone(UTC) <= second.astimezone(UTC)
    shown = first.astimezone(zone).replace(tzinfo=None)
    assert shown == wall or (shown > wall and shown - wall <= dt.timedelta(hours=1))
