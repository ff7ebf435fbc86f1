"""The PBX rental ledger (D1): credits, per-second charging at the configured price, run time, stops."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any

from reconciler.core.models.rentals import PriceList, SelectionFile, TopUp
from reconciler.core.problems import Origin
from reconciler.core.rentals import SECONDS_PER_MONTH, SelectionVersion, ledger

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
