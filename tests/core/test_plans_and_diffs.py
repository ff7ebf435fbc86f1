"""Plans against observed state, saved plans, revision diffs (incremental = full), markdown truncation."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.core.config_diffs import KeyChange
from reconciler.core.observed import ObservedSnapshot
from reconciler.core.plans import ActionKind, PacketRef, Plan, Status, plan_fleet, plan_from_data, plan_to_data
from reconciler.core.presenting.markdown import diff_markdown, plan_markdown
from reconciler.core.presenting.text import plan_text
from reconciler.core.rendering import DesiredState, Renderer
from reconciler.core.revision_diffs import ChangeKind, RevisionDiff, diff_revisions
from tests.conftest import build, small_fleet, with_sealed_admin_password

NOW = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC)
SEALED = "rsb1:c2VhbGVkLWFkbWluLXBhc3N3b3JkLWZvci10ZXN0cw=="
PASSWORD_KEY = "administration.users[1].password"
ROUTER_HASH = "$6$hashed$"


def renderer(files: Mapping[str, str]) -> Renderer:
    result = build(files)
    assert result.ok, [str(p) for p in result.problems]
    assert result.fleet is not None and result.templates is not None
    return Renderer(result.fleet, result.templates)


def plan_files() -> dict[str, str]:
    """The small fleet plus a packet on ber-r01 and a secret admin password on every device."""
    files = with_sealed_admin_password(small_fleet(), SEALED)
    files["resources/packets/p.yaml"] = 'packets:\n  - {name: p1, parts: [{type: script, file: files/a.lua}]}\n'
    files["resources/packets/files/a.lua"] = "print('hello')\n"
    files["devices/all.yaml"] = files["devices/all.yaml"].replace(
        "    site: berlin\n    fields: {lan_network: 192.168.10.0/24",
        "    site: berlin\n    packets: [p1]\n    fields: {lan_network: 192.168.10.0/24")
    return files


def replace_mode(fleet_yaml: str) -> str:
    return fleet_yaml.replace("  template: base\n", "  template: base\n  config_mode: replace\n")


def desired(r: Renderer, name: str) -> DesiredState:
    state = r.render(r.fleet.devices[name])
    assert isinstance(state, DesiredState)
    return state


def in_sync(r: Renderer, name: str, **overrides: Any) -> dict[str, Any]:
    """What a router that runs exactly the desired state reports (secrets come back hashed)."""
    state = desired(r, name)
    config = {key: ROUTER_HASH if key == PASSWORD_KEY else value for key, value in state.parsed().values.items()}
    device = {"serial": state.serial, "name": name, "model": state.model, "firmware": state.firmware,
              "online": True, "last_seen": "2026-11-21T09:29:58Z", "packets": dict(state.packets), "config": config}
    return {**device, **overrides}


def snapshot(*devices: dict[str, Any]) -> ObservedSnapshot:
    return ObservedSnapshot.model_validate(
        {"format": "reconciler/observed-v1", "taken_at": "2026-11-21T09:30:00Z", "devices": list(devices)})


def plan_of(r: Renderer, *devices: dict[str, Any]) -> Plan:
    return plan_fleet(r.fleet, r, snapshot(*devices), "abc123", NOW)


def device_plan(plan: Plan, name: str) -> Any:
    return next(d for d in plan.devices if d.device == name)


def config_changes(plan: Plan, name: str) -> list[KeyChange]:
    actions = [a for a in device_plan(plan, name).actions if a.kind is ActionKind.CONFIGURATION]
    return list(actions[0].changes) if actions else []


# --- plans ------------------------------------------------------------------------------------------------


def test_device_in_sync_has_no_actions() -> None:
    """A router reporting exactly the desired state (secret hashed) needs nothing."""
    r = renderer(plan_files())
    plan = plan_of(r, *(in_sync(r, name) for name in r.fleet.devices))
    assert [(d.device, d.status, d.actions) for d in plan.devices] == [
        ("ber-r01", Status.IN_SYNC, ()), ("ber-r02", Status.IN_SYNC, ()), ("nwk-r01", Status.IN_SYNC, ())]
    assert not plan.has_changes
    assert plan.counts == {Status.IN_SYNC: 3}


def test_actions_come_in_order_firmware_then_packet_then_configuration() -> None:
    """Old firmware, a missing packet and a changed key: three actions in dependency order, with reasons."""
    r = renderer(plan_files())
    config = {**in_sync(r, "ber-r01")["config"], "interfaces.net1.vlan_id": "11"}
    plan = plan_of(r, in_sync(r, "ber-r01", firmware="10.4", packets={}, config=config))
    found = device_plan(plan, "ber-r01")
    assert found.status is Status.CHANGES
    assert [a.kind for a in found.actions] == [ActionKind.FIRMWARE, ActionKind.PACKET, ActionKind.CONFIGURATION]
    firmware, packet, configuration = found.actions
    assert firmware.summary == "firmware 10.4 -> 10.6"
    assert firmware.target == "10.6"
    assert packet.summary == "packet p1: install"
    assert packet.packet == PacketRef("p1", dict(desired(r, 'ber-r01').packets)['p1'])
    assert configuration.changes == (KeyChange("interfaces.net1.vlan_id", "11", "10"),)


def test_a_plan_without_keys_keeps_statuses_summaries_and_hashes_but_no_key_changes() -> None:
    """What apply --yes plans with: the same plan, minus the per-key detail nobody will read."""
    r = renderer(plan_files())
    config = {**in_sync(r, "ber-r01")["config"], "interfaces.net1.vlan_id": "11"}
    snap = snapshot(in_sync(r, "ber-r01", firmware="10.4", config=config), in_sync(r, "ber-r02"))
    full, slim = (plan_fleet(r.fleet, r, snap, "abc123", NOW, keys=keys) for keys in (True, False))
    assert [(d.device, d.status, d.observed_hash, d.desired_hash, [a.summary for a in d.actions])
            for d in slim.devices] == [(d.device, d.status, d.observed_hash, d.desired_hash,
                                        [a.summary for a in d.actions]) for d in full.devices]
    assert [a.changes for a in device_plan(full, "ber-r01").actions][-1] != ()
    assert all(a.changes == () for d in slim.devices for a in d.actions)
    assert slim.counts == full.counts == {Status.CHANGES: 1, Status.IN_SYNC: 1, Status.UNOBSERVED: 1}


def test_a_packet_with_other_content_on_the_router_is_updated() -> None:
    """An installed packet whose digest differs is an update, not an install."""
    r = renderer(plan_files())
    plan = plan_of(r, in_sync(r, "ber-r01", packets={"p1": "an-older-digest"}))
    assert [a.summary for a in device_plan(plan, "ber-r01").actions] == ["packet p1: update"]


def test_merge_mode_ignores_keys_only_the_router_has() -> None:
    """In merge mode, router keys the template does not render are not drift."""
    r = renderer(plan_files())
    observed = in_sync(r, "nwk-r01")
    observed["config"] = {**observed["config"], "services.snmp.active": "1", "services.telnet.active": "0"}
    assert device_plan(plan_of(r, observed), "nwk-r01").status is Status.IN_SYNC


def test_replace_mode_removes_keys_only_the_router_has() -> None:
    """In replace mode, every router key the template does not render is removed."""
    files = plan_files()
    files["fleet.yaml"] = replace_mode(files["fleet.yaml"])
    r = renderer(files)
    observed = in_sync(r, "nwk-r01")
    observed["config"] = {**observed["config"], "services.snmp.active": "1"}
    plan = plan_of(r, observed)
    assert device_plan(plan, "nwk-r01").status is Status.CHANGES
    assert config_changes(plan, "nwk-r01") == [KeyChange("services.snmp.active", "1", None)]


def test_owned_lists_lose_extra_router_items_even_in_merge_mode() -> None:
    """A list the template clears with `.delete=all` is owned: a third NTP server on the router goes."""
    r = renderer(plan_files())
    observed = in_sync(r, "nwk-r01")
    observed["config"] = {**observed["config"], "administration.time.ntp_server[2].server": "ntp.rogue.example"}
    plan = plan_of(r, observed)
    assert config_changes(plan, "nwk-r01") == [
        KeyChange("administration.time.ntp_server[2].server", "ntp.rogue.example", None)]


def test_builtin_volatile_keys_are_never_drift() -> None:
    """`status.*` and friends on the router are not removed, even in replace mode."""
    files = plan_files()
    files["fleet.yaml"] = replace_mode(files["fleet.yaml"])
    r = renderer(files)
    observed = in_sync(r, "nwk-r01")
    observed["config"] = {**observed["config"], "status.wwan1.signal": "-71", "interfaces.net1.counters.rx": "9",
                          "system.uptime": "3d"}
    assert device_plan(plan_of(r, observed), "nwk-r01").status is Status.IN_SYNC


def test_fleet_volatile_keys_are_never_drift() -> None:
    """A fleet.yaml `volatile_keys` pattern exempts rendered keys and router-only keys alike."""
    files = plan_files()
    files["fleet.yaml"] += 'volatile_keys: ["interfaces.net1.vlan_*", "administration.time.last_sync"]\n'
    files["fleet.yaml"] = replace_mode(files["fleet.yaml"])
    r = renderer(files)
    observed = in_sync(r, "nwk-r01")
    observed["config"] = {**observed["config"], "interfaces.net1.vlan_id": "4000",
                          "administration.time.last_sync": "2026-11-21T09:00:00Z"}
    assert device_plan(plan_of(r, observed), "nwk-r01").status is Status.IN_SYNC


def test_secret_keys_are_write_only_present_is_enough() -> None:
    """A secret-valued key the router reports (hashed, so different) is fine."""
    r = renderer(plan_files())
    observed = in_sync(r, "nwk-r01")
    assert observed["config"][PASSWORD_KEY] == ROUTER_HASH
    assert device_plan(plan_of(r, observed), "nwk-r01").status is Status.IN_SYNC


def test_secret_keys_missing_on_the_router_are_added_and_shown_redacted() -> None:
    """A secret-valued key the router lacks is added; the saved plan shows `***`."""
    r = renderer(plan_files())
    observed = in_sync(r, "nwk-r01")
    del observed["config"][PASSWORD_KEY]
    plan = plan_of(r, observed)
    [change] = config_changes(plan, "nwk-r01")
    assert (change.key, change.old, change.kind) == (PASSWORD_KEY, None, "add")
    saved = plan_to_data(plan)["devices"]
    changes = next(d for d in saved if d["device"] == "nwk-r01")["actions"][0]["changes"]
    assert changes == [{"key": PASSWORD_KEY, "old": None, "new": "***"}]


def test_plan_text_and_markdown_show_secret_values_as_stars() -> None:
    """Every plan output shows a secret to be written as `***`, never its marker or sealed value."""
    r = renderer(plan_files())
    observed = in_sync(r, "nwk-r01")
    del observed["config"][PASSWORD_KEY]
    plan = plan_of(r, observed)
    for output in (plan_text(plan), plan_markdown(plan)):
        assert f"+ {PASSWORD_KEY}=***" in output
        assert "⟦" not in output
        assert SEALED not in output


def test_offline_router_keeps_its_actions_and_says_when_it_was_seen() -> None:
    """An offline router is `offline`, not `changes`; its actions wait."""
    r = renderer(plan_files())
    plan = plan_of(r, in_sync(r, "nwk-r01", online=False, firmware="10.4", last_seen="2026-11-20T08:00:00Z"))
    found = device_plan(plan, "nwk-r01")
    assert found.status is Status.OFFLINE
    assert [a.kind for a in found.actions] == [ActionKind.FIRMWARE]
    assert found.notes == ("offline (last seen 2026-11-20T08:00:00+00:00)",)


def test_device_without_observed_state_is_unobserved() -> None:
    """A device whose serial the snapshot lacks gets no actions and a note."""
    r = renderer(plan_files())
    found = device_plan(plan_of(r, in_sync(r, "ber-r01")), "nwk-r01")
    assert (found.status, found.actions, found.notes) == (
        Status.UNOBSERVED, (), ("no observed state for serial 24130003",))


def test_model_mismatch_blocks_the_device() -> None:
    """A router reporting another model than the repository's is blocked: no actions at all."""
    r = renderer(plan_files())
    found = device_plan(plan_of(r, in_sync(r, "nwk-r01", model="MRX5 LTE", firmware="10.4")), "nwk-r01")
    assert found.status is Status.BLOCKED
    assert found.actions == ()
    assert found.notes == ("the router reports model 'MRX5 LTE'; the repository says 'MRX6 DSL'",)


