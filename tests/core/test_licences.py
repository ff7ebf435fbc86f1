"""Router-management licences (D0.23–D0.35), with the documents' own article numbers and terms."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from reconciler.core.entitlements import licences
from reconciler.core.entitlements.licences import State, add_months, evaluate
from reconciler.core.fleets import Located
from reconciler.core.models import LicenceFile, LicencesFile, LicenceTerms
from reconciler.core.presenting.licences import licence_data, licence_text
from reconciler.core.problems import Origin
from tests.conftest import build, small_fleet
from tests.core.test_validation import scaled_fleet

D = dt.date


def _key() -> str:
    raw = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return base64.b64encode(raw).decode()


VENDOR = _key()
STRANGER = _key()
TRUST = Located(LicencesFile.model_validate({"trusted_keys": [
    {"name": "vendor", "public_key": licences.public_key_of(VENDOR)}]}), Origin("licences/licences.yaml"))


def lic(key: str, article: str, activated: dt.date | None, purchased: dt.date | None = None, *,
        quantity: int = 1, signer: str | None = VENDOR, signer_name: str = "vendor",
        alter: dict[str, Any] | None = None) -> Located:
    """A licence file as the vendor ships it: terms signed with `signer` (then `alter`ed, if asked)."""
    terms = LicenceTerms.model_validate({"key": key, "article": article, "quantity": quantity,
                                         "customer": "Nordlicht Logistik GmbH",
                                         "purchased": purchased or activated or D(2025, 1, 1),
                                         "activated": activated})
    body: dict[str, Any] = {"licence": terms.model_dump()}
    if signer is not None:
        body["signature"] = {"key": signer_name, "value": licences.sign(signer, terms)}
    body["licence"].update(alter or {})
    return Located(LicenceFile.model_validate(body), Origin(f"licences/{key}.licence"))


def judge(*files: Located, at: dt.date, variant: str = "server", registered: int = 10) -> tuple[Any, list[Any]]:
    return evaluate([TRUST, *files], variant, registered, at)


def states(report: Any) -> dict[str, State]:
    return {licence.key: licence.state for licence in report.licences}


def codes(problems: list[Any]) -> list[str]:
    return [p.code for p in problems]


SUBSCRIPTION = lic("LIC-SUB-1", "10023610", D(2025, 2, 1), D(2025, 1, 10))


def test_d0_24_a_server_subscription_is_500_routers_for_24_months() -> None:
    """10023610: 500 router licences from activation (1 Feb 2025) until 1 Feb 2027, not a day longer."""
    report, problems = judge(SUBSCRIPTION, at=D(2027, 1, 31))
    assert report.capacity == 500 and states(report) == {"LIC-SUB-1": State.VALID}
    assert codes(problems) == ["licence-expiry"]  # the last day: warned, still valid
    licence = report.licences[0]
    assert (licence.start, licence.end, licence.routers) == (D(2025, 2, 1), D(2027, 2, 1), 500)
    report, problems = judge(SUBSCRIPTION, at=D(2027, 2, 1))
    assert report.capacity == 0 and states(report) == {"LIC-SUB-1": State.EXPIRED}
    assert "licence-capacity" in codes(problems)  # 10 registered, 0 covered


def test_d0_25_and_d0_30_renewals_extend_the_subscription_a_year_at_a_time() -> None:
    """10023611: activated during the subscription it starts where that ends; a second extends the first."""
    first = lic("LIC-REN-1", "10023611", D(2026, 12, 1))
    second = lic("LIC-REN-2", "10023611", D(2027, 12, 1))
    report, problems = judge(SUBSCRIPTION, first, second, at=D(2027, 6, 1))
    terms = {item.key: (item.start, item.end, item.state) for item in report.licences}
    assert terms["LIC-REN-1"] == (D(2027, 2, 1), D(2028, 2, 1), State.VALID)
    assert terms["LIC-REN-2"] == (D(2028, 2, 1), D(2029, 2, 1), State.NOT_YET)
    assert report.capacity == 500 and problems == []
    assert judge(SUBSCRIPTION, first, second, at=D(2029, 1, 31))[0].capacity == 500
    assert judge(SUBSCRIPTION, first, second, at=D(2029, 2, 1))[0].capacity == 0


def test_d0_25_and_d0_32_an_expired_subscription_cannot_be_renewed() -> None:
    """A renewal activated the day the subscription ended (or with none at all) is invalid."""
    late = lic("LIC-REN-LATE", "10023611", D(2027, 2, 1))
    report, problems = judge(SUBSCRIPTION, late, at=D(2027, 3, 1))
    assert states(report)["LIC-REN-LATE"] is State.INVALID
    assert any("cannot be renewed (D0.32)" in p.message for p in problems)
    alone, problems = judge(lic("LIC-REN-ALONE", "10023611", D(2026, 1, 1)), at=D(2026, 2, 1))
    assert states(alone)["LIC-REN-ALONE"] is State.INVALID and "licence-invalid" in codes(problems)


def test_d0_26_a_server_api_licence_runs_12_months_and_d0_23_gates_the_api() -> None:
    """10023613: API use from 15 March 2026 until 15 March 2027; without one there is no API licence."""
    api = lic("LIC-API-1", "10023613", D(2026, 3, 15))
    report, _ = judge(SUBSCRIPTION, api, at=D(2027, 3, 14))
    assert report.api and report.api_until == D(2027, 3, 15)
    assert not judge(SUBSCRIPTION, api, at=D(2027, 3, 15))[0].api
    assert not judge(SUBSCRIPTION, at=D(2026, 1, 1))[0].api


def test_d0_27_d0_28_d0_29_data_center_articles() -> None:
    """10023614: 1,000 routers for 24 months; 10023615: 500 more months of 12; 10023616: API for 12 months."""
    sub = lic("LIC-DC-1", "10023614", D(2025, 6, 1))
    renewal = lic("LIC-DC-2", "10023615", D(2027, 5, 1))
    api = lic("LIC-DC-3", "10023616", D(2025, 7, 1))
    install = lic("LIC-DC-4", "10022803", D(2025, 6, 1))
    report, problems = judge(sub, renewal, api, install, at=D(2026, 6, 1), variant="datacenter", registered=1000)
    assert report.capacity == 1000 and report.api
    # its last day is 30 June 2026: 30 days left counting 1 June
    assert [p.message.split(": ")[-1] for p in problems] == ["then no API licence is left (D0.23)"]
    assert {item.key: item.end for item in report.licences}["LIC-DC-4"] is None  # an installation has no term
    report, _ = judge(sub, renewal, api, install, at=D(2027, 7, 1), variant="datacenter", registered=400)
    assert report.capacity == 500 and not report.api  # the renewal's 500; the API licence ended 1 July 2026


def test_server_and_datacenter_articles_do_not_mix() -> None:
    """A server subscription in a datacenter fleet (and the other way round) is refused (D0.24–D0.29)."""
    report, problems = judge(SUBSCRIPTION, at=D(2025, 6, 1), variant="datacenter")
    assert states(report)["LIC-SUB-1"] is State.INVALID
    assert "is for a server installation; this fleet is datacenter" in problems[0].message
    assert problems[0].origin.path == ("licence", "article")
    _, problems = judge(lic("LIC-INST-1", "10022803", D(2025, 6, 1)), at=D(2025, 6, 2))
    assert "for a datacenter installation" in problems[0].message


@pytest.mark.parametrize(("activated", "at", "state"), [
    (D(2026, 1, 14), D(2026, 2, 1), State.VALID),  # the last day within 24 months of 15 January 2024
    (D(2026, 1, 15), D(2026, 2, 1), State.INVALID),  # 24 months after purchase: too late
    (None, D(2026, 1, 14), State.NOT_ACTIVATED),
    (None, D(2026, 1, 15), State.INVALID),
])
def test_d0_31_a_key_must_be_activated_within_24_months_of_purchase(activated: dt.date | None, at: dt.date,
                                                                     state: State) -> None:
    """Bought 15 January 2024: activation by 14 January 2026, or the key is invalid."""
    report, _ = judge(lic("LIC-LATE-1", "10023610", activated, D(2024, 1, 15)), at=at, registered=0)
    assert states(report)["LIC-LATE-1"] is state


def test_d0_32_a_key_is_activated_once_and_expires_for_good() -> None:
    """A second file with the same key (re-activated after expiry) is refused; the first stays expired."""
    again = lic("LIC-SUB-1", "10023610", D(2027, 3, 1), D(2025, 1, 10))
    report, problems = judge(SUBSCRIPTION, again, at=D(2027, 4, 1))
    assert sorted(item.state.value for item in report.licences) == ["expired", "invalid"]
    reuse = next(p for p in problems if "activated once, never again (D0.32)" in p.message)
    assert reuse.origin.path == ("licence", "key")  # it points at the key, not at the activation date


def test_d0_33_a_trial_runs_45_days() -> None:
    """Activated 1 November 2026: valid through 15 December, gone on 16 December; it covers the variant's routers."""
    trial = lic("LIC-TRIAL-1", "trial", D(2026, 11, 1))
    report, _ = judge(trial, at=D(2026, 12, 15))
    assert report.capacity == 500 and report.api and report.licences[0].end == D(2026, 12, 16)
    assert judge(trial, at=D(2026, 12, 16))[0].capacity == 0
    assert judge(trial, at=D(2026, 12, 15), variant="datacenter")[0].capacity == 1000


