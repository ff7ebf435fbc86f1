"""Hostile and edge inputs anywhere in a fleet: each is a clean, positioned error, never a traceback or a hang."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from reconciler.core import limits
from reconciler.core.configs import parse_config
from reconciler.core.documents import parse_yaml
from reconciler.core.fieldtypes import check_declaration, check_value
from reconciler.core.loading import locate_problems
from reconciler.core.models import FieldSpec
from tests.conftest import PROJECT, build, small_fleet, write_tree
from tests.conftest import run_cli as run


def problems(files: Mapping[str, str | bytes]) -> list[str]:
    """Every problem of a fleet as `file:line:col: severity: message [code]`, in the order found."""
    result = build(files)
    raw = {path: content.encode() if isinstance(content, str) else content for path, content in files.items()}
    return [str(p) for p in locate_problems(result.problems, raw)]


def replaced(files: dict[str, str], path: str, old: str, new: str) -> dict[str, str]:
    assert old in files[path]
    files[path] = files[path].replace(old, new, 1)
    return files



def packet(part: str, **part_files: str) -> dict[str, str]:
    """The small fleet plus packet p1 with one part (its files under resources/packets/files/)."""
    files = {**small_fleet(), "resources/packets/p.yaml": f"packets:\n  - name: p1\n    parts:\n      - {part}\n"}
    files.update({f"resources/packets/files/{name}": content for name, content in part_files.items()})
    return files


# --- numbers -----------------------------------------------------------------------------------------------------

NUMBER_PLACES = [
    # (file, text to replace, replacement, position of the number)
    ("devices/all.yaml", "vlan: 10}", "vlan: {}}}", "7:50"),
    ("templates/base.yaml", "default: 1}", "default: {}}}", "4:49"),
    ("templates/base.yaml", "max: 4094", "max: {}", "4:34"),
    ("groups.yaml", "apn: internet.m2m", "apn: internet.m2m, vlan: {}", "7:39"),
    ("fleet.yaml", "ntp_server: pool.ntp.org", "ntp_server: pool.ntp.org\n    vlan: {}", "10:11"),
    ("sites.yaml", "lat: 52.52", "lat: {}", "2:50"),
]
NUMBERS = [
    (".inf", ".inf is not supported here: numbers must be finite"),
    ("-.inf", "-.inf is not supported here: numbers must be finite"),
    (".nan", ".nan is not supported here: numbers must be finite"),
    ("1e999", "1e999 is out of range: numbers must be finite"),
    ("-1e999", "-1e999 is out of range: numbers must be finite"),
    ("9223372036854775808", "the integer 9223372036854775808 is out of range (64-bit)"),
    ("-9223372036854775809", "the integer -9223372036854775809 is out of range (64-bit)"),
    ("0x10000000000000000", "the integer 0x10000000000000000 is out of range (64-bit)"),
    ("!!float 1e999", "1e999 is out of range: numbers must be finite"),
    ("!!int 18446744073709551616", "the integer 18446744073709551616 is out of range (64-bit)"),
]


@pytest.mark.parametrize(("path", "old", "new", "place"), NUMBER_PLACES,
                         ids=["device-field", "template-default", "template-max", "group-field", "fleet-default",
                              "site-latitude"])
@pytest.mark.parametrize(("number", "message"), NUMBERS, ids=[n for n, _ in NUMBERS])
def test_numbers_that_are_not_finite_or_beyond_64_bits_are_errors_anywhere(
        path: str, old: str, new: str, place: str, number: str, message: str) -> None:
    """Infinities, NaN and integers beyond 64 bits are refused where written, in any file of the fleet."""
    files = replaced(small_fleet(), path, old, new.format(number))
    assert problems(files) == [f"{path}:{place}: error: {message} [yaml-number]"]


def test_the_largest_64_bit_integer_is_a_number_like_any_other() -> None:
    """2**63 - 1 is read; only the template's range refuses it, as it would 5000."""
    files = replaced(small_fleet(), "devices/all.yaml", "vlan: 10}", "vlan: 9223372036854775807}")
    assert problems(files) == [
        "devices/all.yaml:7:50: error: device 'ber-r01', field 'vlan' (template 'base'): expected an integer of at "
        "most 4094, got 9223372036854775807 [field-type]"]