def test_router_unknown_to_the_repository_is_unmanaged_and_listed_last() -> None:
    """A serial the fleet does not have is reported as unmanaged, after the fleet's devices."""
    r = renderer(plan_files())
    stranger = {"serial": "99999999", "name": "aaa-stranger", "model": "MRX5 LTE", "config": {"a.b": "1"}}
    plan = plan_of(r, *(in_sync(r, name) for name in r.fleet.devices), stranger)
    assert [(d.device, d.status) for d in plan.devices][-1] == ("aaa-stranger", Status.UNMANAGED)
    assert plan.devices[-1].actions == ()
    assert plan.counts == {Status.IN_SYNC: 3, Status.UNMANAGED: 1}


def test_saved_plan_round_trips() -> None:
    """`plan_from_data(plan_to_data(plan))` gives the same plan back; the data survives JSON."""
    r = renderer(small_fleet())
    observed = in_sync(r, "ber-r01", firmware="10.4")
    observed["config"] = {**observed["config"], "interfaces.net1.vlan_id": "11"}
    plan = plan_of(r, observed, in_sync(r, "ber-r02", online=False))
    data = json.loads(json.dumps(plan_to_data(plan)))
    assert plan_from_data(data) == plan
    assert data["revision"] == "abc123"
    assert data["format"] == "reconciler/plan-v1"


