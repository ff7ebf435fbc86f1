"""The example fleet repository: realistic, valid, renderable, schema-conforming, and plannable."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from reconciler.cli import main
from reconciler.core import configs
from reconciler.core.models import kind_of
from reconciler.core.rendering import DesiredState, Renderer
from reconciler.core.schemas import json_schemas
from reconciler.shell.revisions import FleetLoader, LoadedRevision
from tests.conftest import EXAMPLE, PROJECT

OBSERVED = EXAMPLE / ".demo" / "observed.json"
UCAAS, UCAAS_UPDATE, STUN = "46.189.64.189", "46.189.64.186", "46.189.64.249"

# D3.7: (protocol, destination, first port, last port) a telephony site must let out.
D3_7 = {
    ("tcp", UCAAS, 443, 443), ("tcp", UCAAS, 8443, 8443), ("tcp", UCAAS_UPDATE, 4443, 4443),
    ("tcp", UCAAS, 1300, 1300), ("tcp", UCAAS_UPDATE, 636, 636), ("tcp", UCAAS, 8636, 8636),
    ("tcp", STUN, 3478, 3478), ("udp", STUN, 3478, 3478),
    ("udp", UCAAS, 16384, 32767), ("udp", UCAAS, 50000, 50100), ("udp", UCAAS, 60000, 60100),
}


@pytest.fixture(scope="module")
def example() -> LoadedRevision:
    return FleetLoader().load(EXAMPLE)


@pytest.fixture(scope="module")
def renderer(example: LoadedRevision) -> Renderer:
    return example.renderer()


def test_example_validates_without_errors_or_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    """`reconciler validate` finds nothing at all: no schema, reference, field or render problem."""
    code = main(["validate", str(EXAMPLE), "--format", "json"])
    result = json.loads(capsys.readouterr().out)
    assert (code, result["errors"], result["warnings"], result["problems"]) == (0, 0, 0, [])


@pytest.mark.parametrize("day", ["2026-12-15", "2027-03-31", "2027-06-30"])
def test_example_stays_valid_for_months_so_a_later_clone_still_validates(
        day: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The example's dated entitlements (demos, licences, credits) hold well into 2027: no error on these days."""
    monkeypatch.setenv("RECONCILER_NOW", f"{day}T12:00:00+01:00")
    assert main(["validate", str(EXAMPLE)]) == 0, capsys.readouterr().out
    assert " 0 errors" in capsys.readouterr().out


def test_example_is_realistic_in_size_and_variety(example: LoadedRevision) -> None:
    """About 60 devices, 4+ models, 4+ sites in three time zones, 5+ groups, 3+ templates (issue 2)."""
    fleet = example.build.fleet
    assert fleet is not None
    assert len(fleet.devices) >= 60
    assert len({d.model for d in fleet.devices.values()}) >= 4
    assert len(fleet.sites) >= 4
    used_sites = {d.site.name for d in fleet.devices.values() if d.site is not None}
    assert used_sites == set(fleet.sites)
    assert {fleet.sites[s].timezone for s in used_sites} == {"Europe/Berlin", "America/New_York", "Asia/Dubai"}
    assert len(fleet.groups) >= 5
    assert all(fleet.devices_of_group(group) for group in fleet.groups), "every group has members"
    assert len(fleet.templates) >= 3
    assert {"base", "lte-backup", "telephony-site"} <= {d.template for d in fleet.devices.values()}


def test_example_has_two_firmware_versions_with_model_compatibility(example: LoadedRevision) -> None:
    """Two catalogued versions, not every model on both, and both in use."""
    fleet = example.build.fleet
    assert fleet is not None
    assert len(fleet.firmware) == 2
    models = [set(spec.models) for spec in fleet.firmware.values()]
    assert models[0] != models[1]
    assert {d.firmware for d in fleet.devices.values()} == set(fleet.firmware)


def test_example_has_two_update_packets_in_use(example: LoadedRevision) -> None:
    """Two update packets, each assigned to some device."""
    fleet = example.build.fleet
    assert fleet is not None
    assert len(fleet.packets) == 2
    assert {p for d in fleet.devices.values() for p in d.packets} == set(fleet.packets)


