"""Precedence and membership: fleet defaults < groups (declared order) < device; secrets stay sealed."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.core.fleets import Device
from reconciler.core.models import ConfigMode
from reconciler.core.secrets import SecretValue
from tests.conftest import build, small_fleet

FleetDir = Callable[[Mapping[str, str | bytes]], Path]

SEALED = "rsb1:c2VhbGVkLXZhbHVlLW9mLXRoZS1hZG1pbi1wYXNzd29yZA=="

# Two more templates, and groups that set every layered attribute, declared in this order:
# europe (site berlin), lte (model MRX5 LTE), lab (members + tag selector), pinned (device-listed only).
GROUPS = """\
groups:
  - name: europe
    selector: {site: [berlin]}
    template: alt
    firmware: "10.4"
    config_mode: replace
    packets: [p-a, p-b]
    fields: {ntp_server: ntp.eu.example.net, vlan: 20}
  - name: lte
    selector: {model: [MRX5 LTE]}
    packets: [p-c, p-a]
    fields: {apn: internet.m2m, vlan: 30}
  - name: lab
    selector: {tags: [lab, staging]}
    members: [nwk-r01]
    template: third
    config_mode: merge
    fields: {ntp_server: ntp.lab.example.net}
  - name: pinned
    fields: {vlan: 40}
"""

ALT_J2 = "administration.hostnames.hostname={{ device.name }}-alt\ninterfaces.net1.vlan_id={{ vlan }}\n"
ALT_YAML = "fields:\n  vlan: {type: int, default: 7}\n"
THIRD_J2 = "administration.hostnames.hostname={{ device.name }}-third\n"
THIRD_YAML = "fields: {}\n"
PACKETS = """\
packets:
  - {name: p-a, parts: [{type: firmware, version: "10.6"}]}
  - {name: p-b, parts: [{type: firmware, version: "10.6"}]}
  - {name: p-c, parts: [{type: firmware, version: "10.6"}]}
  - {name: p-d, parts: [{type: firmware, version: "10.6"}]}
"""


def layered_fleet(**device_lines: str) -> dict[str, str]:
    """The small fleet with the groups above; `device_lines` adds lines to devices (name with `_` for `-`)."""
    files = {
        **small_fleet(),
        "groups.yaml": GROUPS,
        "templates/alt.j2": ALT_J2,
        "templates/alt.yaml": ALT_YAML,
        "templates/third.j2": THIRD_J2,
        "templates/third.yaml": THIRD_YAML,
        "resources/packets/all.yaml": PACKETS,
    }
    text = files["devices/all.yaml"]
    for device, lines in device_lines.items():
        start = text.index(f"  - name: {device.replace('_', '-')}\n")
        insert = text.index("    fields:", start)
        text = text[:insert] + "".join(f"    {line}\n" for line in lines.split(";")) + text[insert:]
    files["devices/all.yaml"] = text
    return files


def devices(files: Mapping[str, str]) -> Mapping[str, Device]:
    result = build(files)
    assert result.ok, [str(p) for p in result.problems]
    assert result.fleet is not None
    return result.fleet.devices


# --- membership ------------------------------------------------------------------------------------------


def test_selector_by_site_and_by_model_gives_membership_in_declared_order() -> None:
    """ber-r01 (berlin, MRX5 LTE) is in europe and lte; nwk-r01 (newark, DSL) is in neither."""
    found = devices(layered_fleet())
    assert found["ber-r01"].groups == ("europe", "lte")
    assert found["ber-r02"].groups == ("europe", "lte")
    assert found["nwk-r01"].groups == ("lab",)


def test_selector_by_tags_needs_all_of_the_tags() -> None:
    """`tags: [lab, staging]` selects a device with both tags, not one with only one of them."""
    found = devices(layered_fleet(ber_r01="tags: [lab, staging, extra]", ber_r02="tags: [lab]"))
    assert "lab" in found["ber-r01"].groups
    assert "lab" not in found["ber-r02"].groups


def test_selector_conditions_must_all_hold() -> None:
    """A selector with site and model matches only devices at that site and of that model."""
    files = small_fleet()
    files["groups.yaml"] += "  - name: berlin-dsl\n    selector: {site: [berlin], model: [MRX6 DSL]}\n"
    files["devices/all.yaml"] = files["devices/all.yaml"].replace("site: newark", "site: berlin")
    found = devices(files)
    assert found["nwk-r01"].groups == ("europe", "berlin-dsl")
    assert found["ber-r01"].groups == ("europe", "lte")


def test_explicit_members_join_the_group() -> None:
    """A group's `members` list adds devices its selector does not match."""
    assert devices(layered_fleet())["nwk-r01"].groups == ("lab",)