def test_saved_plan_records_each_observed_state_hash() -> None:
    """Every observed device's state hash is in the saved plan, so apply can notice a change since."""
    r = renderer(small_fleet())
    snap = snapshot(*(in_sync(r, name) for name in r.fleet.devices))
    data = plan_to_data(plan_fleet(r.fleet, r, snap, "abc123", NOW))
    hashes = {d["serial"]: d["observed_hash"] for d in data["devices"]}
    assert hashes == {device.serial: device.state_hash() for device in snap.devices}


def test_saved_plan_contains_no_secret_marker_or_sealed_value() -> None:
    """Nothing of a secret but `***` reaches the saved plan."""
    r = renderer(plan_files())
    observed = [in_sync(r, name, config={}) for name in r.fleet.devices]
    plan = plan_of(r, *observed)
    text = json.dumps(plan_to_data(plan), ensure_ascii=False)
    assert "***" in text
    assert "⟦" not in text
    assert "secret:adm" not in text
    assert SEALED not in text
    assert plan_to_data(plan_from_data(json.loads(text))) == json.loads(text)


# --- revision diffs ---------------------------------------------------------------------------------------


def revision_diff(base: Mapping[str, str], head: Mapping[str, str], incremental: bool = True) -> RevisionDiff:
    return diff_revisions(renderer(base), renderer(head), "base", "head", incremental=incremental)


