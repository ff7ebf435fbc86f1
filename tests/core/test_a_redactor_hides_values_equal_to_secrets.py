"""The redactor: whole values equal to a secret become `***` in snapshots and plans; long secrets also in free text."""

from __future__ import annotations

import datetime as dt

from reconciler.core.config_diffs import KeyChange
from reconciler.core.observed import FORMAT, ObservedDevice, ObservedSnapshot
from reconciler.core.plans import Action, ActionKind, DevicePlan, Plan, Status
from reconciler.core.presenting.redaction import redact_plan, redact_snapshot
from reconciler.core.secrets import NO_SECRETS, Redactor

SECRETS = Redactor(["fleet-admin-password", "4711", "admin-pw"])
NOW = dt.datetime(2026, 11, 21, 9, 30, tzinfo=dt.UTC)


def test_whole_values_equal_to_a_secret_are_hidden_whatever_their_length() -> None:
    """A four-digit PIN is hidden as a value; values that only resemble a secret are not."""
    assert [SECRETS.value(v) for v in ("4711", "fleet-admin-password", "47110", "admin", None)] == [
        "***", "***", "47110", "admin", None]


def test_free_text_hides_long_secrets_only() -> None:
    """In text, secrets of six characters or more are replaced (the longest first); a PIN would mask numbers."""
    text = "hostname fleet-admin-password -> ber-r02; port 4711; admin-pw and admin-pw"
    assert SECRETS.text(text) == "hostname *** -> ber-r02; port 4711; *** and ***"
    assert SECRETS.text("4711") == "***"
    assert Redactor(["password", "pass-password"]).text("x pass-password y") == "x *** y"


def test_a_redactor_never_shows_its_values() -> None:
    """Its repr counts the values; an empty one is false and changes nothing."""
    assert repr(SECRETS) == "Redactor(3 values)"
    assert not NO_SECRETS
    assert NO_SECRETS.text("fleet-admin-password") == "fleet-admin-password"


def test_a_snapshot_hides_config_values_and_error_texts() -> None:
    """Only the values equal to a secret change; a device with none is the same object."""
    clean = ObservedDevice(serial="1", config={"administration.hostnames.hostname": "ber-r01"})
    leaky = ObservedDevice(serial="2", config={"administration.hostnames.location": "fleet-admin-password",
                                               "interfaces.net1.vlan_id": "4711"})
    offline = ObservedDevice(serial="3", online=False, unreachable="login refused: admin-pw is wrong")
    snapshot = ObservedSnapshot(format=FORMAT, taken_at=NOW, devices=[clean, leaky, offline])
    redacted = redact_snapshot(snapshot, SECRETS)
    assert redacted.devices[0] is clean
    assert redacted.devices[1].config == {"administration.hostnames.location": "***", "interfaces.net1.vlan_id": "***"}
    assert redacted.devices[2].unreachable == "login refused: *** is wrong"
    assert redact_snapshot(snapshot, NO_SECRETS) is snapshot


def test_a_plan_hides_change_values_and_notes_and_keeps_what_apply_reads() -> None:
    """Key changes and notes are redacted; names, statuses and hashes stay (apply plans each device afresh)."""
    change = Action(ActionKind.CONFIGURATION, "configuration: 1 key differs", "merge mode", None,
                    (KeyChange("administration.hostnames.location", "fleet-admin-password", "Berlin"),))
    leaky = DevicePlan("ber-r01", "1", "MRX5 LTE", Status.CHANGES, (change,), observed_hash="o", desired_hash="d")
    guarded = DevicePlan("ber-r02", "2", "MRX5 LTE", Status.BLOCKED,
                         notes=("would cut reconciler's access (services.https.port admin-pw -> 443): refused",))
    clean = DevicePlan("ber-r03", "3", "MRX5 LTE", Status.IN_SYNC)
    plan = Plan("fleet", "abc", NOW, NOW, (leaky, guarded, clean))
    redacted = redact_plan(plan, SECRETS)
    first, second, third = redacted.devices
    assert first.actions[0].changes == (KeyChange("administration.hostnames.location", "***", "Berlin"),)
    assert (first.device, first.status, first.observed_hash, first.desired_hash) == ("ber-r01", Status.CHANGES,
                                                                                     "o", "d")
    assert second.notes == ("would cut reconciler's access (services.https.port *** -> 443): refused",)
    assert third is clean
    assert redact_plan(plan, NO_SECRETS) is plan