def test_a_device_listing_a_group_joins_it() -> None:
    """A device's own `groups` joins a group that has neither selector nor members."""
    found = devices(layered_fleet(nwk_r01="groups: [pinned]"))
    assert found["nwk-r01"].groups == ("lab", "pinned")
    assert found["nwk-r01"].fields["vlan"] == 40


def test_group_order_is_the_declared_order_not_the_devices_listing_order() -> None:
    """A device listing `[pinned, europe]` still gets europe before pinned: pinned (declared later) wins."""
    found = devices(layered_fleet(nwk_r01="groups: [pinned, europe]"))
    assert found["nwk-r01"].groups == ("europe", "lab", "pinned")
    assert found["nwk-r01"].fields["vlan"] == 40


def test_joining_a_group_twice_counts_once() -> None:
    """Selected and listed and a member: the group appears once."""
    found = devices(layered_fleet(ber_r01="groups: [europe, lte]"))
    assert found["ber-r01"].groups == ("europe", "lte")


# --- fields ------------------------------------------------------------------------------------------------


def test_group_field_overrides_fleet_default_field() -> None:
    """europe's ntp_server replaces the fleet's pool.ntp.org; nwk-r01 outside europe keeps the default."""
    found = devices(small_fleet())
    assert found["ber-r02"].fields["ntp_server"] == "ntp.eu.example.net"
    assert found["nwk-r01"].fields["ntp_server"] == "pool.ntp.org"


def test_later_declared_group_field_overrides_earlier_group_field() -> None:
    """vlan: europe says 20, lte (declared after) says 30: 30 wins."""
    assert devices(layered_fleet())["ber-r02"].fields["vlan"] == 30


def test_device_field_overrides_group_field() -> None:
    """ber-r01's own vlan 10 wins over both groups."""
    assert devices(layered_fleet())["ber-r01"].fields["vlan"] == 10


def test_fields_merge_key_by_key_across_layers() -> None:
    """Each field comes from the highest layer that sets it; the others still come through."""
    found = devices(layered_fleet())["ber-r01"]
    assert found.fields == {"ntp_server": "ntp.eu.example.net", "vlan": 10, "apn": "internet.m2m",
                            "lan_network": "192.168.10.0/24"}


def test_template_defaults_fill_fields_no_layer_sets() -> None:
    """nwk-r01 sets no vlan: the template's default 1 fills it; a field of a layer is not replaced."""
    found = devices(small_fleet())
    assert found["nwk-r01"].fields["vlan"] == 1
    assert found["ber-r01"].fields["vlan"] == 10
    assert "apn" not in found["nwk-r01"].fields  # required: false and no default: stays unset


def test_fleet_default_field_wins_over_template_default() -> None:
    """A fleet default for a field with a template default is a layer value: it wins."""
    files = small_fleet()
    files["fleet.yaml"] = files["fleet.yaml"].replace("    ntp_server: pool.ntp.org\n",
                                                      "    ntp_server: pool.ntp.org\n    vlan: 99\n")
    assert devices(files)["nwk-r01"].fields["vlan"] == 99


# --- template, firmware, config_mode, packets -------------------------------------------------------------