def test_an_infinite_number_in_a_fleet_is_exit_1_without_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`validate` of a fleet with `vlan: .inf`: exit 1 and the positioned error, nothing else."""
    root = write_tree(tmp_path / "fleet", replaced(small_fleet(), "devices/all.yaml", "vlan: 10}", "vlan: .inf}"))
    code, out, err = run(["validate", str(root)], capsys)
    assert code == 1
    assert out.splitlines()[0] == "devices/all.yaml:7:50: error: .inf is not supported here: numbers must be finite " \
                                  "[yaml-number]"
    assert err == ""


# --- nesting and size -----------------------------------------------------------------------------------------------


def test_deep_indentation_only_nesting_in_a_fleet_file_is_an_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """300 levels of block mappings in a devices file: `yaml-too-deep` at the 65th level, exit 1, no crash."""
    deep = "devices:\n" + "".join(" " * depth + "k:\n" for depth in range(1, 300)) + " " * 300 + "v: 1\n"
    files = {**small_fleet(), "devices/deep.yaml": deep}
    assert problems(files) == ["devices/deep.yaml:65:65: error: nesting deeper than 64 levels [yaml-too-deep]"]
    code, out, err = run(["validate", str(write_tree(tmp_path / "fleet", files))], capsys)
    assert code == 1
    assert out.splitlines()[0] == "devices/deep.yaml:65:65: error: nesting deeper than 64 levels [yaml-too-deep]"
    assert err == ""


def test_deep_nesting_of_block_sequences_is_an_error() -> None:
    """Block sequences of mappings nested 150 deep in groups.yaml: `yaml-too-deep`, not a crash."""
    files = {**small_fleet(), "groups.yaml": "groups:\n" + "".join(" " * d + "- k:\n" for d in range(1, 300, 2))}
    assert problems(files) == ["groups.yaml:33:66: error: nesting deeper than 64 levels [yaml-too-deep]"]


def test_a_yaml_file_of_more_lines_than_the_limit_is_refused() -> None:
    """A devices file of more lines than `YAML_ITEMS` is refused as a whole; the other files still load."""
    files = {**small_fleet(), "devices/big.yaml": "devices:\n" + "#\n" * limits.YAML_ITEMS}
    assert problems(files) == [
        f"devices/big.yaml:1:1: error: {limits.YAML_ITEMS + 1:,} lines and list items; the limit is "
        f"{limits.YAML_ITEMS:,} (split the file) [yaml-too-large]"]


def test_a_yaml_file_of_more_flow_items_than_the_limit_is_refused() -> None:
    """One line holding more list items than `YAML_ITEMS`: refused before libyaml builds a node for each."""
    document = parse_yaml("devices/big.yaml", b"devices: [" + b"1," * limits.YAML_ITEMS + b"]\n")
    assert document.data is None
    assert [str(p) for p in document.problems] == [
        f"devices/big.yaml:1:1: error: {limits.YAML_ITEMS + 1:,} lines and list items; the limit is "
        f"{limits.YAML_ITEMS:,} (split the file) [yaml-too-large]"]


GROWTH_PROBE = textwrap.dedent("""
    import resource, sys
    from reconciler.cli import main
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code = main(["validate", sys.argv[1]])
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(f"exit {code}, grew {grown} KiB")
""")


def test_a_file_refused_for_its_item_count_is_never_composed(tmp_path: Path) -> None:
    """Reporting a too-large YAML file (with its position) must not build the nodes the limit refused."""
    files = {**small_fleet(), "devices/big.yaml": "devices: [" + "1," * limits.YAML_ITEMS + "]\n"}
    root = write_tree(tmp_path / "fleet", files)
    result = subprocess.run([sys.executable, "-c", GROWTH_PROBE, str(root)], capture_output=True, text=True,
                            check=True, env={**os.environ, "PYTHONPATH": str(PROJECT)}, cwd=tmp_path)
    lines = result.stdout.splitlines()
    assert lines[0].endswith("(split the file) [yaml-too-large]")
    exit_line, grown = lines[-1].split(", grew ")
    assert exit_line == "exit 1"
    # The text itself is 3 MB; libyaml nodes for its 1.5 million items take hundreds of MB.
    assert int(grown.removesuffix(" KiB")) < 100_000


def test_a_template_over_the_size_limit_is_an_error_and_its_devices_are_not_rendered(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A .j2 larger than `TEMPLATE_BYTES`: `file-too-large` at the template, and no render errors for its devices."""
    files = small_fleet()
    files["templates/base.j2"] += "#" + "x" * limits.TEMPLATE_BYTES + "\n"
    size = len(files["templates/base.j2"].encode())
    expected = f"templates/base.j2:1:1: error: the file is {size:,} bytes; the limit is {limits.TEMPLATE_BYTES:,} " \
               "bytes [file-too-large]"
    assert problems(files) == [expected]
    root = write_tree(tmp_path / "fleet", files)
    code, out, _ = run(["validate", str(root)], capsys)
    assert code == 1
    assert out.splitlines() == [expected, f"invalid ({root} at working tree, 3 devices): 1 error, 0 warnings"]
    code, out, err = run(["render", str(root), "ber-r01"], capsys)
    assert (code, out) == (1, "")
    assert expected in err.splitlines()


