"""The PBX rental ledger (D1): credits, per-second charging at the configured price, run time, stops."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from reconciler.core.entitlements.models.rentals import AccountFile, PriceList, SelectionFile, TopUp
from reconciler.core.entitlements.rentals import (
    SECONDS_PER_MONTH,
    AccountVersion,
    SelectionVersion,
    bound_credit_problems,
    ledger,
)
from reconciler.core.problems import Origin

UTC = dt.UTC


def t(day: int, hour: int = 0, month: int = 1, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, 0, second, tzinfo=UTC)


PRICES = [PriceList.model_validate({"effective": dt.date(2026, 1, 1), "articles": [
    {"article": "01-00010-001", "name": "PBX licence", "credits_per_month": "26.28"},
    {"article": "01-00020-001", "name": "UC user", "credits_per_month": 2},
    {"article": "01-00500-002", "name": "IP811 gateway hardware", "credits_per_month": 5},
    {"article": "02-00001-001", "name": "Partner fax", "credits_per_month": 1, "partner": True},
    {"article": "01-00030-001", "name": "Old feature", "credits_per_month": 1, "rentable": False},
]}), PriceList.model_validate({"effective": dt.date(2026, 2, 1), "articles": [
    {"article": "01-00010-001", "name": "PBX licence", "credits_per_month": "52.56"},
    {"article": "01-00020-001", "name": "UC user", "credits_per_month": 3},
]})]


def top_up(credits: Any, at: dt.datetime, key: str = "ISC-0001") -> TopUp:
    return TopUp.model_validate({"key": key, "credits": credits, "at": at})


def selection(at: dt.datetime, *articles: tuple[str, int], pbx: str = "pbx-ber") -> SelectionVersion:
    spec = SelectionFile.model_validate({"pbx": pbx, "articles": [{"article": a, "quantity": q} for a, q in articles]})
    return SelectionVersion(pbx, at, spec, Origin(f"rentals/selections/{pbx}.yaml"), "c0ffee")


def test_d1_4_d1_5_a_month_is_2628000_seconds_and_charging_is_to_the_second() -> None:
    """26.28 iSC a month is 0.00001 iSC a second: one day costs 0.864, one second 0.00001."""
    assert SECONDS_PER_MONTH == 2_628_000
    result, problems = ledger("A", [top_up(100, t(1))], PRICES, [selection(t(1), ("01-00010-001", 1))], t(2))
    assert problems == [] and result.per_second == Fraction(1, 100_000)
    assert result.consumed == Fraction("0.864") and result.balance == 100 - Fraction("0.864")
    one_second, _ = ledger("A", [top_up(100, t(1))], PRICES, [selection(t(1), ("01-00010-001", 1))],
                           t(1, second=1))
    assert one_second.consumed == Fraction(1, 100_000)


def test_d1_5_the_price_is_the_one_current_when_the_selection_was_configured() -> None:
    """The price list doubles on 1 February: a selection from January keeps 26.28, one from February pays 52.56."""
    january = selection(t(20), ("01-00010-001", 1))
    result, _ = ledger("A", [top_up(1000, t(1))], PRICES, [january], t(15, month=2))
    assert result.monthly == Fraction("26.28")
    february = selection(t(10, month=2), ("01-00010-001", 1), ("01-00020-001", 2))  # a change: new prices
    result, _ = ledger("A", [top_up(1000, t(1))], PRICES, [january, february], t(15, month=2))
    assert result.monthly == Fraction("52.56") + 6
    assert result.rents[0].configured_at == t(10, month=2)


def test_d1_7_a_rental_cannot_start_without_credit() -> None:
    """A selection configured while the balance is zero is an error; credit loaded first, it is fine."""
    _, problems = ledger("A", [], PRICES, [selection(t(1), ("01-00010-001", 1))], t(2))
    assert [p.code for p in problems] == ["rental-no-credit"] and "(load credit first, D1.7)" in problems[0].message
    _, problems = ledger("A", [top_up(10, t(1))], PRICES, [selection(t(1, 1), ("01-00010-001", 1))], t(2))
    assert [p.code for p in problems] == ["rental-run-time"]  # started; 10 credits last 11 days: warned


def test_d1_8_d1_9_every_change_moves_monthly_consumption_and_run_time() -> None:
    """10 users at 2 iSC: 20 a month; with 100 credits from 1 January the run time is 5 average months."""
    versions = [selection(t(1), ("01-00020-001", 10))]
    result, _ = ledger("A", [top_up(100, t(1))], PRICES, versions, t(1))
    assert result.monthly == 20 and result.runs_out == t(1) + dt.timedelta(seconds=5 * SECONDS_PER_MONTH)
    versions.append(selection(t(11), ("01-00020-001", 20)))  # twice the users from 11 January
    result, _ = ledger("A", [top_up(100, t(1))], PRICES, versions, t(11))
    spent = Fraction(20 * 10 * 86_400, SECONDS_PER_MONTH)
    assert result.monthly == 40 and result.balance == 100 - spent
    assert result.runs_out == t(11) + dt.timedelta(seconds=float((100 - spent) / Fraction(40, SECONDS_PER_MONTH)))


def test_d1_11_at_zero_everything_stops_and_d1_10_a_top_up_mid_month_resumes() -> None:
    """0.864 credits last one day at 26.28/month; stopped until the top-up on the 10th; the month shows both."""
    versions = [selection(t(1), ("01-00010-001", 1))]
    ups = [top_up("0.864", t(1)), top_up(10, t(10), key="ISC-0002")]
    stopped, problems = ledger("A", ups[:1], PRICES, versions, t(5))
    assert stopped.stopped_since == t(2) and stopped.balance == 0
    assert [p.code for p in problems] == ["rental-stopped"]
    resumed, problems = ledger("A", ups, PRICES, versions, t(11))
    assert resumed.stopped_since is None and resumed.balance == 10 - Fraction("0.864") and problems != []
    january = (t(1), t(1, month=2))
    assert resumed.consumed_between(*january) == Fraction("0.864") * 2  # 1–2 January and 10–11 January


def test_d1_12_an_empty_selection_stops_charging_and_the_credit_stays() -> None:
    """Removing every licence stops the charges at once; the balance is kept for later."""
    versions = [selection(t(1), ("01-00010-001", 1)), selection(t(2))]
    result, problems = ledger("A", [top_up(50, t(1))], PRICES, versions, t(20))
    assert result.consumed == Fraction("0.864") and result.monthly == 0 and result.runs_out is None
    assert problems == []


def test_d1_1_hardware_partner_and_unrentable_articles_are_refused() -> None:
    """01-00500-xxx is hardware; partner software and unmarked articles are not rentable either."""
    version = selection(t(1), ("01-00500-002", 1), ("02-00001-001", 1), ("01-00030-001", 1), ("01-00099-001", 1))
    result, problems = ledger("A", [top_up(50, t(1))], PRICES, [version], t(2))
    messages = [p.message for p in problems]
    assert len(messages) == 4 and result.monthly == 0
    assert "hardware licence (01-00500-xxx)" in messages[0] and "partner software" in messages[1]
    assert "not marked rentable" in messages[2] and "not on the price list" in messages[3]
    assert problems[0].origin.path == ("articles", 0, "article")


def test_the_run_time_is_warned_of_7_weeks_1_week_and_1_day_ahead() -> None:
    """20 iSC a month: 10 credits last half an average month; warnings name the nearest threshold."""
    versions = [selection(t(1), ("01-00020-001", 10))]
    result, problems = ledger("A", [top_up(10, t(1))], PRICES, versions, t(1))
    assert [p.code for p in problems] == ["rental-run-time"] and "under 7 weeks" in problems[0].message
    assert "every rented licence stops (D1.11)" in problems[0].message
    near = result.runs_out - dt.timedelta(hours=20) if result.runs_out else t(1)
    _, problems = ledger("A", [top_up(10, t(1))], PRICES, versions, near)
    assert "under 1 day" in problems[0].message
    _, problems = ledger("A", [top_up(100, t(1))], PRICES, versions, t(1))
    assert problems == []  # five months left


def test_d1_3_an_activation_key_credits_the_account_once() -> None:
    """The same key twice: an error, and its credits count once."""
    result, problems = ledger("A", [top_up(10, t(1)), top_up(10, t(2))], PRICES, [], t(3))
    assert [p.code for p in problems] == ["rental-key"] and result.balance == 10


def test_d1_6_one_balance_pays_every_pbx_of_the_account() -> None:
    """Two PBXs draw on the same credits: together 46.28 a month from one balance."""
    versions = [selection(t(1), ("01-00010-001", 1)), selection(t(1), ("01-00020-001", 10), pbx="pbx-ham")]
    result, _ = ledger("A", [top_up(100, t(1))], PRICES, versions, t(2))
    assert result.monthly == Fraction("46.28") and [rent.pbx for rent in result.rents] == ["pbx-ber", "pbx-ham"]
    assert result.consumed == Fraction("46.28") * 86_400 / SECONDS_PER_MONTH


def version(configured: dt.datetime, *articles: tuple[str, int], committed: dt.datetime | None = None,
            effective: dt.datetime | None = None, deleted: bool = False, commit: str = "c0ffee") -> SelectionVersion:
    """A committed version of pbx-ber's selection (its `effective:` time, if any, is when it was configured)."""
    body: dict[str, Any] = {"pbx": "pbx-ber", "articles": [{"article": a, "quantity": q} for a, q in articles]}
    if effective is not None:
        body["effective"] = effective
    spec = None if deleted else SelectionFile.model_validate(body)
    return SelectionVersion("pbx-ber", configured, spec, Origin("rentals/selections/pbx-ber.yaml"), commit,
                            committed or configured)