def test_d0_34_unsigned_altered_and_foreign_licence_files_are_refused() -> None:
    """Only files signed by a trusted key and unchanged since count."""
    unsigned = lic("LIC-NOSIG-1", "10023610", D(2025, 2, 1), signer=None)
    altered = lic("LIC-ALT-1", "10023610", D(2025, 2, 1), quantity=1, alter={"quantity": 20})
    foreign = lic("LIC-FOREIGN-1", "10023610", D(2025, 2, 1), signer=STRANGER, signer_name="someone")
    report, problems = judge(unsigned, altered, foreign, at=D(2025, 6, 1))
    assert set(states(report).values()) == {State.INVALID} and report.capacity == 0
    messages = " ".join(p.message for p in problems)
    assert "not signed" in messages and "altered after signing" in messages and "does not trust" in messages


def test_more_registered_routers_than_licences_is_an_error() -> None:
    """500 routers fit one server subscription; the 501st does not."""
    assert judge(SUBSCRIPTION, at=D(2025, 6, 1), registered=500)[1] == []
    _, problems = judge(SUBSCRIPTION, at=D(2025, 6, 1), registered=501)
    assert codes(problems) == ["licence-capacity"]
    assert problems[0].message.startswith("501 routers are registered, but the licences valid on 2025-06-01 cover 500")