def test_a_template_of_exactly_the_size_limit_is_accepted() -> None:
    """The limit is inclusive: a template of exactly `TEMPLATE_BYTES` bytes is read and checked as usual."""
    files = small_fleet()
    padding = limits.TEMPLATE_BYTES - len(files["templates/base.j2"].encode()) - 2
    files["templates/base.j2"] += "#" + "x" * padding + "\n"
    assert len(files["templates/base.j2"].encode()) == limits.TEMPLATE_BYTES
    assert problems(files) == []


@pytest.mark.parametrize("part", ["{type: configuration, file: files/big.part}",
                                  "{type: certificate, name: big, file: files/big.part}"])
def test_a_packet_part_over_the_size_limit_is_an_error(part: str) -> None:
    """A configuration or certificate part larger than `PART_BYTES`: `file-too-large` at the part file."""
    content = "a.b=" + "x" * limits.PART_BYTES + "\n"
    files = packet(part, **{"big.part": content})
    assert problems(files) == [
        f"resources/packets/files/big.part:1:1: error: the file is {len(content):,} bytes; the limit is "
        f"{limits.PART_BYTES:,} bytes [file-too-large]"]


def test_a_configuration_part_of_exactly_the_size_limit_is_accepted() -> None:
    """A valid configuration part of exactly `PART_BYTES` bytes is read and parsed as usual."""
    content = "a.b=" + "x" * (limits.PART_BYTES - 5) + "\n"
    assert len(content) == limits.PART_BYTES
    assert problems(packet("{type: configuration, file: files/big.cfg}", **{"big.cfg": content})) == []


def test_a_configuration_part_with_a_huge_index_is_a_config_syntax_error() -> None:
    """`a.b[<5000 digits>]=1` in a packet's configuration part: `config-syntax` at its line, not a crash."""
    files = packet("{type: configuration, file: files/a.cfg}", **{"a.cfg": "x.y=1\na.b[" + "9" * 5000 + "]=1\n"})
    assert problems(files) == [
        "resources/packets/files/a.cfg:2:1: error: 'a.b[" + "9" * 76 + "'…: index [" + "9" * 12 + "…] is too large "
        "(at most 999999) [config-syntax]"]


# --- patterns and templates -------------------------------------------------------------------------------------------


def test_a_catastrophic_backtracking_pattern_is_checked_in_linear_time() -> None:
    """`(a+)+` against 40 `a`s and a `!` (hours in a backtracking engine) is a plain pattern mismatch."""
    files = small_fleet()
    files["templates/base.yaml"] += "  code: {type: string, pattern: '(a+)+', required: false}\n"
    files = replaced(files, "devices/all.yaml", "vlan: 10}", "vlan: 10, code: " + "a" * 40 + "!}")
    assert problems(files) == [
        "devices/all.yaml:7:60: error: device 'ber-r01', field 'code' (template 'base'): expected a string matching "
        f"(a+)+, got '{'a' * 40}!' [field-type]"]
    assert check_value(FieldSpec(type="string", pattern="(a+)+"), "a" * 40 + "!") is not None


def test_a_pattern_re2_cannot_compile_is_a_declaration_error_only() -> None:
    """A backreference (`(a)\\1`) is not RE2: an error at the declaration, and no verdict on the values."""
    files = small_fleet()
    files["templates/base.yaml"] += "  code: {type: string, pattern: '(a)\\1', required: false}\n"
    files = replaced(files, "devices/all.yaml", "vlan: 10}", "vlan: 10, code: aa}")
    assert problems(files) == [
        "templates/base.yaml:6:9: error: field 'code': pattern is not a valid RE2 regular expression: invalid escape "
        "sequence: \\1 [field-declaration]"]
    assert check_declaration(FieldSpec(type="string", pattern="(a)\\1")) == [
        "pattern is not a valid RE2 regular expression: invalid escape sequence: \\1"]


