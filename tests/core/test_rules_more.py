"""Validation rules without a test elsewhere: each broken fixture reports its code at its place."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from reconciler.core import limits
from reconciler.core.documents import parse_yaml
from reconciler.core.loading import locate_problems
from tests.conftest import build, small_fleet


def problems(files: Mapping[str, str | bytes]) -> list[str]:
    """Every problem of a fleet as `file:line:col: severity: message [code]`, in the order found."""
    result = build(files)
    raw = {path: content.encode() if isinstance(content, str) else content for path, content in files.items()}
    return [str(p) for p in locate_problems(result.problems, raw)]


def yaml_problems(text: str) -> list[str]:
    return [str(p) for p in parse_yaml("x.yaml", text.encode()).problems]


def with_device_fields(files: dict[str, str], extra: str) -> dict[str, str]:
    """Add `extra` (e.g. `apn: x`) to the flow mapping of ber-r01's fields (devices/all.yaml line 7)."""
    files["devices/all.yaml"] = files["devices/all.yaml"].replace("vlan: 10}", f"vlan: 10, {extra}}}")
    return files


# --- no-fleet, duplicate-file -------------------------------------------------------------------------------


def test_a_repository_without_fleet_yaml_has_no_fleet() -> None:
    """Devices, templates and the rest without fleet.yaml: one `no-fleet` error and no fleet to render."""
    files = small_fleet()
    del files["fleet.yaml"]
    result = build(files)
    assert result.fleet is None
    assert problems(files) == ["fleet.yaml:1:1: error: fleet.yaml is missing [no-fleet]"]


def test_fleet_yaml_and_fleet_yml_side_by_side_is_an_error() -> None:
    """Which of two fleet files counts would be an accident of order: an error at the `.yml` one."""
    files = {**small_fleet(), "fleet.yml": small_fleet()["fleet.yaml"]}
    assert problems(files) == ["fleet.yml:1:1: error: both fleet.yaml and fleet.yml exist; keep one [duplicate-file]"]


# --- packet-part ----------------------------------------------------------------------------------------------


def test_a_container_part_needs_a_file_or_a_url() -> None:
    """A container part with neither `file` nor `url` ships nothing: an error at the part."""
    files = {**small_fleet(), "resources/packets/p.yaml": "packets:\n  - name: p1\n    parts:\n"
                                                          "      - {type: container, name: monitor}\n"}
    assert problems(files) == [
        "resources/packets/p.yaml:4:9: error: a container part needs `file` or `url` [packet-part]"]


def test_a_certificate_part_must_be_pem() -> None:
    """A certificate part whose file holds no PEM certificate: an error at the part's `file`."""
    files = {
        **small_fleet(),
        "resources/packets/p.yaml": "packets:\n  - name: p1\n    parts:\n"
                                    "      - {type: certificate, name: vpn-ca, file: files/ca.pem}\n",
        "resources/packets/files/ca.pem": "this is not a certificate\n",
    }
    assert problems(files) == [
        "resources/packets/p.yaml:4:49: error: resources/packets/files/ca.pem is not a PEM certificate [packet-part]"]


# --- reserved-field, unused-field ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["device", "site", "fleet"])
def test_a_field_named_like_the_template_context_is_reserved(name: str) -> None:
    """`device`, `site` and `fleet` are what a template sees already: declaring one is an error at its key."""
    files = small_fleet()
    files["templates/base.yaml"] += f"  {name}: {{type: string, required: false}}\n"
    assert problems(files) == [
        f"templates/base.yaml:6:3: error: field name {name!r} is reserved for the template context [reserved-field]"]


def test_a_near_miss_of_a_declared_field_is_a_warning_with_a_suggestion() -> None:
    """`ntp_sever` on a device is probably `ntp_server`: a warning at the field's key; the fleet stays valid."""
    files = with_device_fields(small_fleet(), "ntp_sever: ntp.example.net")
    assert problems(files) == [
        "devices/all.yaml:7:54: warning: device 'ber-r01': field 'ntp_sever' is not declared by template 'base' "
        "(did you mean 'ntp_server'?) [unused-field]"]
    assert build(files).ok


