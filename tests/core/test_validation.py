"""Validation of a whole fleet: every rule with a broken fixture, all problems at once, positioned."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.core.loading import locate_problems
from reconciler.core.problems import Severity
from tests.conftest import build, codes, small_fleet

FleetDir = Callable[[Mapping[str, str | bytes]], Path]


def problems(files: Mapping[str, str | bytes]) -> list[str]:
    """Every problem of a fleet as `file:line:col: severity: message [code]`, in the order found."""
    result = build(files)
    raw = {path: content.encode() if isinstance(content, str) else content for path, content in files.items()}
    return [str(p) for p in locate_problems(result.problems, raw)]


def with_device_line(files: dict[str, str], device: str, line: str) -> dict[str, str]:
    """Add `line` (e.g. `template: x`) to the device `device` of devices/all.yaml."""
    text = files["devices/all.yaml"]
    start = text.index(f"  - name: {device}\n")
    insert = text.index("    fields:", start)
    files["devices/all.yaml"] = text[:insert] + f"    {line}\n" + text[insert:]
    return files


EXTRA_DEVICE = """\
devices:
  - name: {name}
    serial: "{serial}"
    model: MRX5 LTE
    address: {address}
    site: berlin
    fields: {{lan_network: 192.168.99.0/24}}
"""


def extra_device(name: str = "ber-r09", serial: str = "24130009", address: str = "10.20.1.9") -> str:
    return EXTRA_DEVICE.format(name=name, serial=serial, address=address)


def test_the_small_fleet_is_valid() -> None:
    """The fixture every broken variant starts from has no problems at all."""
    result = build(small_fleet())
    assert result.ok
    assert result.problems == ()


# --- uniqueness -------------------------------------------------------------------------------------------


def test_duplicate_device_name_points_at_the_second_definition() -> None:
    """Two devices with one name: an error at the second name, naming the file of the first."""
    files = {**small_fleet(), "devices/more.yaml": extra_device(name="ber-r01")}
    assert problems(files) == [
        "devices/more.yaml:2:11: error: duplicate device name 'ber-r01' (also in devices/all.yaml) [duplicate-device]"
    ]


def test_duplicate_serial_is_an_error() -> None:
    """Two devices with one serial number: an error at the second serial."""
    files = {**small_fleet(), "devices/more.yaml": extra_device(serial="24130003")}
    assert problems(files) == [
        "devices/more.yaml:3:13: error: duplicate device serial '24130003' (also in devices/all.yaml) "
        "[duplicate-device]"
    ]


@pytest.mark.parametrize("address", ["10.20.1.1:443", "10.20.1.1", "HTTPS://10.20.1.1:443"])
def test_duplicate_address_is_found_after_normalization(address: str) -> None:
    """`https://10.20.1.1` and `10.20.1.1:443` (and friends) are one router: an error at the second."""
    files = {**small_fleet(), "devices/more.yaml": extra_device(address=address)}
    assert problems(files) == [
        f"devices/more.yaml:5:14: error: duplicate device address '{address}' (also in devices/all.yaml) "
        "[duplicate-device]"
    ]


def test_different_ports_on_one_host_are_different_addresses() -> None:
    """`10.20.1.1:8443` is not `https://10.20.1.1` (port 443): no duplicate."""
    files = {**small_fleet(), "devices/more.yaml": extra_device(address="10.20.1.1:8443")}
    assert problems(files) == []


def test_duplicate_group_name_is_an_error() -> None:
    """Two groups named alike: an error at the second name."""
    files = small_fleet()
    files["groups.yaml"] += "  - name: europe\n    members: [nwk-r01]\n"
    assert problems(files) == [
        "groups.yaml:8:11: error: duplicate group name 'europe' (also in groups.yaml) [duplicate-group]"
    ]


def test_duplicate_site_name_is_an_error() -> None:
    """Two sites named alike: an error at the second name."""
    files = small_fleet()
    files["sites.yaml"] += "  - {name: berlin, timezone: Europe/Berlin, lat: 52.4, lon: 13.3}\n"
    assert problems(files) == [
        "sites.yaml:4:12: error: duplicate site name 'berlin' (also in sites.yaml) [duplicate-site]"
    ]


def test_duplicate_firmware_version_is_an_error() -> None:
    """A version listed twice in the catalogue: an error at the second version."""
    files = small_fleet()
    files["resources/firmware.yaml"] += '  - {version: "10.6", models: [MRX5 LTE]}\n'
    assert problems(files) == [
        "resources/firmware.yaml:4:15: error: duplicate firmware version '10.6' (also in resources/firmware.yaml) "
        "[duplicate-firmware]"
    ]


def test_duplicate_packet_name_across_files_is_an_error() -> None:
    """One packet name in two packet files: an error at the second, naming the first file."""
    packet = 'packets:\n  - name: p1\n    parts:\n      - {type: firmware, version: "10.6"}\n'
    files = {**small_fleet(), "resources/packets/a.yaml": packet, "resources/packets/b.yaml": packet}
    assert problems(files) == [
        "resources/packets/b.yaml:2:11: error: duplicate packet name 'p1' (also in resources/packets/a.yaml) "
        "[duplicate-packet]"
    ]


def test_duplicate_secret_name_across_files_is_an_error() -> None:
    """One secret name in two secrets files: an error at the second key."""
    files = {
        **small_fleet(),
        "secrets/a.yaml": 'secrets:\n  s1: {sealed: "rsb1:AAAAAAAAAAAAAAAAAAAA"}\n',
        "secrets/b.yaml": 'secrets:\n  s1: {sealed: "rsb1:BBBBBBBBBBBBBBBBBBBB"}\n',
    }
    assert problems(files) == [
        "secrets/b.yaml:2:3: error: duplicate secret name 's1' (also in secrets/a.yaml) [duplicate-secret]"
    ]


# --- references ---------------------------------------------------------------------------------------------


def test_unknown_group_in_a_device_suggests_the_close_one() -> None:
    """A device joining a group that does not exist: an error at the list item, with "did you mean"."""
    files = with_device_line(small_fleet(), "nwk-r01", "groups: [eurpoe]")
    assert problems(files) == [
        "devices/all.yaml:19:14: error: unknown group 'eurpoe' (did you mean 'europe'?) [unknown-group]"
    ]


def test_unknown_group_member_is_an_error() -> None:
    """A group listing a device that does not exist: an error at the member."""
    files = small_fleet()
    files["groups.yaml"] += "  - name: extra\n    members: [nwk-r01, ber-r99]\n"
    assert problems(files) == [
        "groups.yaml:9:24: error: unknown device 'ber-r99' (did you mean 'ber-r02'?) [unknown-device]"
    ]


def test_unknown_site_of_a_device_is_an_error() -> None:
    """A device at a site sites.yaml does not have: an error at the site, naming the device."""
    files = small_fleet()
    files["devices/all.yaml"] = files["devices/all.yaml"].replace("site: newark", "site: newrak")
    result = build(files)
    assert [(p.code, p.device, p.message) for p in result.problems] == [
        ("unknown-site", "nwk-r01", "unknown site 'newrak' (did you mean 'newark'?)")
    ]
    assert problems(files) == [
        "devices/all.yaml:18:11: error: unknown site 'newrak' (did you mean 'newark'?) [unknown-site]"
    ]


def test_unknown_site_in_a_group_selector_is_an_error() -> None:
    """A selector naming a site that does not exist: an error at the selector's item."""
    files = small_fleet()
    files["groups.yaml"] = files["groups.yaml"].replace("{site: [berlin]}", "{site: [newark, berlni]}")
    assert problems(files) == [
        "groups.yaml:3:31: error: unknown site 'berlni' (did you mean 'berlin'?) [unknown-site]"
    ]