NEW_DEVICE = """\
  - name: nwk-r02
    serial: "24130004"
    model: MRX6 DSL
    address: https://10.30.1.2
    site: newark
    fields: {lan_network: 192.168.21.0/24}
"""


def without_device(devices_yaml: str, name: str) -> str:
    """devices/all.yaml text without the block of device `name`."""
    return re.sub(rf"  - name: {name}\n(?:    .*\n)*", "", devices_yaml)


def test_no_change_means_an_empty_diff_without_rendering() -> None:
    """Identical revisions: no changes, every device unchanged, nothing rendered."""
    diff = revision_diff(small_fleet(), small_fleet())
    assert (diff.changes, diff.unchanged, diff.rendered) == ((), 3, 0)
    assert not diff.has_changes


def test_added_and_removed_devices() -> None:
    """A device only in head is added (with its whole configuration); one only in base is removed."""
    head = small_fleet()
    head["devices/all.yaml"] = without_device(head["devices/all.yaml"], "nwk-r01") + NEW_DEVICE
    diff = revision_diff(small_fleet(), head)
    assert [(c.device, c.kind) for c in diff.changes] == [("nwk-r01", ChangeKind.REMOVED),
                                                          ("nwk-r02", ChangeKind.ADDED)]
    added = diff.changes[1]
    assert added.firmware_change == (None, "10.6")
    assert KeyChange("administration.hostnames.hostname", None, "nwk-r02") in added.config
    assert diff.unchanged == 2


