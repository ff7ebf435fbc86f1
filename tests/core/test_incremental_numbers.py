"""Numbers and booleans that compare equal in Python (1 == 1.0 == true) stay distinct through validation and diffs.

The incremental diff skips devices whose inputs did not change; anything that keys a memo or a hash by
value rather than by value and type would make it miss (or invent) a change. These tests drive the real
CLI on a real git repository and compare the incremental diff with the full one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from reconciler.cli import main
from reconciler.core.loading import locate_problems
from tests.conftest import GitRepo, build, small_fleet, write_tree

DEVICES = {
    "ber-r01": ('"24130001"', "MRX5 LTE", "https://10.20.1.1", "berlin", "192.168.10.0/24"),
    "ber-r02": ('"24130002"', "MRX5 LTE", "https://10.20.1.2", "berlin", "192.168.11.0/24"),
    "nwk-r01": ('"24130003"', "MRX6 DSL", "https://10.30.1.1", "newark", "192.168.20.0/24"),
}
FIELDS = ("vlan", "weight", "ratio", "backup")  # int 1..4094 (default 1), int, float, bool
EXTRA_DECLARATIONS = """\
  weight: {type: int, required: false}
  ratio: {type: float, required: false}
  backup: {type: bool, required: false}
"""
EXTRA_TEMPLATE = """\
{% if weight is defined %}
interfaces.net1.weight={{ weight }}
{% endif %}
{% if ratio is defined %}
interfaces.net1.ratio={{ ratio }}
{% endif %}
{% if backup is defined %}
interfaces.wwan1.backup={{ backup | icom_bool }}
{% endif %}
"""
# Per field: values it accepts (among them equal "==" ones of other types, signs, the edges of 64 bits
# and of float precision), then values of an "==" class it accepts but of a type it does not.
POOLS: dict[str, tuple[tuple[Any, ...], tuple[Any, ...]]] = {
    "vlan": ((1, 2, 4094), (1.0, True, 2.0, 4095)),
    "weight": ((0, 1, -1, 2, 2**63 - 1, -(2**63), 2**53 + 1), (1.0, True, False, -1.0)),
    "ratio": ((0, 1, -1, 0.0, -0.0, 1.0, -1.0, 2.0, 2**63 - 1, 2**53 + 1, float(2**53), 1e308), (True, False)),
    "backup": ((True, False), (1, 0, 1.0)),
}


def values_of(field: str) -> st.SearchStrategy[Any]:
    """Mostly values the field accepts, sometimes one it refuses (so both sides of validity are explored)."""
    accepted, refused = POOLS[field]
    return st.sampled_from(accepted * 10 + refused)


Fields = dict[str, Any]
Revision = tuple[dict[str, Fields], Fields]  # fields per device, fields of the group europe


def yaml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def flow(fields: Fields) -> str:
    return "{" + ", ".join(f"{name}: {yaml_value(value)}" for name, value in fields.items()) + "}"


def fleet_files(revision: Revision) -> dict[str, str]:
    """The small fleet with one devices file per device and the extra number and boolean fields."""
    devices, group = revision
    files = small_fleet()
    del files["devices/all.yaml"]
    files["templates/base.yaml"] += EXTRA_DECLARATIONS
    files["templates/base.j2"] += EXTRA_TEMPLATE
    group_fields = flow({"ntp_server": "ntp.eu.example.net", **group})
    files["groups.yaml"] = files["groups.yaml"].replace("fields: {ntp_server: ntp.eu.example.net}",
                                                        f"fields: {group_fields}")
    for name, (serial, model, address, site, lan) in DEVICES.items():
        fields = flow({"lan_network": lan, **devices[name]})
        files[f"devices/{name}.yaml"] = (f"devices:\n  - name: {name}\n    serial: {serial}\n    model: {model}\n"
                                         f"    address: {address}\n    site: {site}\n    fields: {fields}\n")
    return files


field_values = st.fixed_dictionaries({}, optional={field: values_of(field) for field in FIELDS})
revisions = st.tuples(st.fixed_dictionaries({name: field_values for name in DEVICES}), field_values)
edit = st.tuples(st.sampled_from([*DEVICES, "(group)"]), st.sampled_from(FIELDS)).flatmap(
    lambda where: st.tuples(st.just(where[0]), st.just(where[1]), st.none() | values_of(where[1])))
edits = st.lists(edit, min_size=1, max_size=3)


def edited(revision: Revision, changes: list[tuple[str, str, Any]]) -> Revision:
    """`revision` with a few fields set to other values (or removed): a small change, as in a pull request."""
    devices = {name: dict(fields) for name, fields in revision[0].items()}
    group = dict(revision[1])
    for target, field, value in changes:
        fields = group if target == "(group)" else devices[target]
        if value is None:
            fields.pop(field, None)
        else:
            fields[field] = value
    return devices, group


def diff_json(root: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any], str]:
    code = main(["diff", str(root), "--base", "HEAD", "--format", "json", *extra])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(base=revisions, changes=edits)
def test_incremental_and_full_diffs_agree_on_numbers_and_booleans(
        base: Revision, changes: list[tuple[str, str, Any]], tmp_path_factory: pytest.TempPathFactory,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Changing 1 to 1.0 or true (and friends) in a commit's working tree: `diff` and `diff --full` say the same."""
    repo = GitRepo(tmp_path_factory.mktemp("fleet"))
    repo.commit(fleet_files(base))
    write_tree(repo.root, fleet_files(edited(base, changes)))  # the pull request's change, in the working tree
    code, incremental, err = diff_json(repo.root, capsys)
    full_code, full, full_err = diff_json(repo.root, capsys, "--full")
    event(f"exit {code}, {incremental.get('changed_devices', 'no')} devices changed")
    assert (code, err) == (full_code, full_err)
    renders = incremental.pop("renders", 0), full.pop("renders", 0)
    assert incremental == full
    assert renders[0] <= renders[1]