def test_unknown_template_of_a_device_is_an_error() -> None:
    """A device's template that does not exist: an error at its `template`."""
    files = with_device_line(small_fleet(), "nwk-r01", "template: bsae")
    assert problems(files) == [
        "devices/all.yaml:19:15: error: unknown template 'bsae' (did you mean 'base'?) [unknown-template]"
    ]


def test_unknown_template_of_a_group_is_an_error() -> None:
    """A group's template that does not exist: an error at the group's `template`."""
    files = small_fleet()
    files["groups.yaml"] = files["groups.yaml"].replace("    fields: {apn", "    template: lte\n    fields: {apn")
    assert problems(files) == ["groups.yaml:7:15: error: unknown template 'lte' [unknown-template]"]


def test_unknown_template_of_the_fleet_defaults_is_an_error() -> None:
    """The fleet's default template that does not exist: an error in fleet.yaml."""
    files = small_fleet()
    files["fleet.yaml"] = files["fleet.yaml"].replace("template: base", "template: bas")
    assert problems(files) == [
        "fleet.yaml:6:13: error: unknown template 'bas' (did you mean 'base'?) [unknown-template]"
    ]


def test_unknown_firmware_is_an_error() -> None:
    """A firmware pin that is not in the catalogue: an error at the pin."""
    files = with_device_line(small_fleet(), "nwk-r01", 'firmware: "10.7"')
    assert problems(files) == [
        "devices/all.yaml:19:15: error: unknown firmware '10.7' (did you mean '10.6'?) [unknown-firmware]"
    ]