@pytest.mark.parametrize(("at", "threshold"), [(D(2026, 11, 2), None), (D(2026, 11, 3), 90), (D(2027, 1, 1), 90),
                                               (D(2027, 1, 2), 30), (D(2027, 1, 25), 7)])
def test_an_ending_licence_is_warned_of_90_30_and_7_days_ahead(at: dt.date, threshold: int | None) -> None:
    """The subscription ends 1 February 2027: warned from 90 days before (3 November), naming the nearest threshold."""
    _, problems = judge(SUBSCRIPTION, at=at)
    warnings = [p.message for p in problems if p.code == "licence-expiry"]
    if threshold is None:
        assert warnings == []
    else:
        assert len(warnings) == 1 and f"(under {threshold})" in warnings[0]
        assert "is valid until the end of 2027-01-31" in warnings[0]


def test_a_renewed_subscription_is_not_warned_of() -> None:
    """What continues after the end date keeps the capacity: no warning."""
    renewal = lic("LIC-REN-1", "10023611", D(2026, 12, 1))
    _, problems = judge(SUBSCRIPTION, renewal, at=D(2027, 1, 25))
    assert problems == []


def test_months_are_added_as_calendar_months() -> None:
    """31 January + 1 month is the last day of February; leap years count."""
    assert add_months(D(2027, 1, 31), 1) == D(2027, 2, 28)
    assert add_months(D(2028, 1, 31), 1) == D(2028, 2, 29)
    assert add_months(D(2025, 2, 1), 24) == D(2027, 2, 1)


def test_a_fleet_without_licence_files_enforces_nothing() -> None:
    """No licences/ in the repository: not managed, no problems (the API is not gated either)."""
    report, problems = evaluate([], "server", 20_000, D(2026, 1, 1))
    assert not report.managed and problems == []


