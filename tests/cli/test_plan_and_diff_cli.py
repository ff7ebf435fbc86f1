"""`plan` and `diff` on real files: credentials never shown, exit codes for failures, owned lists, volatile keys."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.configs import parse_config
from tests.conftest import GitRepo, small_fleet, write_tree
from tests.conftest import run_cli as run

DEVICES = (("ber-r01", "24130001", "MRX5 LTE"), ("ber-r02", "24130002", "MRX5 LTE"),
           ("nwk-r01", "24130003", "MRX6 DSL"))
CREDENTIALS = {
    "interfaces.wwan1.sim_pin": "4711",
    "ipsec.connection[1].auth.shared_key": "plainPSK",
    "services.snmp.community": "public",
}
# Word boundaries: hex digests and time stamps may contain the digits 4711 by chance.
LEAKS = re.compile(r"\b4711\b|plainPSK|\bpublic\b")
SEALED = "rsb1:c2VhbGVkLWFwbi11c2VyLWZvci10ZXN0cy1vbmx5"
UNRENDERABLE = "{% if device.name == 'nwk-r01' %}\nnot a configuration line\n{% endif %}\n"



def replace_mode(files: dict[str, str]) -> dict[str, str]:
    files["fleet.yaml"] = files["fleet.yaml"].replace("  template: base\n",
                                                      "  template: base\n  config_mode: replace\n")
    return files


def desired_config(root: Path, device: str, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """The configuration `render --format json` gives a device, parsed: what an in-sync router reports."""
    code, out, _ = run(["render", str(root), device, "--format", "json"], capsys)
    assert code == 0
    return parse_config(json.loads(out)["configuration"]).values


def write_snapshot(root: Path, target: Path, capsys: pytest.CaptureFixture[str],
                   extra: Mapping[str, Mapping[str, str]] = {}, unrendered: Mapping[str, str] = {}) -> Path:
    """A snapshot of the small fleet's routers in sync, plus `extra` keys per device (`unrendered`: config as is)."""
    devices = []
    for name, serial, model in DEVICES:
        config = dict(unrendered[name]) if name in unrendered else desired_config(root, name, capsys)
        config.update(extra.get(name, {}))
        devices.append({"serial": serial, "name": name, "model": model, "firmware": "10.6", "online": True,
                        "config": config})
    target.write_text(json.dumps({"format": "reconciler/observed-v1", "taken_at": "2026-11-21T09:30:00Z",
                                  "devices": devices}), encoding="utf-8")
    return target


def config_changes(plan: dict[str, Any], device: str) -> list[dict[str, Any]]:
    [found] = [d for d in plan["devices"] if d["device"] == device]
    return [c for action in found["actions"] if action["kind"] == "configuration" for c in action["changes"]]


# --- redaction -------------------------------------------------------------------------------------------------