def test_firmware_that_does_not_support_the_model_names_the_model() -> None:
    """Firmware (after precedence) that does not list the device's model: an error naming model and device."""
    files = small_fleet()
    files["resources/firmware.yaml"] = (
        'firmware:\n  - {version: "10.4", models: [MRX5 LTE, MRX6 DSL]}\n  - {version: "10.6", models: [MRX5 LTE]}\n'
    )
    result = build(files)
    assert [(p.code, p.device) for p in result.problems] == [("firmware-incompatible", "nwk-r01")]
    assert problems(files) == [
        "devices/all.yaml:14:5: error: firmware 10.6 does not support model 'MRX6 DSL' (supports MRX5 LTE) "
        "[firmware-incompatible]"
    ]


def test_a_device_pin_to_compatible_firmware_resolves_the_incompatibility() -> None:
    """The device's own pin to a version that supports its model wins over the incompatible default."""
    files = small_fleet()
    files["resources/firmware.yaml"] = (
        'firmware:\n  - {version: "10.4", models: [MRX5 LTE, MRX6 DSL]}\n  - {version: "10.6", models: [MRX5 LTE]}\n'
    )
    assert problems(with_device_line(files, "nwk-r01", 'firmware: "10.4"')) == []


def test_unknown_packet_is_an_error() -> None:
    """A packet that no packet file declares: an error at the list item."""
    files = with_device_line(small_fleet(), "nwk-r01", "packets: [vpn-ca]")
    assert problems(files) == ["devices/all.yaml:19:15: error: unknown packet 'vpn-ca' [unknown-packet]"]


PACKET = """\
packets:
  - name: vpn-ca
    models: [MRX5 LTE]
    parts:
      - {type: script, file: files/a.lua}
"""


def test_packet_not_for_the_model_is_an_error() -> None:
    """A packet restricted to other models, assigned to a device: an error naming packet and model."""
    files = {**small_fleet(), "resources/packets/p.yaml": PACKET, "resources/packets/files/a.lua": "print(1)\n"}
    files = with_device_line(files, "nwk-r01", "packets: [vpn-ca]")
    assert problems(files) == [
        "devices/all.yaml:14:5: error: packet 'vpn-ca' is not for model 'MRX6 DSL' [packet-incompatible]"
    ]


def test_missing_part_file_is_an_error_at_the_part() -> None:
    """A part file that does not exist (relative to the packet file): an error at its `file`."""
    files = {**small_fleet(), "resources/packets/p.yaml": PACKET}
    assert problems(files) == [
        "resources/packets/p.yaml:5:30: error: part file resources/packets/files/a.lua does not exist [missing-file]"
    ]


def test_invalid_configuration_part_is_an_error_at_its_line() -> None:
    """A configuration part must be valid ASCII configuration: the error points into the part file."""
    files = {
        **small_fleet(),
        "resources/packets/p.yaml": "packets:\n  - name: syslog\n    parts:\n"
                                    "      - {type: configuration, file: files/syslog.cfg}\n",
        "resources/packets/files/syslog.cfg": "administration.logging.level=info\nthis is not config\n",
    }
    assert problems(files) == [
        "resources/packets/files/syslog.cfg:2:1: error: expected 'key=value' or '<list>.add': 'this is not config' "
        "[config-syntax]"
    ]


def test_firmware_part_not_in_the_catalogue_is_an_error() -> None:
    """A packet's firmware part must name a catalogued version."""
    files = {
        **small_fleet(),
        "resources/packets/p.yaml": 'packets:\n  - name: fw\n    parts:\n      - {type: firmware, version: "11.0"}\n',
    }
    assert problems(files) == ["resources/packets/p.yaml:4:35: error: unknown firmware '11.0' [unknown-firmware]"]