def _fleet(firmware_10_4_released: str, pin: bool) -> Any:
    files = small_fleet()
    files["resources/firmware.yaml"] = (
        "firmware:\n"
        f"  - {{version: \"10.4\", models: [MRX5 LTE, MRX6 DSL], released: {firmware_10_4_released}}}\n"
        "  - {version: \"10.6\", models: [MRX5 LTE, MRX6 DSL], released: 2026-06-01}\n")
    if pin:
        lan = "    fields: {lan_network: 192.168.20.0/24}"
        files["devices/all.yaml"] = files["devices/all.yaml"].replace(lan, "    firmware: \"10.4\"\n" + lan)
    fleet_build = build(files)
    assert fleet_build.fleet is not None, fleet_build.problems
    return fleet_build.fleet


def test_d0_35_support_covers_the_newest_firmware_or_one_at_most_a_year_older_under_a_valid_licence() -> None:
    """10.6 of 1 June 2026 is the newest: 10.4 of 1 June 2025 is still covered, of 31 May 2025 it is not."""
    report, _ = judge(SUBSCRIPTION, at=D(2026, 6, 2))
    assert licences.support_coverage(_fleet("2025-06-01", pin=True), report) == []
    found = licences.support_coverage(_fleet("2025-05-31", pin=True), report)
    assert found == ["1 router(s) run 10.4, more than a year older than 10.6, the newest for their model: outside "
                     "vendor support (D0.35): nwk-r01"]
    expired, _ = judge(SUBSCRIPTION, at=D(2027, 3, 1))
    assert "supports no version (D0.35)" in licences.support_coverage(_fleet("2025-06-01", pin=False), expired)[0]
    assert licences.support_coverage(_fleet("2025-01-01", pin=True), evaluate([], "server", 3, D(2026, 6, 2))[0]) == []


# --- renewals extend subscriptions only (D0.25, D0.30) ---------------------------------------------------------


def test_d0_25_a_renewal_activated_while_only_a_trial_holds_extends_nothing() -> None:
    """Trial from 1 November 2026 (last day 15 December); a renewal activated 10 November is invalid: it does not
    grant 500 routers from 16 December 2026 to 15 December 2027."""
    trial = lic("LIC-TRIAL-1", "trial", D(2026, 11, 1))
    renewal = lic("LIC-REN-T", "10023611", D(2026, 11, 10))
    report, problems = judge(trial, renewal, at=D(2026, 12, 1))
    assert states(report) == {"LIC-TRIAL-1": State.VALID, "LIC-REN-T": State.INVALID}
    assert report.capacity == 500  # the trial's alone
    refusal = next(p for p in problems if p.code == "licence-invalid")
    assert "a trial is not a subscription" in refusal.message and refusal.origin.path == ("licence", "activated")
    assert judge(trial, renewal, at=D(2027, 1, 10), registered=0)[0].capacity == 0


def test_d0_30_a_renewal_continues_the_subscription_not_a_trial_that_outlasts_it() -> None:
    """Subscription until 31 January 2027; a trial from 20 January 2027 runs to 5 March. A renewal activated
    25 January starts on 1 February (the subscription's end), not on 6 March, and its last day is 31 January 2028."""
    trial = lic("LIC-TRIAL-2", "trial", D(2027, 1, 20))
    renewal = lic("LIC-REN-S", "10023611", D(2027, 1, 25))
    report, problems = judge(SUBSCRIPTION, trial, renewal, at=D(2027, 2, 15))
    term = next(item for item in report.licences if item.key == "LIC-REN-S")
    assert (term.start, term.last_day, term.state) == (D(2027, 2, 1), D(2028, 1, 31), State.VALID)
    assert report.capacity == 1000  # the trial's 500 and the renewal's 500
    assert [p.message.split(": ")[-1] for p in problems] == ["then no API licence is left (D0.23)"]  # the trial's
    assert judge(SUBSCRIPTION, trial, renewal, at=D(2028, 1, 31))[0].capacity == 500
    assert judge(SUBSCRIPTION, trial, renewal, at=D(2028, 2, 1), registered=0)[0].capacity == 0


# --- the advice for a renewal not yet activated (D0.25, D0.31, D0.32) ------------------------------------------


def reason(report: Any, key: str) -> str:
    return next(item.reason for item in report.licences if item.key == key)