@pytest.fixture
def credential_fleet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    """A replace-mode fleet that renders a SIM PIN; ber-r01's router reports a PIN, a PSK and a community."""
    files = replace_mode(small_fleet())
    files["templates/base.j2"] += "interfaces.wwan1.sim_pin=1234\n"
    root = write_tree(tmp_path / "fleet", files)
    observed = write_snapshot(root, tmp_path / "observed.json", capsys, extra={"ber-r01": CREDENTIALS})
    return root, observed


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_credentials_a_router_reports_never_appear_in_a_plan(credential_fleet: tuple[Path, Path], tmp_path: Path,
                                                             fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A SIM PIN, a pre-shared key and an SNMP community from the router: `***` in every format and the saved plan."""
    root, observed = credential_fleet
    saved = tmp_path / "plan.json"
    code, out, err = run(["plan", str(root), "--observed", str(observed), "--format", fmt, "--out", str(saved)],
                         capsys)
    assert code == 0
    assert LEAKS.search(out) is None
    assert LEAKS.search(err) is None
    assert LEAKS.search(saved.read_text(encoding="utf-8")) is None
    assert "***" in out


def test_credential_changes_keep_their_keys_and_hide_both_values(credential_fleet: tuple[Path, Path],
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The plan still says which credential keys change and how (change, removal); only the values are `***`."""
    root, observed = credential_fleet
    code, out, _ = run(["plan", str(root), "--observed", str(observed), "--format", "json"], capsys)
    assert code == 0
    assert config_changes(json.loads(out), "ber-r01") == [
        {"key": "interfaces.wwan1.sim_pin", "old": "***", "new": "***"},
        {"key": "ipsec.connection[1].auth.shared_key", "old": "***", "new": None},
        {"key": "services.snmp.community", "old": "***", "new": None},
    ]
    code, out, _ = run(["plan", str(root), "--observed", str(observed)], capsys)
    assert [line.strip() for line in out.splitlines() if line.startswith("         ")] == [
        "~ interfaces.wwan1.sim_pin: *** -> ***",
        "- ipsec.connection[1].auth.shared_key (was ***)",
        "- services.snmp.community (was ***)",
    ]


def secret_user_fleet(user: str) -> dict[str, str]:
    """The small fleet rendering `interfaces.wwan1.apn_user` (not a credential by name, so the fleet declares it a
    secret key) from the field `apn_user`."""
    files = small_fleet()
    files["fleet.yaml"] += "management:\n  secret_keys: [interfaces.wwan1.apn_user]\n"
    files["templates/base.yaml"] += "  apn_user: {type: string}\n"
    files["templates/base.j2"] += "interfaces.wwan1.apn_user={{ apn_user }}\n"
    files["fleet.yaml"] = files["fleet.yaml"].replace(
        "    ntp_server: pool.ntp.org\n", f"    ntp_server: pool.ntp.org\n    apn_user: {user}\n")
    files["secrets/apn.yaml"] = f'secrets:\n  apn-user: {{sealed: "{SEALED}"}}\n'
    return files


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_key_that_becomes_a_secret_shows_stars_on_both_sides_of_a_diff(git_repo: GitRepo, fmt: str,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A value moved from plain text into `!secret`: `*** -> ***`, because the old text is that secret."""
    base = git_repo.commit(secret_user_fleet("m2m-user-plaintext"))
    head = git_repo.commit(secret_user_fleet("!secret apn-user"))
    code, out, _ = run(["diff", str(git_repo.root), "--base", base, "--head", head, "--format", fmt], capsys)
    assert code == 0
    if fmt == "json":
        changes = [c for d in json.loads(out)["devices"] for c in d["config"]]
        assert changes == [{"key": "interfaces.wwan1.apn_user", "kind": "change", "old": "***", "new": "***"}] * 3
    else:
        assert out.count("    ~ interfaces.wwan1.apn_user: *** -> ***\n") == 3
    assert "m2m-user-plaintext" not in out
    assert SEALED not in out


def test_a_secret_key_is_write_only_in_a_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A router's value for a key the repository seals is never compared or shown; a missing one is added as `***`."""
    root = write_tree(tmp_path / "fleet", secret_user_fleet("!secret apn-user"))
    rendered = {name: desired_config(root, name, capsys) for name, _, _ in DEVICES}
    reported = {name: {**config, "interfaces.wwan1.apn_user": "router-side-user"} for name, config in rendered.items()}
    del reported["nwk-r01"]["interfaces.wwan1.apn_user"]
    observed = write_snapshot(root, tmp_path / "observed.json", capsys, unrendered=reported)
    code, out, _ = run(["plan", str(root), "--observed", str(observed), "--format", "json"], capsys)
    assert code == 0
    plan = json.loads(out)
    assert plan["counts"] == {"changes": 1, "in-sync": 2}
    assert config_changes(plan, "nwk-r01") == [{"key": "interfaces.wwan1.apn_user", "old": None, "new": "***"}]
    assert "router-side-user" not in out


# --- exit codes ----------------------------------------------------------------------------------------------------


@pytest.fixture
def fleet_and_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    root = write_tree(tmp_path / "fleet", small_fleet())
    return root, write_snapshot(root, tmp_path / "observed.json", capsys)


def test_plan_out_to_a_directory_exits_1_saying_it_cannot_write(fleet_and_snapshot: tuple[Path, Path], tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """`--out` naming a directory: exit 1 (an error, not "changes"), nothing on stdout, the path and the reason."""
    root, observed = fleet_and_snapshot
    target = tmp_path / "plans"
    target.mkdir()
    code, out, err = run(["plan", str(root), "--observed", str(observed), "--out", str(target),
                          "--detailed-exitcode"], capsys)
    assert (code, out) == (1, "")
    assert err == f"reconciler: error: cannot write {target}: Is a directory\n"


def test_plan_out_below_a_regular_file_exits_1_saying_it_is_not_a_directory(
        fleet_and_snapshot: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--out file.txt/plan.json` where file.txt is a file: exit 1, and the message names the real obstacle."""
    root, observed = fleet_and_snapshot
    (tmp_path / "file.txt").write_text("not a directory\n", encoding="utf-8")
    target = tmp_path / "file.txt" / "plan.json"
    code, out, err = run(["plan", str(root), "--observed", str(observed), "--out", str(target)], capsys)
    assert (code, out) == (1, "")
    assert err.startswith(f"reconciler: error: cannot write {target}: ")
    assert "not a directory" in err.lower()


def test_plan_with_a_device_that_does_not_render_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A device whose configuration does not render is `invalid` in the plan, and the plan exits 1, not 0 or 2."""
    fleet = small_fleet()
    root = write_tree(tmp_path / "fleet", fleet)
    snapshot = write_snapshot(root, tmp_path / "observed.json", capsys)
    (root / "templates" / "base.j2").write_text(fleet["templates/base.j2"] + UNRENDERABLE, encoding="utf-8")
    for extra in ([], ["--detailed-exitcode"]):
        code, out, err = run(["plan", str(root), "--observed", str(snapshot), "--format", "json", *extra], capsys)
        assert code == 1
        plan = json.loads(out)
        assert plan["counts"] == {"in-sync": 2, "invalid": 1}
        assert err == "error: 1 device(s) do not render\n"


def test_diff_with_a_head_device_that_does_not_render_exits_1_even_with_detailed_exitcode(
        git_repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    """A change plus a head device that fails to render: exit 1 (2 would tell CI "only changes"), the error shown."""
    files = small_fleet()
    git_repo.commit(files)
    (git_repo.root / "templates" / "base.j2").write_text(files["templates/base.j2"] + UNRENDERABLE, encoding="utf-8")
    (git_repo.root / "devices" / "all.yaml").write_text(files["devices/all.yaml"].replace("vlan: 10", "vlan: 12"),
                                                        encoding="utf-8")
    code, out, err = run(["diff", str(git_repo.root), "--base", "HEAD", "--detailed-exitcode"], capsys)
    assert code == 1
    assert "    ~ interfaces.net1.vlan_id: 10 -> 12" in out.splitlines()
    assert ("    error head: device 'nwk-r01': rendered configuration line 8: expected 'key=value' or '<list>.add': "
            "'not a configuration line'") in out.splitlines()
    assert err == "error: 1 device(s) of working tree do not render\n"


def test_a_template_that_starts_clearing_a_list_shows_that_it_now_owns_it(
        git_repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    """Adding `netfilter.nat.rule.delete=all`: no key changes, but each device now owns the list (text and JSON)."""
    files = small_fleet()
    git_repo.commit(files)
    (git_repo.root / "templates" / "base.j2").write_text(files["templates/base.j2"] + "netfilter.nat.rule.delete=all\n",
                                                         encoding="utf-8")
    code, out, _ = run(["diff", str(git_repo.root), "--base", "HEAD", "--detailed-exitcode"], capsys)
    assert code == 2
    claimed = "    now owns the list netfilter.nat.rule: router items beyond the rendered ones are removed"
    assert out.splitlines().count(claimed) == 3
    code, out, _ = run(["diff", str(git_repo.root), "--base", "HEAD", "--format", "json"], capsys)
    assert code == 0
    devices = json.loads(out)["devices"]
    assert [(d["device"], d["lists"], d["config"]) for d in devices] == [
        (name, {"claimed": ["netfilter.nat.rule"], "released": []}, []) for name, _, _ in DEVICES]


def test_a_template_that_stops_clearing_a_list_releases_it(git_repo: GitRepo,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Removing `.delete=all` for the NTP list: each device no longer owns it (the server keys stay the same)."""
    files = small_fleet()
    git_repo.commit(files)
    released = files["templates/base.j2"].replace("administration.time.ntp_server.delete=all\n", "")
    (git_repo.root / "templates" / "base.j2").write_text(released, encoding="utf-8")
    code, out, _ = run(["diff", str(git_repo.root), "--base", "HEAD", "--format", "json"], capsys)
    assert code == 0
    assert [d["lists"] for d in json.loads(out)["devices"]] == [
        {"claimed": [], "released": ["administration.time.ntp_server"]}] * 3


# --- volatile keys ----------------------------------------------------------------------------------------------------


def test_a_volatile_pattern_with_an_index_exempts_exactly_that_index(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """`interfaces.wwan1.ip_address[1].*` is never drift; `[2]` and `[10]` still are (replace mode removes them)."""
    files = replace_mode(small_fleet())
    files["fleet.yaml"] += 'volatile_keys: ["interfaces.wwan1.ip_address[1].*"]\n'
    root = write_tree(tmp_path / "fleet", files)
    router_only = {f"interfaces.wwan1.ip_address[{index}].{key}": value
                   for index in (1, 2, 10) for key, value in (("ip_address", f"10.64.{index}.2"),
                                                              ("netmask", "255.255.255.0"))}
    observed = write_snapshot(root, tmp_path / "observed.json", capsys, extra={"ber-r01": router_only})
    code, out, _ = run(["plan", str(root), "--observed", str(observed), "--format", "json"], capsys)
    assert code == 0
    assert [change["key"] for change in config_changes(json.loads(out), "ber-r01")] == [
        "interfaces.wwan1.ip_address[2].ip_address",
        "interfaces.wwan1.ip_address[2].netmask",
        "interfaces.wwan1.ip_address[10].ip_address",
        "interfaces.wwan1.ip_address[10].netmask",
    ]


def test_a_volatile_pattern_also_exempts_rendered_keys_of_that_index(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A rendered key under the volatile index that the router reports otherwise is not drift; one under [2] is."""
    files = small_fleet()
    files["fleet.yaml"] += 'volatile_keys: ["interfaces.wwan1.ip_address[1].*"]\n'
    files["templates/base.j2"] += ("interfaces.wwan1.ip_address[1].ip_address=10.64.1.1\n"
                                   "interfaces.wwan1.ip_address[2].ip_address=10.64.2.1\n")
    root = write_tree(tmp_path / "fleet", files)
    drifted = {"interfaces.wwan1.ip_address[1].ip_address": "10.99.1.1",
               "interfaces.wwan1.ip_address[2].ip_address": "10.99.2.1"}
    observed = write_snapshot(root, tmp_path / "observed.json", capsys, extra={"ber-r01": drifted})
    code, out, _ = run(["plan", str(root), "--observed", str(observed), "--format", "json"], capsys)
    assert code == 0
    assert config_changes(json.loads(out), "ber-r01") == [
        {"key": "interfaces.wwan1.ip_address[2].ip_address", "old": "10.99.2.1", "new": "10.64.2.1"}]