def test_unknown_secret_is_an_error_at_the_field() -> None:
    """A `!secret` that no secrets file holds: an error at the field, naming field and device."""
    files = small_fleet()
    files["devices/all.yaml"] = files["devices/all.yaml"].replace("vlan: 10}", "vlan: 10, apn: !secret nope}")
    result = build(files)
    assert [(p.code, p.device) for p in result.problems] == [("unknown-secret", "ber-r01")]
    assert problems(files) == ["devices/all.yaml:7:59: error: unknown secret 'nope' (field 'apn') [unknown-secret]"]


def test_a_known_secret_resolves_without_problems() -> None:
    """A `!secret` with a sealed value in secrets/ is fine."""
    files = {**small_fleet(), "secrets/a.yaml": 'secrets:\n  apn-secret: {sealed: "rsb1:AAAAAAAAAAAAAAAAAAAA"}\n'}
    files["devices/all.yaml"] = files["devices/all.yaml"].replace("vlan: 10}", "vlan: 10, apn: !secret apn-secret}")
    assert problems(files) == []


def test_unknown_secret_in_a_group_is_reported_once_at_the_group() -> None:
    """A `!secret` of a group field that no secrets file holds: one error where it is written."""
    files = small_fleet()
    files["groups.yaml"] = files["groups.yaml"].replace("{apn: internet.m2m}", "{apn: !secret apn-key}")
    assert problems(files) == ["groups.yaml:7:19: error: unknown secret 'apn-key' (field 'apn') [unknown-secret]"]


def test_template_that_does_not_support_the_model_is_an_error_at_the_model() -> None:
    """A template restricted to models is an error for a device of another model."""
    files = small_fleet()
    files["templates/base.yaml"] = "models: [MRX5 LTE]\n" + files["templates/base.yaml"]
    assert problems(files) == [
        "devices/all.yaml:16:12: error: template 'base' does not support model 'MRX6 DSL' (supports MRX5 LTE) "
        "[template-incompatible]"
    ]


def test_device_without_any_template_is_a_warning() -> None:
    """No template at any level: a warning that the configuration is not managed, not an error."""
    files = small_fleet()
    files["fleet.yaml"] = files["fleet.yaml"].replace("  template: base\n", "")
    files["groups.yaml"] = files["groups.yaml"].replace("    selector: {site: [berlin]}\n",
                                                        "    selector: {site: [berlin]}\n    template: base\n")
    result = build(files)
    assert result.ok
    assert problems(files) == [
        "devices/all.yaml:14:5: warning: device 'nwk-r01' has no template: its configuration is not managed "
        "[no-template]"
    ]


def test_unknown_yaml_file_in_a_fleet_directory_is_a_warning() -> None:
    """A YAML file in resources/ (or devices/, ...) that matches no kind is reported as a warning."""
    files = {**small_fleet(), "resources/other.yaml": "a: 1\n", "templates/lib/vars.yaml": "b: 2\n"}
    assert sorted(problems(files)) == [
        "resources/other.yaml:1:1: warning: not a known file kind of reconciler/v1; ignored [unknown-file]",
        "templates/lib/vars.yaml:1:1: warning: not a known file kind of reconciler/v1; ignored [unknown-file]",
    ]


def test_other_files_at_the_root_are_ignored() -> None:
    """A README and CI configuration next to fleet.yaml are not fleet files: no problems (docs: ignored)."""
    files = {**small_fleet(), "README.md": "# fleet\n", "bitbucket-pipelines.yml": "pipelines: {default: []}\n"}
    assert problems(files) == []


def test_packet_part_files_are_not_unknown_files() -> None:
    """A YAML file shipped as a packet part is part of the packet, not an unknown file."""
    files = {**small_fleet(),
             "resources/packets/p.yaml": "packets:\n  - {name: p1, parts: [{type: script, file: files/x.yaml}]}\n",
             "resources/packets/files/x.yaml": "a: 1\n"}
    assert problems(files) == []


# --- a broken file hides its names, but not behind spurious "unknown" errors --------------------------------