def test_every_example_device_renders(example: LoadedRevision, renderer: Renderer) -> None:
    """Each device has a desired state with a parseable configuration."""
    assert example.build.fleet is not None
    for name, device in example.build.fleet.devices.items():
        state = renderer.render(device)
        assert isinstance(state, DesiredState), name
        assert state.config_text is not None, name
        assert state.parsed().errors == (), name
        assert state.parsed().values["administration.hostnames.hostname"] == name


def outbound_rules(values: dict[str, str]) -> set[tuple[str, str, int, int]]:
    """(protocol, destination, first port, last port) of every active output filter rule."""
    rules: dict[str, dict[str, str]] = defaultdict(dict)
    for key, value in values.items():
        match = re.fullmatch(r"netfilter\.ip_filter\.rule\[(\d+)\]\.(\w+)", key)
        if match:
            rules[match.group(1)][match.group(2)] = value
    return {
        (rule["rule_protocol"], rule["rule_dst_ip"], int(rule["rule_dport"]),
         int(rule.get("rule_dport_end", rule["rule_dport"])))
        for rule in rules.values()
        if rule.get("rule_direction") == "output" and rule.get("rule_active") == "1" and "rule_dst_ip" in rule
    }


def test_telephony_devices_open_the_d3_7_ports(example: LoadedRevision, renderer: Renderer) -> None:
    """Every telephony-site router lets out each D3.7 port to its destination."""
    assert example.build.fleet is not None
    telephony = [d for d in example.build.fleet.devices.values() if d.template == "telephony-site"]
    assert telephony
    for device in telephony:
        state = renderer.render(device)
        assert isinstance(state, DesiredState)
        missing = D3_7 - outbound_rules(configs.parse_config(state.config_text or "").values)
        assert not missing, f"{device.name} lacks {sorted(missing)}"


class EditorLoader(yaml.SafeLoader):
    """What an editor's YAML 1.2 language server sees: dates stay strings, only true/false are booleans."""


EditorLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers
            if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
EditorLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                   list("tTfF"))
EditorLoader.add_constructor("!secret", lambda loader, node: f"!secret {loader.construct_scalar(node)}")


def example_yaml_files() -> list[Path]:
    return sorted(path for path in EXAMPLE.rglob("*.y*ml")
                  if not any(part.startswith(".") for part in path.relative_to(EXAMPLE).parts))


def test_the_checked_in_schemas_accept_every_example_file() -> None:
    """Each YAML file of the example validates against the JSON Schema of its kind (as an editor checks it)."""
    checked = 0
    for path in example_yaml_files():
        relative = path.relative_to(EXAMPLE).as_posix()
        kind = kind_of(relative)
        if kind is None:
            continue
        schema = json.loads((PROJECT / "schemas" / kind.schema_file).read_text(encoding="utf-8"))
        data: Any = yaml.load(path.read_text(encoding="utf-8"), Loader=EditorLoader)
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in Draft202012Validator(schema).iter_errors(data)]
        assert errors == [], f"{relative}: {errors}"
        checked += 1
    assert checked >= 15


def test_the_observed_schema_accepts_the_demo_snapshot() -> None:
    """The demo snapshot conforms to observed.schema.json."""
    schema = json_schemas()["observed.schema.json"]
    data = json.loads(OBSERVED.read_text(encoding="utf-8"))
    assert [e.message for e in Draft202012Validator(schema).iter_errors(data)] == []


def test_plan_against_the_demo_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        example: LoadedRevision) -> None:
    """`plan --observed .demo/observed.json` works and covers every device of the fleet."""
    out_file = tmp_path / "plan.json"
    code = main(["plan", str(EXAMPLE), "--observed", str(OBSERVED), "--out", str(out_file), "--format", "json"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads(out_file.read_text(encoding="utf-8"))
    assert printed == saved
    assert example.build.fleet is not None
    planned = {d["device"] for d in saved["devices"] if d["status"] != "unmanaged"}
    assert planned == set(example.build.fleet.devices)
    statuses = {d["status"] for d in saved["devices"]}
    assert "invalid" not in statuses
    assert {"in-sync", "changes"} <= statuses
    assert all(d["observed_hash"] for d in saved["devices"] if d["status"] != "unobserved")
    text = json.dumps(saved, ensure_ascii=False)
    assert "⟦" not in text
    assert "rsb1:" not in text