DAY = Fraction(86_400, SECONDS_PER_MONTH)  # one day in average months


def test_d1_5_a_later_commit_keeping_an_old_effective_time_does_not_rebill_the_past() -> None:
    """First committed 10 January with `effective:` 1 January (a backdated start: fine); a commit on 20 January adds
    10 users but keeps `effective: 1 January`. 1–20 January stays at 26.28 a month, 20–30 January costs 46.28."""
    first = version(t(1), ("01-00010-001", 1), committed=t(10), effective=t(1), commit="a" * 40)
    second = version(t(1), ("01-00010-001", 1), ("01-00020-001", 10), committed=t(20), effective=t(1),
                     commit="b" * 40)
    result, problems = ledger("A", [top_up(1000, t(1))], PRICES, [first, second], t(30))
    assert result.consumed == Fraction("26.28") * 19 * DAY + Fraction("46.28") * 10 * DAY  # 16.416 + 15.2153…
    assert result.rents[0].configured_at == t(20) and result.monthly == Fraction("46.28")
    assert [p.code for p in problems] == ["rental-effective"] and problems[0].origin.path == ("effective",)
    assert "counts from its commit (D1.5, D1.8)" in problems[0].message and "bbbbbbbbbb" in problems[0].message


def test_d1_8_an_effective_time_after_the_commit_still_schedules_the_change() -> None:
    """Committed 10 January for 15 January: 10 UC users (20 a month) from the 15th, nothing before; no warning."""
    later = version(t(15), ("01-00020-001", 10), committed=t(10), effective=t(15))
    result, problems = ledger("A", [top_up(100, t(1))], PRICES, [version(t(1)), later], t(25))
    assert result.consumed == 20 * 10 * DAY and problems == []