def test_a_broken_devices_file_causes_no_unknown_device_errors_elsewhere() -> None:
    """When a devices file is invalid, a group member defined in it is not reported as unknown."""
    files = {**small_fleet(), "devices/more.yaml": extra_device().replace('"24130009"', "24130009")}
    files["groups.yaml"] += "  - name: extra\n    members: [ber-r09]\n"
    assert codes(build(files).problems) == ["type"]


@pytest.mark.parametrize(
    ("path", "broken", "reference"),
    [
        ("sites.yaml", "sites:\n  - {name: berlin, timezone: Europe/Berlin}\n", None),
        ("groups.yaml", "groups:\n  - name: dsl\n    tempalte: base\n", "groups: [dsl]"),
        ("resources/packets/p.yaml", "packets:\n  - name: p1\n    parts: []\n", "packets: [p1]"),
    ],
    ids=["sites", "groups", "packets"],
)
def test_a_broken_file_causes_no_unknown_reference_errors_elsewhere(path: str, broken: str,
                                                                    reference: str | None) -> None:
    """A reference into a kind whose file is broken may well be valid: only the broken file is reported."""
    files: dict[str, str] = {**small_fleet(), path: broken}
    if reference is not None:
        files = with_device_line(files, "nwk-r01", reference)
    found = build(files).problems
    assert found, "the broken file itself must be reported"
    assert all(p.file == path for p in found), [str(p) for p in found]


# --- templates ------------------------------------------------------------------------------------------------


def test_template_without_declarations_is_an_error() -> None:
    """A `templates/<name>.j2` needs `templates/<name>.yaml`."""
    files = {**small_fleet(), "templates/extra.j2": "administration.hostnames.hostname={{ device.name }}\n"}
    assert problems(files) == [
        "templates/extra.j2:1:1: error: template templates/extra.j2 has no field declarations "
        "(templates/extra.yaml) [missing-declarations]"
    ]


def test_template_library_needs_no_declarations() -> None:
    """A macro library in `templates/<dir>/` is not a device template: no declarations needed."""
    files = {**small_fleet(), "templates/lib/common.j2": "{% macro x() %}a.b=1{% endmacro %}\n"}
    assert problems(files) == []


def test_declarations_without_a_template_are_an_error() -> None:
    """A `templates/<name>.yaml` without its `.j2`."""
    files = {**small_fleet(), "templates/extra.yaml": "fields: {}\n"}
    assert problems(files) == [
        "templates/extra.yaml:1:1: error: templates/extra.yaml declares fields for templates/extra.j2, which does "
        "not exist [missing-template]"
    ]


def test_template_syntax_error_points_at_the_line_in_the_template() -> None:
    """A Jinja2 syntax error is reported at its line in the .j2 file."""
    files = small_fleet()
    files["templates/base.j2"] = files["templates/base.j2"].replace("{% endif %}", "{% endfor %}")
    found = problems(files)
    assert len(found) == 1
    assert found[0].startswith("templates/base.j2:10:1: error: Encountered unknown tag 'endfor'.")
    assert found[0].endswith("[template-syntax]")


def test_template_reading_an_undeclared_variable_is_an_error_at_its_line() -> None:
    """A template may read only declared fields (and device/site/fleet)."""
    files = small_fleet()
    files["templates/base.j2"] += "interfaces.net1.mtu={{ mtu }}\n"
    assert problems(files) == [
        "templates/base.j2:11:1: error: template reads 'mtu', which templates/base.yaml does not declare "
        "[undeclared-field]"
    ]


def test_undeclared_variable_that_looks_like_a_declared_one_gets_a_suggestion() -> None:
    """A typo of a declared field name gets a "did you mean"."""
    files = small_fleet()
    files["templates/base.j2"] += "interfaces.net1.description={{ lan_netwrok }}\n"
    assert problems(files) == [
        "templates/base.j2:11:1: error: template reads 'lan_netwrok', which templates/base.yaml does not declare "
        "(did you mean 'lan_network'?) [undeclared-field]"
    ]