def test_template_follows_precedence() -> None:
    """Default base < europe's alt < lab's third (declared later) < the device's own template."""
    found = devices(layered_fleet(ber_r01="template: base", ber_r02="tags: [lab, staging]"))
    assert found["ber-r01"].template == "base"  # device
    assert found["ber-r02"].template == "third"  # lab after europe
    assert devices(layered_fleet())["ber-r02"].template == "alt"  # europe over the default
    assert devices(small_fleet())["ber-r02"].template == "base"  # the fleet default


def test_firmware_follows_precedence() -> None:
    """Default 10.6 < europe's 10.4 < the device's pin."""
    found = devices(layered_fleet(ber_r01='firmware: "10.6"'))
    assert found["ber-r01"].firmware == "10.6"
    assert found["ber-r02"].firmware == "10.4"
    assert found["nwk-r01"].firmware == "10.6"


def test_config_mode_follows_precedence() -> None:
    """Default merge < europe's replace < lab's merge < the device's own mode."""
    found = devices(layered_fleet(ber_r01="config_mode: merge", ber_r02="tags: [lab, staging]",
                                  nwk_r01="config_mode: replace"))
    assert found["ber-r01"].config_mode is ConfigMode.MERGE  # device over europe
    assert found["ber-r02"].config_mode is ConfigMode.MERGE  # lab over europe
    assert found["nwk-r01"].config_mode is ConfigMode.REPLACE  # device over lab
    assert devices(layered_fleet())["ber-r02"].config_mode is ConfigMode.REPLACE  # europe over the default


def test_packets_accumulate_in_layer_order_without_duplicates() -> None:
    """Defaults [p-d] + europe [p-a, p-b] + lte [p-c, p-a] + device [p-b, p-d] = p-d, p-a, p-b, p-c."""
    files = layered_fleet(ber_r01="packets: [p-b, p-d]")
    files["fleet.yaml"] += "  packets: [p-d]\n"
    found = devices(files)
    assert found["ber-r01"].packets == ("p-d", "p-a", "p-b", "p-c")
    assert found["nwk-r01"].packets == ("p-d",)


# --- secrets -----------------------------------------------------------------------------------------------


def secret_fleet() -> dict[str, str]:
    files = small_fleet()
    files["templates/base.yaml"] += "  admin_password: {type: secret}\n"
    files["templates/base.j2"] += "administration.users[1].password={{ admin_password }}\n"
    files["groups.yaml"] = files["groups.yaml"].replace("{ntp_server: ntp.eu.example.net}",
                                                        "{ntp_server: ntp.eu.example.net, admin_password: !secret adm}")
    files["fleet.yaml"] = files["fleet.yaml"].replace("    ntp_server: pool.ntp.org\n",
                                                      "    ntp_server: pool.ntp.org\n    admin_password: !secret adm\n")
    files["secrets/admin.yaml"] = f'secrets:\n  adm: {{sealed: "{SEALED}", description: admin}}\n'
    return files


def test_secret_references_resolve_to_secret_values() -> None:
    """`!secret adm` becomes a SecretValue (name and fingerprint), never the sealed text."""
    value = devices(secret_fleet())["ber-r01"].fields["admin_password"]
    assert isinstance(value, SecretValue)
    assert value == SecretValue.from_sealed("adm", SEALED)
    assert SEALED not in str(value)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_render_shows_secrets_as_stars_never_the_sealed_value_or_marker(
    fleet_dir: FleetDir, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    """`reconciler render` prints `***` where the secret goes, and neither sealed text nor marker."""
    root = fleet_dir(secret_fleet())
    assert main(["render", str(root), "ber-r01", "--format", fmt]) == 0
    out = capsys.readouterr().out
    configuration = json.loads(out)["configuration"] if fmt == "json" else out
    assert "administration.users[1].password=***\n" in configuration
    assert SEALED not in out
    assert "⟦" not in out
    assert "secret:adm" not in out