def test_a_template_nested_200_levels_deep_is_a_syntax_error_and_renders_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`{% if 1 %}` × 200: one `template-syntax` error at the template; its devices get no render errors."""
    files = small_fleet()
    nested = "{% if 1 %}" * 200 + "x.y=1\n" + "{% endif %}" * 200 + "\n"
    files["templates/base.j2"] = nested + files["templates/base.j2"]
    assert [line.rsplit(" [", 1)[1] for line in problems(files)] == ["template-syntax]"]
    root = write_tree(tmp_path / "fleet", files)
    code, out, err = run(["validate", str(root)], capsys)
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("templates/base.j2:1:1: error: the template is too deeply nested")
    assert lines[0].endswith("[template-syntax]")
    assert lines[1] == f"invalid ({root} at working tree, 3 devices): 1 error, 0 warnings"
    assert err == ""


# --- values with a structure ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "old", "place"), [
    ("fleet.yaml", "timezone: Europe/Berlin", "4:11"),
    ("sites.yaml", "timezone: Europe/Berlin", "2:30"),
])
def test_a_time_zone_directory_is_not_a_time_zone(path: str, old: str, place: str) -> None:
    """`timezone: Europe` names a directory of the zone database: a clear error, not an OSError."""
    files = replaced(small_fleet(), path, old, "timezone: Europe")
    assert problems(files) == [
        f"{path}:{place}: error: timezone: unknown IANA time zone 'Europe' (e.g. Europe/Berlin) [value]"]


@pytest.mark.parametrize("address", ["https://10.0.0.1:99999", "10.0.0.1:99999", "https://10.0.0.1:0"])
def test_an_address_with_a_port_out_of_range_is_an_error(address: str) -> None:
    """A port beyond 65535 (or 0) in a device address is an error at the address."""
    files = replaced(small_fleet(), "devices/all.yaml", "address: https://10.30.1.1\n", f"address: {address}\n")
    assert problems(files) == [
        f"devices/all.yaml:17:14: error: address: expected https://host[:port] or host[:port], got {address!r} [value]"]


def test_a_url_with_an_unclosed_bracket_is_a_field_type_error() -> None:
    """`http://[abc/x` is not a URL (urlsplit raises on it): a `field-type` error, not a crash."""
    files = small_fleet()
    files["templates/base.yaml"] += "  link: {type: url, required: false}\n"
    files = replaced(files, "devices/all.yaml", "vlan: 10}", "vlan: 10, link: 'http://[abc/x'}")
    assert problems(files) == [
        "devices/all.yaml:7:60: error: device 'ber-r01', field 'link' (template 'base'): expected a URL "
        "(scheme://host/...), got 'http://[abc/x' [field-type]"]


@pytest.mark.parametrize("value", ["http://[abc/x", "https://example.net:99999/", "http://", "ftp:/x"])
def test_malformed_urls_are_refused_by_the_url_type(value: str) -> None:
    """Unclosed brackets, ports out of range and missing hosts are all "expected a URL"."""
    assert check_value(FieldSpec(type="url"), value) == f"expected a URL (scheme://host/...), got {value!r}"


def test_a_configuration_index_of_thousands_of_digits_is_a_parse_error() -> None:
    """parse_config reports an index too large for any router list instead of converting it."""
    parsed = parse_config("a.b[" + "9" * 5000 + "]=1\n")
    assert parsed.values == {}
    assert [(e.line, e.message.endswith("is too large (at most 999999)")) for e in parsed.errors] == [(1, True)]


# --- observed state ---------------------------------------------------------------------------------------------------


def desired_config(root: Path, device: str, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """The configuration `render --format json` gives a device, parsed: what an in-sync router reports."""
    code, out, _ = run(["render", str(root), device, "--format", "json"], capsys)
    assert code == 0
    return parse_config(json.loads(out)["configuration"]).values


def snapshot(root: Path, capsys: pytest.CaptureFixture[str], extra: Mapping[str, str]) -> dict[str, Any]:
    """Every device of the small fleet in sync, ber-r01 reporting the `extra` keys as well."""
    devices = []
    for name, serial, model in (("ber-r01", "24130001", "MRX5 LTE"), ("ber-r02", "24130002", "MRX5 LTE"),
                                ("nwk-r01", "24130003", "MRX6 DSL")):
        config = desired_config(root, name, capsys)
        if name == "ber-r01":
            config.update(extra)
        devices.append({"serial": serial, "name": name, "model": model, "firmware": "10.6", "config": config})
    return {"format": "reconciler/observed-v1", "taken_at": "2026-11-21T09:30:00Z", "devices": devices}


def test_an_observed_key_with_a_huge_index_plans_without_crashing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A router reporting keys with 5000-digit indices (one in an owned list): a plan, exit 0, that item removed."""
    root = write_tree(tmp_path / "fleet", small_fleet())
    huge = "9" * 5000
    owned = f"administration.time.ntp_server[{huge}].server"
    observed = tmp_path / "observed.json"
    extra = {owned: "ntp.rogue.example", f"services.x[{huge}].y": "1"}
    observed.write_text(json.dumps(snapshot(root, capsys, extra)), encoding="utf-8")
    code, out, err = run(["plan", str(root), "--observed", str(observed), "--format", "json"], capsys)
    assert (code, err) == (0, "")
    [device] = [d for d in json.loads(out)["devices"] if d["status"] != "in-sync"]
    assert device["device"] == "ber-r01"
    assert device["actions"][0]["changes"] == [{"key": owned, "old": "ntp.rogue.example", "new": None}]