@pytest.mark.parametrize(
    ("declaration", "expected"),
    [
        ("{type: enum, required: false}", "templates/base.yaml:6:10: error: field 'extra': an enum field needs "
                                          "`values` [field-declaration]"),
        ("{type: int, default: abc}", "templates/base.yaml:6:10: error: field 'extra': default: expected an "
                                      "integer, got 'abc' [field-declaration]"),
        ("{type: int, min: 1500, max: 576, required: false}", "templates/base.yaml:6:10: error: field 'extra': "
                                                             "min (1500) is greater than max (576) "
                                                             "[field-declaration]"),
    ],
    ids=["enum-without-values", "default-of-wrong-type", "min-above-max"],
)
def test_field_declaration_errors_point_at_the_declaration(declaration: str, expected: str) -> None:
    """Declarations whose constraints do not fit their type are errors at the declaration."""
    files = small_fleet()
    files["templates/base.yaml"] += f"  extra: {declaration}\n"
    assert problems(files) == [expected]


def test_missing_required_field_names_device_and_field_at_the_device() -> None:
    """A device without a required field: the error names device, field, template, and the device's line."""
    files = small_fleet()
    files["devices/all.yaml"] = files["devices/all.yaml"].replace("    fields: {lan_network: 192.168.20.0/24}\n", "")
    result = build(files)
    assert [(p.code, p.device) for p in result.problems] == [("missing-field", "nwk-r01")]
    assert problems(files) == [
        "devices/all.yaml:14:5: error: device 'nwk-r01' lacks field 'lan_network', required by template 'base' "
        "as ipv4_network [missing-field]"
    ]


def test_wrong_field_type_from_the_device_points_at_the_field() -> None:
    """A device's own field of the wrong type: an error at the value, naming device, field and template."""
    files = small_fleet()
    files["devices/all.yaml"] = files["devices/all.yaml"].replace("vlan: 10", "vlan: ten")
    assert problems(files) == [
        "devices/all.yaml:7:50: error: device 'ber-r01', field 'vlan' (template 'base'): expected an integer, "
        "got 'ten' [field-type]"
    ]


def test_wrong_field_type_from_a_group_is_reported_once_at_the_group() -> None:
    """A group field of the wrong type is one problem at the group's line, naming the devices it hits."""
    files = small_fleet()
    files["groups.yaml"] = files["groups.yaml"].replace("{ntp_server: ntp.eu.example.net}", "{ntp_server: 'a b'}")
    assert problems(files) == [
        "groups.yaml:4:26: error: field 'ntp_server' for template 'base' (devices 'ber-r01', 'ber-r02'): expected "
        "a host name (RFC 1123), got 'a b' [field-type]"
    ]


def test_wrong_field_type_from_a_group_names_only_devices_that_do_not_override_it() -> None:
    """ber-r01 sets its own vlan, so a bad group vlan only hits ber-r02."""
    files = small_fleet()
    files["groups.yaml"] = files["groups.yaml"].replace("{apn: internet.m2m}", "{apn: internet.m2m, vlan: 5000}")
    assert problems(files) == [
        "groups.yaml:7:39: error: field 'vlan' for template 'base' (devices 'ber-r02'): expected an integer of at "
        "most 4094, got 5000 [field-type]"
    ]


def test_wrong_field_type_from_the_fleet_defaults_is_reported_once_in_fleet_yaml() -> None:
    """A default field of the wrong type is reported once, at fleet.yaml, naming the devices."""
    files = small_fleet()
    files["fleet.yaml"] += "  config_mode: merge\n"
    files["fleet.yaml"] = files["fleet.yaml"].replace("    ntp_server: pool.ntp.org\n",
                                                      "    ntp_server: pool.ntp.org\n    vlan: 0\n")
    assert problems(files) == [
        "fleet.yaml:10:11: error: field 'vlan' for template 'base' (devices 'ber-r02', 'nwk-r01'): expected an "
        "integer of at least 1, got 0 [field-type]"
    ]


# --- render errors -------------------------------------------------------------------------------------------


def broken_render_fleet(extra_dsl_devices: int = 0) -> dict[str, str]:
    """The small fleet whose template reads the optional `apn` unguarded (nwk-r01 and DSL devices lack it)."""
    files = small_fleet()
    files["templates/base.j2"] += "interfaces.wwan1.mtu={{ apn }}\n"
    for index in range(extra_dsl_devices):
        files["devices/all.yaml"] += (
            f'  - name: nwk-r1{index}\n    serial: "2413010{index}"\n    model: MRX6 DSL\n'
            f"    address: https://10.30.2.{index + 1}\n    site: newark\n"
            f"    fields: {{lan_network: 192.168.{30 + index}.0/24}}\n"
        )
    return files