def test_d0_25_a_renewal_must_be_activated_while_the_subscription_holds() -> None:
    """Bought 1 June 2026 (activation possible until 31 May 2028), but the subscription's last day is 31 January
    2027: activating later renews nothing, so the advice names 31 January 2027."""
    waiting = lic("LIC-REN-W", "10023611", None, D(2026, 6, 1))
    report, _ = judge(SUBSCRIPTION, waiting, at=D(2026, 12, 1))
    assert states(report)["LIC-REN-W"] is State.NOT_ACTIVATED
    assert reason(report, "LIC-REN-W").startswith("activate it by 2027-01-31, the last day of the subscription")


def test_d0_31_the_activation_deadline_is_named_when_it_comes_first() -> None:
    """Bought 10 January 2025: it must be activated by 9 January 2027, before the subscription ends."""
    report, _ = judge(SUBSCRIPTION, lic("LIC-REN-E", "10023611", None, D(2025, 1, 10)), at=D(2026, 12, 1))
    assert reason(report, "LIC-REN-E") == "activate it by 2027-01-09 (24 months after its purchase, D0.31)"


def test_d0_25_a_queued_renewal_extends_how_long_another_may_be_activated() -> None:
    """A first renewal (activated 1 December 2026) runs 1 February 2027 – 31 January 2028: a second may be
    activated until 31 January 2028."""
    first = lic("LIC-REN-1", "10023611", D(2026, 12, 1))
    second = lic("LIC-REN-2", "10023611", None, D(2026, 12, 15))
    report, _ = judge(SUBSCRIPTION, first, second, at=D(2027, 1, 10))
    assert reason(report, "LIC-REN-2").startswith("activate it by 2028-01-31,")


def test_d0_32_after_the_subscription_ended_no_activation_is_advised() -> None:
    """On 1 March 2027 the subscription (last day 31 January) is over: the renewal cannot be activated now."""
    waiting = lic("LIC-REN-W", "10023611", None, D(2026, 6, 1))
    report, _ = judge(SUBSCRIPTION, waiting, at=D(2027, 3, 1), registered=0)
    said = reason(report, "LIC-REN-W")
    assert said.startswith("cannot be activated now: no server subscription is valid on 2027-03-01")
    assert "(the last one held until the end of 2027-01-31)" in said and "activate it by" not in said


# --- last valid days (D0.26, D0.32) ----------------------------------------------------------------------------


def test_d0_32_outputs_name_the_last_valid_day_not_the_day_it_is_invalid() -> None:
    """An API licence activated 15 March 2026 holds through 14 March 2027, and is invalid on 15 March."""
    api = lic("LIC-API-1", "10023613", D(2026, 3, 15))
    report, _ = judge(SUBSCRIPTION, api, at=D(2027, 3, 14))
    assert report.api_last_day == D(2027, 3, 14) and not judge(SUBSCRIPTION, api, at=D(2027, 3, 15))[0].api
    text = licence_text(report)
    assert "API licence: valid until the end of 2027-03-14" in text and "2027-03-15" not in text
    rows = {row["key"]: row for row in licence_data(report)["licences"]}
    assert licence_data(report)["api_last_day"] == "2027-03-14" and rows["LIC-API-1"]["last_day"] == "2027-03-14"
    assert rows["LIC-SUB-1"]["last_day"] == "2027-01-31" and "end" not in rows["LIC-SUB-1"]


# --- D0.3: the approval above 5,000 routers must come first ----------------------------------------------------


def test_d0_3_an_approval_dated_after_now_does_not_count_yet() -> None:
    """5,001 routers, approval dated 2 March 2026: refused on 1 March (Berlin), fine from 2 March (Berlin), which
    begins at 23:00 UTC on 1 March."""
    built = build(scaled_fleet(5_001, "datacenter", approval=6_000))
    assert built.fleet is not None, built.problems
    _, problems = licences.fleet_licences([], built.fleet, dt.datetime(2026, 3, 1, 22, 59, tzinfo=dt.UTC))
    assert codes(problems) == ["approval-not-prior"]
    assert problems[0].origin.file == "fleet.yaml" and problems[0].origin.path == ("approval", "approved_on")
    assert "the approval INSYS-REV-1 is dated 2026-03-02, after 2026-03-01" in problems[0].message
    assert licences.fleet_licences([], built.fleet, dt.datetime(2026, 3, 1, 23, 0, tzinfo=dt.UTC))[1] == []
    assert licences.fleet_licences([], built.fleet, D(2026, 3, 2))[1] == []