def test_d1_7_a_selection_committed_and_deleted_in_the_same_second_never_ran() -> None:
    """Created and deleted at 5 January 00:00:00 without credit: nothing is rented, so nothing 'cannot start'."""
    created = version(t(5), ("01-00010-001", 1), commit="a" * 40)
    deleted = version(t(5), deleted=True, commit="b" * 40)
    result, problems = ledger("A", [], PRICES, [created, deleted], t(6))
    assert problems == [] and result.rents == () and result.consumed == 0


def test_d1_12_the_later_commit_wins_a_same_second_change() -> None:
    """A hardware article replaced in the same second by the PBX licence alone: only the PBX licence is charged
    (one day, 0.864), and the superseded version's refusal is not reported."""
    wrong = version(t(5), ("01-00500-002", 1), commit="a" * 40)
    fixed = version(t(5), ("01-00010-001", 1), commit="b" * 40)
    result, problems = ledger("A", [top_up(100, t(1))], PRICES, [wrong, fixed], t(6))
    assert problems == [] and result.rents[0].revision == "b" * 40 and result.consumed == Fraction("0.864")


def test_elapsed_time_is_measured_in_utc_across_a_dst_change() -> None:
    """March 2026 in Berlin (from 1 March 00:00 CET to 1 April 00:00 CEST) is 743 hours: at 26.28 a month,
    0.036 an hour, 26.748 credits, not 744 hours' 26.784."""
    berlin = ZoneInfo("Europe/Berlin")
    result, _ = ledger("A", [top_up(1000, t(1))], PRICES, [version(t(1), ("01-00010-001", 1))],
                       dt.datetime(2026, 4, 10, tzinfo=UTC))
    march = (dt.datetime(2026, 3, 1, tzinfo=berlin), dt.datetime(2026, 4, 1, tzinfo=berlin))
    assert result.consumed_between(*march) == Fraction("26.748")