def commit_then_change(repo: GitRepo, field: str, old: Any, new: Any) -> None:
    """Commit ber-r01 with `field: old`, then set `field: new` in the working tree (the other devices unchanged)."""
    untouched: dict[str, Fields] = {device: {} for device in DEVICES}
    repo.commit(fleet_files(({**untouched, "ber-r01": {field: old}}, {})))
    write_tree(repo.root, fleet_files(({**untouched, "ber-r01": {field: new}}, {})))


@pytest.mark.parametrize(("old", "new", "shown"), [
    (1, 1.0, ("1", "1.0")),
    (1.0, 1, ("1.0", "1")),
    (0, -0.0, ("0", "-0.0")),
    (2**53 + 1, 2**53 + 1.0, ("9007199254740993", "9007199254740992.0")),
])
@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
def test_an_equal_number_of_another_type_is_a_change(git_repo: GitRepo, old: Any, new: Any, shown: tuple[str, str],
                                                     full: bool, capsys: pytest.CaptureFixture[str]) -> None:
    """`ratio: 1` → `ratio: 1.0` renders differently, so it is a change, found with and without `--full`."""
    commit_then_change(git_repo, "ratio", old, new)
    code, data, _ = diff_json(git_repo.root, capsys, *(["--full"] if full else []))
    assert code == 0
    assert [(d["device"], d["config"]) for d in data["devices"]] == [
        ("ber-r01", [{"key": "interfaces.net1.ratio", "kind": "change", "old": shown[0], "new": shown[1]}])]
    assert data["unchanged_devices"] == 2


@pytest.mark.parametrize(("old", "new"), [(1, 1.0), (1, True), (0, False)])
@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
def test_an_equal_value_of_a_refused_type_makes_the_head_invalid(git_repo: GitRepo, old: Any, new: Any, full: bool,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """`weight: 1` → `weight: 1.0` (or `true`) in an int field: the head does not validate, with or without `--full`."""
    commit_then_change(git_repo, "weight", old, new)
    code, data, _ = diff_json(git_repo.root, capsys, *(["--full"] if full else []))
    assert code == 1
    assert [(p["code"], p["device"]) for p in data["problems"]] == [("field-type", "ber-r01")]


# --- validation: the verdict on a value depends on its type, not only on its "==" class --------------------------


def vlan_fleet(first: str, second: str) -> dict[str, str]:
    """The small fleet whose ber-r01 sets `vlan: <first>` and ber-r02 `vlan: <second>`."""
    files = small_fleet()
    files["devices/all.yaml"] = files["devices/all.yaml"].replace("vlan: 10}", f"vlan: {first}}}").replace(
        "{lan_network: 192.168.11.0/24}", f"{{lan_network: 192.168.11.0/24, vlan: {second}}}")
    return files


def problems(files: Mapping[str, str]) -> list[str]:
    raw = {path: content.encode() for path, content in files.items()}
    return [str(p) for p in locate_problems(build(files).problems, raw)]


BOOL_AT_R01 = ("devices/all.yaml:7:50: error: device 'ber-r01', field 'vlan' (template 'base'): expected an integer, "
               "got true [field-type]")
BOOL_AT_R02 = ("devices/all.yaml:13:50: error: device 'ber-r02', field 'vlan' (template 'base'): expected an integer, "
               "got true [field-type]")


@pytest.mark.parametrize(("first", "second", "expected"), [
    ("1", "true", [BOOL_AT_R02]),
    ("true", "1", [BOOL_AT_R01]),
    ("true", "true", [BOOL_AT_R01, BOOL_AT_R02]),
    ("1", "1", []),
])
def test_a_boolean_for_an_int_field_is_an_error_whichever_device_comes_first(first: str, second: str,
                                                                             expected: list[str]) -> None:
    """`vlan: 1` on one device and `vlan: true` on another: the boolean one is a `field-type` error, in any order."""
    assert problems(vlan_fleet(first, second)) == expected


@pytest.mark.parametrize(("first", "second"), [("1", "1.0"), ("1.0", "1")])
def test_a_float_for_an_int_field_is_an_error_whichever_device_comes_first(first: str, second: str) -> None:
    """`vlan: 1` and `vlan: 1.0`: only the float is reported, wherever it stands."""
    found = problems(vlan_fleet(first, second))
    assert len(found) == 1
    assert found[0].endswith("expected an integer, got 1.0 [field-type]")
    assert ("ber-r01" if first == "1.0" else "ber-r02") in found[0]


def test_a_boolean_group_value_for_an_int_field_is_an_error_even_if_a_device_sets_1() -> None:
    """A group's `vlan: true` is reported for the devices that take it, even after a device's `vlan: 1` was fine."""
    files = vlan_fleet("1", "1")
    files["groups.yaml"] = files["groups.yaml"].replace("fields: {apn: internet.m2m}", "fields: {apn: internet.m2m, "
                                                                                       "vlan: true}")
    files["devices/all.yaml"] = files["devices/all.yaml"].replace("nwk-r01\n", "nwk-r01\n    groups: [lte]\n")
    assert problems(files) == [
        "groups.yaml:7:39: error: field 'vlan' for template 'base' (devices 'nwk-r01'): expected an integer, got true "
        "[field-type]"]