def test_an_undeclared_field_far_from_any_declared_one_is_not_reported() -> None:
    """A device field no declaration resembles (an operator's note) is neither a warning nor an error."""
    files = with_device_fields(small_fleet(), "rack_position: 12")
    assert problems(files) == []


# --- secret-name ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../x", "a/b", "", "-x", "x" * 129])
def test_an_invalid_secret_name_is_refused_where_written(name: str) -> None:
    """`!secret ../x` (or any name a secrets file could not hold) is an error at the tagged value."""
    files = with_device_fields(small_fleet(), f"apn: !secret '{name}'")
    assert problems(files) == [
        f"devices/all.yaml:7:59: error: invalid secret name {name!r} after !secret [secret-name]"]


# --- yaml-key, yaml-merge ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["? [a, b]\n: 1\n", "? {a: 1}\n: 2\n"])
def test_a_mapping_key_must_be_a_scalar(text: str) -> None:
    """A list or mapping as a key is refused at the key, not a crash on an unhashable value."""
    assert yaml_problems(text) == ["x.yaml:1:3: error: a mapping key must be a scalar [yaml-key]"]


def test_a_collection_key_in_a_fleet_file_stops_only_that_file() -> None:
    """A non-scalar key in sites.yaml is one `yaml-key` error at its place."""
    files = small_fleet()
    files["sites.yaml"] += "? [a, b]\n: 1\n"
    assert problems(files) == ["sites.yaml:4:3: error: a mapping key must be a scalar [yaml-key]"]


@pytest.mark.parametrize(("text", "place"), [
    ("a:\n  <<: 5\n", "2:7"),
    ("a: {<<: hello}\n", "1:9"),
    ("b: &b {x: 1}\na:\n  <<: [*b, 5]\n", "3:12"),
])
def test_a_merge_key_needs_mappings(text: str, place: str) -> None:
    """`<<: 5` (or a scalar among the merged items) is an error at the value that is not a mapping."""
    assert yaml_problems(text) == [
        f"x.yaml:{place}: error: a merge key (<<) needs a mapping or a list of mappings [yaml-merge]"]


# --- too-many-problems --------------------------------------------------------------------------------------------


def devices_with_unquoted_serials(count: int) -> str:
    lines = ["devices:"]
    lines += [f"  - {{name: d{i}, serial: {24130000 + i}, model: MRX5 LTE, address: 10.1.{i // 250}.{i % 250 + 1}, "
              "site: berlin}" for i in range(count)]
    return "\n".join(lines) + "\n"


def test_problems_of_one_file_are_capped_with_a_count_of_the_rest() -> None:
    """A file with more schema problems than the cap: the first ones, then "… and up to N more"."""
    files = {**small_fleet(), "devices/all.yaml": devices_with_unquoted_serials(limits.PROBLEMS_PER_FILE + 20)}
    found = problems(files)
    assert len(found) == limits.PROBLEMS_PER_FILE + 1
    assert all(line.endswith("[type]") for line in found[:-1])
    assert found[0] == ('devices/all.yaml:2:24: error: serial: expected a string, got the number 24130000 '
                        '(YAML read it as a number: quote it, "24130000") [type]')
    assert found[-1] == ("devices/all.yaml:502:26: error: … and up to 20 more problems in this file (fix these first) "
                         "[too-many-problems]")


def test_problems_up_to_the_cap_are_all_reported() -> None:
    """Exactly as many problems as the cap: every one of them, and no "… and more" line."""
    files = {**small_fleet(), "devices/all.yaml": devices_with_unquoted_serials(limits.PROBLEMS_PER_FILE)}
    found = problems(files)
    assert len(found) == limits.PROBLEMS_PER_FILE
    assert not any("[too-many-problems]" in line for line in found)