def account(name: str, *tops: tuple[str, Any, dt.datetime]) -> AccountFile:
    return AccountFile.model_validate({"account": name, "top_ups": [
        {"key": key, "credits": credits, "at": at} for key, credits, at in tops]})


K1, K2 = ("ISC-KEY-0001", 100, t(1)), ("ISC-KEY-0002", 50, t(5))


def test_d1_6_bound_credits_cannot_be_removed() -> None:
    """Two keys committed; the current file dropped the second: an error naming it and the commit that bound it."""
    history = [AccountVersion("1" * 40, account("NL-1", K1)), AccountVersion("2" * 40, account("NL-1", K1, K2))]
    found = bound_credit_problems(history, account("NL-1", K1))
    assert [p.code for p in found] == ["rental-credit-removed"]
    assert found[0].message.startswith("activation key ISC-KEY-0002 (50 iSC at 2026-01-05T00:00:00+00:00, bound "
                                       "by commit 2222222222) is no longer in the account")
    assert bound_credit_problems(history, account("NL-1", K1, K2)) == []  # restored: fine


def test_d1_6_bound_credits_cannot_be_changed_or_moved_to_another_account() -> None:
    """Renaming the account would move both keys' credits; raising a bound key's credits rewrites it."""
    history = [AccountVersion("1" * 40, account("NL-1", K1, K2))]
    moved = bound_credit_problems(history, account("NL-2", K1, K2))
    assert [p.code for p in moved] == ["rental-account-moved"] and moved[0].origin.path == ("account",)
    assert "the credits of ISC-KEY-0001, ISC-KEY-0002 are bound to 'NL-1'" in moved[0].message
    changed = bound_credit_problems(history, account("NL-1", K1, ("ISC-KEY-0002", 60, t(5))))
    assert [p.code for p in changed] == ["rental-credit-changed"]
    assert changed[0].origin.path == ("top_ups", 1, "credits")


def test_d1_6_a_deleted_account_forfeits_its_credits_for_good() -> None:
    """Account NL-1 deleted, then a new account: NL-2 may start afresh, but not with NL-1's key."""
    history = [AccountVersion("1" * 40, account("NL-1", K1)), AccountVersion("2" * 40, None)]
    assert bound_credit_problems(history, account("NL-2", K2)) == []
    found = bound_credit_problems(history, account("NL-2", K1))
    assert [p.code for p in found] == ["rental-credit-forfeited"] and found[0].origin.path == ("top_ups", 0, "key")