def test_changed_group_field_changes_only_its_members() -> None:
    """europe's NTP server changes: the two Berlin devices change that one key; nwk-r01 is untouched."""
    head = small_fleet()
    head["groups.yaml"] = head["groups.yaml"].replace("ntp.eu.example.net", "ntp2.eu.example.net")
    diff = revision_diff(small_fleet(), head)
    assert [c.device for c in diff.changes] == ["ber-r01", "ber-r02"]
    assert diff.changes[0].config == (
        KeyChange("administration.time.ntp_server[1].server", "ntp.eu.example.net", "ntp2.eu.example.net"),)
    assert diff.unchanged == 1


def test_attribute_only_change_is_reported_without_configuration_change() -> None:
    """A new address that the template does not render: an attribute change, nothing for the router."""
    head = small_fleet()
    head["devices/all.yaml"] = head["devices/all.yaml"].replace("https://10.30.1.1", "https://10.30.1.99")
    diff = revision_diff(small_fleet(), head)
    [change] = diff.changes
    assert (change.device, change.kind) == ("nwk-r01", ChangeKind.CHANGED)
    assert change.attributes == (("address", "https://10.30.1.1", "https://10.30.1.99"),)
    assert change.config == ()
    assert (change.template_change, change.firmware_change, change.packets_added, change.errors) == (None, None, (), ())


def test_template_change_affects_only_devices_using_it() -> None:
    """Changing a template nwk-r01 alone uses re-renders and changes only nwk-r01."""
    files = small_fleet()
    files["templates/dsl.j2"] = "administration.hostnames.hostname={{ device.name }}\nservices.ssh.active=0\n"
    files["templates/dsl.yaml"] = "fields: {}\n"
    files["devices/all.yaml"] = files["devices/all.yaml"].replace("    site: newark\n",
                                                                  "    site: newark\n    template: dsl\n")
    head = {**files, "templates/dsl.j2": files["templates/dsl.j2"].replace("active=0", "active=1")}
    diff = revision_diff(files, head)
    assert [c.device for c in diff.changes] == ["nwk-r01"]
    assert diff.changes[0].config == (KeyChange("services.ssh.active", "0", "1"),)
    assert diff.rendered == 2  # one device, on both sides
    assert diff.unchanged == 2


def test_template_rewrite_with_the_same_keys_and_values_is_no_change() -> None:
    """Configuration is compared parsed: reordered lines and `[last]` spelled as `[1]` change nothing."""
    head = small_fleet()
    lines = head["templates/base.j2"].splitlines(keepends=True)
    head["templates/base.j2"] = "".join([*lines[4:6], lines[0], lines[1], lines[2],
                                         lines[3].replace("[last]", "[1]"), *lines[6:]])
    assert head["templates/base.j2"] != small_fleet()["templates/base.j2"]
    diff = revision_diff(small_fleet(), head)
    assert diff.changes == ()
    assert diff.unchanged == 3
    assert diff.rendered == 6


