"""Schema validation of single files: operator-worded problems at the offending node."""

from __future__ import annotations

import pytest

from reconciler.core.documents import parse_yaml
from reconciler.core.loading import load_file, locate_problems
from reconciler.core.models import kind_of


def problems_of(path: str, text: str) -> list[str]:
    raw = text.encode()
    kind = kind_of(path)
    assert kind is not None
    loaded = load_file(parse_yaml(path, raw), kind)
    return [str(p) for p in locate_problems(loaded.problems, {path: raw})]


DEVICE = """\
devices:
  - name: ber-r01
    serial: "24130001"
    model: MRX5 LTE
    address: https://10.0.0.1
"""


def test_a_valid_devices_file_has_no_problems() -> None:
    """The minimal device validates."""
    assert problems_of("devices/a.yaml", DEVICE) == []


def test_unknown_key_suggests_the_close_one_at_the_key() -> None:
    """A misspelt key is reported at the key with a "did you mean"."""
    found = problems_of("devices/a.yaml", DEVICE + "    tempalte: base\n")
    assert found == ["devices/a.yaml:6:5: error: unknown key 'tempalte' (did you mean 'template'?) [unknown-key]"]


def test_missing_required_key_points_at_the_mapping() -> None:
    """A missing key is reported where the mapping that lacks it starts."""
    found = problems_of("devices/a.yaml", DEVICE.replace('    serial: "24130001"\n', ""))
    assert found == ["devices/a.yaml:2:5: error: missing required key 'serial' [missing-key]"]


def test_unquoted_serial_gets_a_quote_hint_at_the_value() -> None:
    """A serial YAML reads as a number is a type error telling the operator to quote it."""
    found = problems_of("devices/a.yaml", DEVICE.replace('"24130001"', "24130001"))
    assert found == ['devices/a.yaml:3:13: error: serial: expected a string, got the number 24130001 '
                     '(YAML read it as a number: quote it, "24130001") [type]']


def test_unquoted_version_gets_a_quote_hint() -> None:
    """`firmware: 10.6` (a float) is refused with a hint."""
    found = problems_of("devices/a.yaml", DEVICE + "    firmware: 10.6\n")
    assert len(found) == 1
    assert 'quote it, "10.6"' in found[0]


def test_bad_enum_value_lists_choices_and_suggests() -> None:
    """A wrong enum value names the allowed values and the nearest one."""
    found = problems_of("devices/a.yaml", DEVICE + "    config_mode: mrege\n")
    assert found == ["devices/a.yaml:6:18: error: config_mode: 'mrege' is not allowed; expected 'merge' or "
                     "'replace' (did you mean 'merge'?) [value]"]


def test_bad_name_explains_the_allowed_characters() -> None:
    """A name with a space says which characters are allowed."""
    found = problems_of("devices/a.yaml", DEVICE.replace("ber-r01", "ber r01"))
    assert "letters, digits, '.', '_' or '-'" in found[0]


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    """Three independent mistakes give three problems, in one run."""
    text = DEVICE.replace('"24130001"', "24130001") + "    tempalte: base\n    address2: x\n"
    assert len(problems_of("devices/a.yaml", text)) == 3


def test_wrong_top_level_type_is_one_clear_problem() -> None:
    """A list at the top of a devices file is refused as such."""
    assert problems_of("devices/a.yaml", "- a\n- b\n") == [
        "devices/a.yaml:1:1: error: expected a mapping at the top of devices/*.yaml: the routers, got a list [type]"
    ]


def test_empty_file_is_a_problem() -> None:
    """An empty devices file is reported, not silently skipped."""
    assert problems_of("devices/a.yaml", "# nothing yet\n") == [
        "devices/a.yaml:1:1: error: empty devices/*.yaml: the routers [empty-file]"
    ]


def test_packet_part_of_unknown_type_names_the_types() -> None:
    """A part's `type` must be one of the five part kinds (D0.13)."""
    text = "packets:\n  - name: p\n    parts:\n      - {type: firmwre, version: '1.0'}\n"
    found = problems_of("resources/packets/p.yaml", text)
    assert len(found) == 1
    assert "unknown type 'firmwre'; expected one of 'configuration', 'script', 'certificate', 'firmware'" in found[0]


def test_unknown_key_inside_a_packet_part_suggests_within_that_part_kind() -> None:
    """Suggestions come from the model at that place, even inside a discriminated union."""
    text = "packets:\n  - name: p\n    parts:\n      - {type: script, fil: a.lua}\n"
    found = problems_of("resources/packets/p.yaml", text)
    assert "unknown key 'fil' (did you mean 'file'?)" in " ".join(found)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("format: reconciler/v1\nname: f\nvariant: server\ntimezone: Europe/Berln\n", "unknown IANA time zone"),
        ("format: reconciler/v2\nname: f\nvariant: server\ntimezone: UTC\n", "expected 'reconciler/v1'"),
        ("format: reconciler/v1\nname: f\nvariant: server\ntimezone: UTC\nsync: {interval: 5 minutes}\n",
         "expected a duration"),
        ("format: reconciler/v1\nname: f\nvariant: datacenter\ntimezone: UTC\napproval: {reference: r, "
         "approved_by: b, approved_on: 2026-01-01, max_devices: 4000}\n", "greater than 5000"),
    ],
)
def test_fleet_file_values_are_checked(text: str, expected: str) -> None:
    """fleet.yaml: time zone, format, durations and the approval's range are validated."""
    found = problems_of("fleet.yaml", text)
    assert len(found) == 1
    assert expected in found[0]
