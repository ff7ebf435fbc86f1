"""Support terms (D4.1, D4.6–D4.9), with the document's numbers: 12 months, 120 days, the events table."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from reconciler.core.entitlements.models.support import Product, Renewal, SupportFile
from reconciler.core.entitlements.support import incident, plan_on, renew, support_problems, terms
from reconciler.core.problems import Origin

D = dt.date


def product(**changes: Any) -> Product:
    return Product.model_validate({"name": "suite", "purchased": D(2025, 1, 10), **changes})


def test_d4_1_every_product_has_basic_for_its_first_12_months() -> None:
    """Bought 10 January 2025: basic until 9 January 2026, nothing after without a plan."""
    assert plan_on(product(), D(2026, 1, 9)).plan == "basic"  # type: ignore[union-attr]
    assert plan_on(product(), D(2026, 1, 10)) is None


@pytest.mark.parametrize(("ordered", "start", "fee"), [
    (D(2026, 12, 1), D(2027, 1, 1), 0),  # before expiry
    (D(2027, 5, 1), D(2027, 1, 1), 0),  # day 120 after expiry: no gap
    (D(2027, 5, 2), D(2027, 5, 2), 1),  # day 121: from the order date, a year's fee
    (D(2028, 3, 1), D(2028, 3, 1), 2),  # 425 days of lapse: two (started) years
])
def test_d4_6_renewal_within_120_days_continues_later_starts_at_the_order(ordered: dt.date, start: dt.date,
                                                                          fee: int) -> None:
    """Expiry 1 January 2027."""
    term = renew(D(2027, 1, 1), Renewal(ordered=ordered))
    assert (term.start, term.fee_years) == (start, fee)
    assert term.end == start.replace(year=start.year + 1)


def test_d4_6_terms_chain_and_a_lapse_is_warned() -> None:
    """Gold from 1 January 2026 to 1 January 2027, renewed on day 121: the warning names the fee."""
    gold = product(plan="gold", plan_started=D(2026, 1, 1), plan_expires=D(2027, 1, 1),
                   renewals=[{"ordered": D(2027, 5, 2)}])
    assert [(t.start, t.end, t.plan) for t in terms(gold)][1:] == [
        (D(2026, 1, 1), D(2027, 1, 1), "gold"), (D(2027, 5, 2), D(2028, 5, 2), "gold")]
    assert plan_on(gold, D(2027, 3, 1)) is None  # the lapse: no support
    spec = SupportFile.model_validate({"products": [gold.model_dump()]})
    found = support_problems(spec, Origin("services/support.yaml"), D(2027, 6, 1))
    assert [p.code for p in found] == ["support-lapse"] and "1 year(s) (D4.6)" in found[0].message


def test_d4_7_add_ons_end_with_their_base_products_plan() -> None:
    spec = SupportFile.model_validate({"products": [product(
        plan="gold", plan_started=D(2026, 1, 1), plan_expires=D(2027, 1, 1),
        add_ons=[{"name": "redundancy", "expires": D(2027, 6, 1)}]).model_dump()]})
    found = support_problems(spec, Origin("services/support.yaml"), D(2026, 6, 1))
    assert [p.code for p in found] == ["support-add-on"] and "ends with the product's plan on 2027-01-01" in \
        found[0].message


def test_d4_8_end_of_support_shortens_and_end_of_life_ends_support() -> None:
    gold = dict(plan="gold", plan_started=D(2026, 1, 1), plan_expires=D(2027, 1, 1))
    assert terms(product(**gold, end_of_support=D(2026, 7, 1)))[-1].end == D(2026, 7, 1)
    assert plan_on(product(**gold, end_of_life=True), D(2026, 3, 1)) is None


def test_d4_9_the_daemons_events_map_onto_the_monitoring_table() -> None:
    """Management connection lost → cloud connection lost, P1 < 1 h; disk almost full → P3; licence → P3."""
    assert incident("management connection lost") == ("cloud connection lost", "P1", "< 1 h")
    assert incident("disk almost full") == ("disk space almost exhausted", "P3", "< 4 h")
    assert incident("licence capacity exceeded") == ("licence exceeded", "P3", "< 4 h")
    assert incident("channels exhausted") == ("channels exhausted", "P3", "< 4 h")
    assert incident("something else") is None


def test_d4_6_the_lapse_warning_points_at_the_renewal_that_lapsed() -> None:
    """Gold until 1 January 2027; renewed on time (1 December 2026, to 1 January 2028), then 200 days late
    (19 July 2028): the warning is at the second renewal's line, even when the file lists it first."""
    on_time, late = {"ordered": D(2026, 12, 1)}, {"ordered": D(2028, 7, 19)}
    for renewals, index in (([on_time, late], 1), ([late, on_time], 0)):
        gold = product(plan="gold", plan_started=D(2026, 1, 1), plan_expires=D(2027, 1, 1), renewals=renewals)
        spec = SupportFile.model_validate({"products": [gold.model_dump()]})
        found = support_problems(spec, Origin("services/support.yaml"), D(2028, 8, 1))
        assert [p.code for p in found] == ["support-lapse"] and "renewed 2028-07-19" in found[0].message
        assert found[0].origin.path == ("products", 0, "renewals", index)