def test_firmware_template_and_mode_changes_are_named() -> None:
    """A device moving to another firmware and mode shows both changes."""
    head = small_fleet()
    head["devices/all.yaml"] = head["devices/all.yaml"].replace(
        "    site: newark\n", '    site: newark\n    firmware: "10.4"\n    config_mode: replace\n')
    [change] = revision_diff(small_fleet(), head).changes
    assert change.firmware_change == ("10.6", "10.4")
    assert change.mode_change == ("merge", "replace")
    assert change.config == ()


def test_summary_counts_changes_by_group_model_and_template() -> None:
    """The summary tables count added/removed/changed per group, model and template."""
    head = small_fleet()
    head["groups.yaml"] = head["groups.yaml"].replace("internet.m2m", "internet2.m2m")
    head["devices/all.yaml"] += NEW_DEVICE
    diff = revision_diff(small_fleet(), head)
    assert diff.summary("group") == {
        "(no group)": {"added": 1, "removed": 0, "changed": 0},
        "europe": {"added": 0, "removed": 0, "changed": 2},
        "lte": {"added": 0, "removed": 0, "changed": 2},
    }
    assert diff.summary("model") == {
        "MRX5 LTE": {"added": 0, "removed": 0, "changed": 2},
        "MRX6 DSL": {"added": 1, "removed": 0, "changed": 0},
    }
    assert diff.summary("template") == {"base": {"added": 1, "removed": 0, "changed": 2}}


# --- incremental diff = full diff (property) -------------------------------------------------------------


LIBRARY = "{% macro ssh(on) %}services.ssh.active={{ on | icom_bool }}{% endmacro %}\n"


def _group_field(files: dict[str, str], draw: st.DrawFn) -> None:
    host = draw(st.sampled_from(["ntp.eu.example.net", "ntp2.eu.example.net", "time.example.org"]))
    files["groups.yaml"] = files["groups.yaml"].replace("ntp.eu.example.net", host)


def _device_field(files: dict[str, str], draw: st.DrawFn) -> None:
    files["devices/all.yaml"] = files["devices/all.yaml"].replace("vlan: 10", f"vlan: {draw(st.integers(1, 4))}")


def _new_device_field(files: dict[str, str], draw: st.DrawFn) -> None:
    files["devices/all.yaml"] = files["devices/all.yaml"].replace(
        "{lan_network: 192.168.11.0/24}", f"{{lan_network: 192.168.11.0/24, vlan: {draw(st.integers(1, 4))}}}")


def _site(files: dict[str, str], draw: st.DrawFn) -> None:  # moves a device out of its group too
    files["devices/all.yaml"] = files["devices/all.yaml"].replace("site: berlin", "site: newark", 1)


def _template_line(files: dict[str, str], draw: st.DrawFn) -> None:
    line = draw(st.sampled_from(["services.ssh.active=0", "services.ssh.active=1",
                                 "interfaces.net1.description={{ device.site }}"]))
    files["templates/base.j2"] += line + "\n"


def _library(files: dict[str, str], draw: st.DrawFn) -> None:
    edit = draw(st.sampled_from([("icom_bool }}", "icom_bool }}{{ '' }}"), ("ssh.active", "ssh.enabled")]))
    files["templates/lib/ssh.j2"] = LIBRARY.replace(*edit)


def _packet(files: dict[str, str], draw: st.DrawFn) -> None:
    files["devices/all.yaml"] = files["devices/all.yaml"].replace(
        "    site: newark\n", "    site: newark\n    packets: [p1]\n", 1)
    files["resources/packets/files/a.lua"] = draw(st.sampled_from(["print(1)\n", "print(2)\n"]))


def _add_device(files: dict[str, str], draw: st.DrawFn) -> None:
    files["devices/all.yaml"] += NEW_DEVICE


def _remove_device(files: dict[str, str], draw: st.DrawFn) -> None:
    files["devices/all.yaml"] = without_device(files["devices/all.yaml"], "ber-r02")