def test_render_error_points_at_the_template_line_and_names_the_device(fleet_dir: FleetDir,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """An undefined variable at render time: an error at the template's line naming the device."""
    root = fleet_dir(broken_render_fleet())
    assert main(["validate", str(root)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "templates/base.j2:11:1: error: device 'nwk-r01': 'apn' is undefined [render-error]"
    assert out[1].startswith("invalid (")
    assert out[1].endswith("3 devices): 1 error, 0 warnings")


def test_many_devices_failing_the_same_way_collapse_into_one_problem(fleet_dir: FleetDir,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Six devices hitting one template bug are one problem naming three of them and how many more."""
    root = fleet_dir(broken_render_fleet(extra_dsl_devices=5))
    assert main(["validate", str(root)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("templates/base.j2:11:1: error: devices 'nwk-r01', 'nwk-r10', 'nwk-r11' and 3 more: "
                      "'apn' is undefined [render-error]")
    assert out[1].endswith("8 devices): 1 error, 0 warnings")


def test_validate_reports_an_unknown_template_once_at_its_position(fleet_dir: FleetDir,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown default template is one error at fleet.yaml, not also an unpositioned render error per device."""
    files = small_fleet()
    files["fleet.yaml"] = files["fleet.yaml"].replace("template: base", "template: bsae")
    assert main(["validate", str(fleet_dir(files))]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[:-1] == ["fleet.yaml:6:13: error: unknown template 'bsae' (did you mean 'base'?) [unknown-template]"]
    assert out[-1].endswith("3 devices): 1 error, 0 warnings")


def test_validate_reports_a_missing_field_once(fleet_dir: FleetDir, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing required field is one error at the device, not also a render error for the same device."""
    files = small_fleet()
    files["devices/all.yaml"] = files["devices/all.yaml"].replace("    fields: {lan_network: 192.168.20.0/24}\n", "")
    assert main(["validate", str(fleet_dir(files))]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[:-1] == [
        "devices/all.yaml:14:5: error: device 'nwk-r01' lacks field 'lan_network', required by template 'base' "
        "as ipv4_network [missing-field]"
    ]
    assert out[-1].endswith("3 devices): 1 error, 0 warnings")


# --- scale (D0.1–D0.3) ---------------------------------------------------------------------------------------

APPROVAL = "approval: {reference: INSYS-REV-1, approved_by: J. Example, approved_on: 2026-03-02, max_devices: %d}\n"


def scaled_fleet(count: int, variant: str = "server", approval: int | None = None) -> dict[str, str]:
    """A fleet of `count` generated devices that need no fields of their own."""
    files = small_fleet()
    fleet = files["fleet.yaml"].replace("variant: server", f"variant: {variant}")
    fleet = fleet.replace("    ntp_server: pool.ntp.org\n",
                          "    ntp_server: pool.ntp.org\n    lan_network: 10.0.0.0/24\n")
    files["fleet.yaml"] = fleet + (APPROVAL % approval if approval is not None else "")
    lines = [
        f'  - {{name: r{i:05d}, serial: "S{i:07d}", model: MRX5 LTE, address: "10.{i // 65536}.{i // 256 % 256}.'
        f'{i % 256}"}}'
        for i in range(count)
    ]
    files["devices/all.yaml"] = "devices:\n" + "\n".join(lines) + "\n" if lines else "devices: []\n"
    return files


def test_server_variant_takes_1500_devices() -> None:
    """1,500 devices are the server variant's maximum, and allowed (D0.1)."""
    assert problems(scaled_fleet(1_500)) == []


def test_server_variant_with_1501_devices_is_an_error() -> None:
    """One device over the server maximum is an error at `variant` (D0.1)."""
    assert problems(scaled_fleet(1_501)) == [
        "fleet.yaml:3:10: error: 1,501 devices: the server variant manages at most 1,500 routers (D0.1); use variant "
        "datacenter [variant-limit]"
    ]


def test_datacenter_above_5000_devices_without_approval_is_an_error() -> None:
    """5,001 devices need a recorded approval (D0.3)."""
    assert problems(scaled_fleet(5_001, "datacenter")) == [
        "fleet.yaml:3:10: error: 5,001 devices: more than 5,000 routers need a recorded approval (fleet.yaml "
        "`approval`, D0.3) [approval-required]"
    ]


def test_datacenter_above_5000_devices_with_a_covering_approval_is_fine() -> None:
    """An approval whose max_devices covers the count makes 5,001 devices valid (D0.3)."""
    assert problems(scaled_fleet(5_001, "datacenter", approval=6_000)) == []


def test_approval_below_the_device_count_is_an_error_at_max_devices() -> None:
    """An approval for fewer devices than the fleet has is an error at `max_devices`."""
    found = problems(scaled_fleet(5_002, "datacenter", approval=5_001))
    assert found == [
        "fleet.yaml:11:99: error: 5,002 devices: the approval INSYS-REV-1 covers 5,001 (D0.3) [approval-exceeded]"
    ]


def test_datacenter_below_1000_devices_is_only_a_warning() -> None:
    """A datacenter fleet below its licensed 1,000 is a warning (docs: **Interpretation**), not an error."""
    result = build(scaled_fleet(999, "datacenter"))
    assert result.ok
    assert [(p.code, p.severity) for p in result.problems] == [("variant-limit", Severity.WARNING)]
    assert problems(scaled_fleet(999, "datacenter")) == [
        "fleet.yaml:3:10: warning: 999 devices: the datacenter variant is meant for 1,000 to 20,000 routers (D0.2) "
        "[variant-limit]"
    ]


def test_a_fleet_without_devices_is_an_error() -> None:
    """Zero devices is an error (D0.1, D0.2: at least one router)."""
    assert problems(scaled_fleet(0)) == [
        "fleet.yaml:3:10: error: the fleet has no devices (devices/*.yaml) [fleet-empty]"
    ]


# --- all at once ---------------------------------------------------------------------------------------------


def test_every_problem_is_reported_at_once() -> None:
    """Five unrelated mistakes give five problems in one run, each with its own code."""
    files = small_fleet()
    files["devices/all.yaml"] = (
        files["devices/all.yaml"]
        .replace('serial: "24130002"', 'serial: "24130001"')  # duplicate serial
        .replace("site: newark", "site: newark\n    groups: [nope]")  # unknown group
        .replace("{lan_network: 192.168.20.0/24}", "{lan_network: 192.168.20.1/24}")  # host bits set
    )
    files["fleet.yaml"] = files["fleet.yaml"].replace('firmware: "10.6"', 'firmware: "9.9"')  # unknown firmware
    files["templates/base.j2"] += "interfaces.net1.mtu={{ mtu }}\n"  # undeclared variable
    found = build(files).problems
    assert sorted(codes(found)) == ["duplicate-device", "field-type", "undeclared-field", "unknown-firmware",
                                    "unknown-group"]
    assert all(p.is_error for p in found)


def test_schema_and_reference_problems_of_different_files_come_together() -> None:
    """A schema error in one file does not stop cross-reference checks of the others."""
    files = with_device_line(small_fleet(), "nwk-r01", "template: nope")
    files["secrets/a.yaml"] = 'secrets:\n  s1: {sealed: "rsb1:AAAAAAAAAAAAAAAAAAAA", descripton: x}\n'
    assert problems(files) == [
        "secrets/a.yaml:2:45: error: unknown key 'descripton' (did you mean 'description'?) [unknown-key]",
        "devices/all.yaml:19:15: error: unknown template 'nope' [unknown-template]",
    ]


def test_a_misnamed_root_file_gets_a_did_you_mean() -> None:
    """`group.yaml` next to fleet.yaml is almost certainly meant as groups.yaml: warn, naming it."""
    files = {**small_fleet(), "group.yaml": "groups: []\n"}
    assert [str(p) for p in problems(files)] == [
        "group.yaml:1:1: warning: not a fleet file; ignored (did you mean groups.yaml?) [unknown-file]"
    ]


def test_a_template_that_loops_forever_is_a_budget_error_not_a_hang(fleet_dir: FleetDir,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A pull request's template with endless nested loops fails validation with a budget error at its line."""
    endless = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}\n"
    files = {**small_fleet(), "templates/base.j2": small_fleet()["templates/base.j2"] + endless}
    assert main(["validate", str(fleet_dir(files))]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("templates/base.j2:11:1: error: devices 'ber-r01', 'ber-r02', 'nwk-r01': render budget "
                      "exceeded: more than 1000000 steps [render-budget]")