def _firmware(files: dict[str, str], draw: st.DrawFn) -> None:
    if draw(st.booleans()):
        files["fleet.yaml"] = files["fleet.yaml"].replace('firmware: "10.6"', 'firmware: "10.4"')
    else:
        files["devices/all.yaml"] = files["devices/all.yaml"].replace(
            "    site: newark\n", '    site: newark\n    firmware: "10.4"\n', 1)


MODIFICATIONS = (_group_field, _device_field, _new_device_field, _site, _template_line, _library, _packet,
                 _add_device, _remove_device, _firmware)


@st.composite
def fleet_revisions(draw: st.DrawFn) -> dict[str, str]:
    """A small fleet (with a template library and a packet) after a random handful of small modifications."""
    files = small_fleet()
    files["templates/lib/ssh.j2"] = LIBRARY
    files["templates/base.j2"] = '{% import "lib/ssh.j2" as lib %}\n' + files["templates/base.j2"] + (
        "{{ lib.ssh(false) }}\n")
    files["resources/packets/p.yaml"] = 'packets:\n  - {name: p1, parts: [{type: script, file: files/a.lua}]}\n'
    files["resources/packets/files/a.lua"] = "print(1)\n"
    for modify in MODIFICATIONS:
        if draw(st.booleans()):
            modify(files, draw)
    return files


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=fleet_revisions(), head=fleet_revisions())
def test_incremental_diff_equals_full_diff(base: dict[str, str], head: dict[str, str]) -> None:
    """Skipping devices whose input hash did not change gives exactly the diff of re-rendering all."""
    incremental = revision_diff(base, head)
    full = revision_diff(base, head, incremental=False)
    assert incremental.changes == full.changes
    assert incremental.unchanged == full.unchanged
    assert incremental.rendered <= full.rendered


# --- markdown ---------------------------------------------------------------------------------------------


def many_new_devices(count: int) -> dict[str, str]:
    files = small_fleet()
    for index in range(count):
        files["devices/all.yaml"] += (
            f'  - name: new-r{index:03d}\n    serial: "2599{index:04d}"\n    model: MRX6 DSL\n'
            f"    address: https://10.40.{index // 250}.{index % 250 + 1}\n    site: newark\n"
            f"    fields: {{lan_network: 10.{index // 250}.{index % 250}.0/24}}\n"
        )
    return files


def test_markdown_under_the_limit_is_complete() -> None:
    """A small diff fits: a summary table, one `<details>` block per device, no truncation line."""
    diff = revision_diff(small_fleet(), many_new_devices(3))
    text = diff_markdown(diff)
    assert text.startswith("### reconciler diff: 3 devices change (3 added, 0 removed, 0 changed), 3 unchanged")
    assert "| group | added | removed | changed |" in text
    assert text.count("<details>") == text.count("</details>") == 3
    assert "more device" not in text


def test_markdown_truncates_between_devices_and_says_how_many_are_left_out() -> None:
    """Over the limit, whole device blocks are dropped and a last line counts them."""
    diff = revision_diff(small_fleet(), many_new_devices(40))
    limit = 6_000
    text = diff_markdown(diff, limit=limit)
    assert len(text) <= limit
    shown = text.count("<details>")
    assert 0 < shown < 40
    assert text.count("</details>") == shown
    last = text.rstrip("\n").splitlines()[-1]
    assert last == (f"_… and {40 - shown} more devices not shown (the comment size limit); run `reconciler diff` "
                    "locally for all of them._")
    # every block that is shown is complete: its device's last key is in it
    for block in re.findall(r"<details>.*?</details>", text, flags=re.DOTALL):
        assert "interfaces.net1.vlan_id=1" in block


def test_markdown_at_the_github_limit_stays_under_it() -> None:
    """With the default limit (GitHub's 65,536 characters), a large diff is cut below it."""
    diff = revision_diff(small_fleet(), many_new_devices(300))
    text = diff_markdown(diff)
    assert len(text) <= 65_536
    assert text.rstrip("\n").splitlines()[-1].startswith("_… and ")
