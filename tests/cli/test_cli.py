"""The command line: every command's output and exit codes, on real files and real git repositories."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import main
from reconciler.core.observed import ObservedDevice
from reconciler.core.rendering import DesiredState, Renderer
from reconciler.core.schemas import json_schemas
from tests.conftest import EXAMPLE, PROJECT, GitRepo, build, small_fleet, with_sealed_admin_password, write_tree
from tests.conftest import run_cli as run

RECONCILER = Path(sys.executable).parent / "reconciler"
SUBDIR = "fleet"


@pytest.fixture
def repo(git_repo: GitRepo) -> GitRepo:
    """A git repository whose `fleet/` subdirectory holds the small fleet, committed."""
    git_repo.commit({f"{SUBDIR}/{path}": content for path, content in small_fleet().items()}, "the fleet")
    return git_repo


def fleet_path(repo: GitRepo) -> str:
    return str(repo.root / SUBDIR)


def edit(repo: GitRepo, path: str, old: str, new: str) -> None:
    """Change a fleet file in the working tree (not committed)."""
    target = repo.root / SUBDIR / path
    text = target.read_text(encoding="utf-8")
    assert old in text
    target.write_text(text.replace(old, new), encoding="utf-8")



# --- validate ---------------------------------------------------------------------------------------------


def test_validate_valid_fleet_exits_0_with_a_summary(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    """A valid fleet: exit 0 and one summary line."""
    code, out, _ = run(["validate", fleet_path(repo)], capsys)
    assert code == 0
    assert out == f"valid ({fleet_path(repo)} at working tree, 3 devices): 0 errors, 0 warnings\n"


def test_validate_invalid_fleet_exits_1_listing_every_problem(repo: GitRepo,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid fleet: exit 1, each problem as `file:line:col: error: message [code]`, then the summary."""
    edit(repo, "devices/all.yaml", "vlan: 10", "vlan: ten")
    edit(repo, "devices/all.yaml", "site: newark", "site: newrak")
    code, out, _ = run(["validate", fleet_path(repo)], capsys)
    assert code == 1
    assert out.splitlines() == [
        "devices/all.yaml:7:50: error: device 'ber-r01', field 'vlan' (template 'base'): expected an integer, got "
        "'ten' [field-type]",
        "devices/all.yaml:18:11: error: unknown site 'newrak' (did you mean 'newark'?) [unknown-site]",
        f"invalid ({fleet_path(repo)} at working tree, 3 devices): 2 errors, 0 warnings",
    ]


def test_validate_path_without_fleet_yaml_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A directory that is not a fleet repository is a usage error: exit 2 and a message."""
    code, out, err = run(["validate", str(tmp_path)], capsys)
    assert code == 2
    assert out == ""
    assert err == f"reconciler: error: {tmp_path} is not a fleet repository: no fleet.yaml\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["validate", "--format", "xml"], "argument --format: invalid choice: 'xml'"),
        (["validate", "--bogus"], "unrecognized arguments: --bogus"),
        (["frobnicate"], "argument COMMAND: invalid choice: 'frobnicate'"),
        (["render", "a", "b", "c"], "expected [PATH] DEVICE"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(argv: list[str], message: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Usage errors exit 2 and say what is wrong, without a traceback."""
    code, _, err = run(argv, capsys)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_validate_json_has_counts_and_positioned_problems(repo: GitRepo,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """`--format json`: revision, validity, counts and each problem's file, line, col, code and device."""
    edit(repo, "devices/all.yaml", "vlan: 10", "vlan: ten")
    code, out, _ = run(["validate", fleet_path(repo), "--format", "json"], capsys)
    assert code == 1
    assert json.loads(out) == {
        "revision": "working tree",
        "valid": False,
        "errors": 1,
        "warnings": 0,
        "problems": [{
            "file": "devices/all.yaml", "line": 7, "col": 50, "severity": "error", "code": "field-type",
            "message": "device 'ber-r01', field 'vlan' (template 'base'): expected an integer, got 'ten'",
            "device": "ber-r01",
        }],
    }


def test_validate_rev_reads_the_commit_not_the_working_tree(repo: GitRepo,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """With `--rev`, a broken working tree does not matter; without, it does."""
    head = repo.git("rev-parse", "HEAD")
    edit(repo, "devices/all.yaml", "vlan: 10", "vlan: ten")
    code, out, _ = run(["validate", fleet_path(repo), "--rev", "HEAD"], capsys)
    assert code == 0
    assert out == f"valid ({fleet_path(repo)} at {head[:10]} (HEAD), 3 devices): 0 errors, 0 warnings\n"
    assert run(["validate", fleet_path(repo)], capsys)[0] == 1


def test_validate_rev_reports_the_problems_of_an_older_commit(repo: GitRepo,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid commit stays invalid at `--rev` after the working tree was fixed."""
    edit(repo, "devices/all.yaml", "vlan: 10", "vlan: ten")
    broken = repo.commit({}, "broken")
    edit(repo, "devices/all.yaml", "vlan: ten", "vlan: 10")
    code, out, _ = run(["validate", fleet_path(repo), "--rev", broken, "--format", "json"], capsys)
    assert code == 1
    assert [p["code"] for p in json.loads(out)["problems"]] == ["field-type"]
    assert run(["validate", fleet_path(repo)], capsys)[0] == 0


def test_validate_unknown_revision_exits_1(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    """A revision git does not know: exit 1, naming it."""
    code, _, err = run(["validate", fleet_path(repo), "--rev", "no-such-branch"], capsys)
    assert code == 1
    assert "unknown revision 'no-such-branch'" in err


# --- render -------------------------------------------------------------------------------------------------


def test_render_prints_the_desired_state(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    """`render PATH DEVICE`: header with template, firmware, packets, then the configuration; exit 0."""
    code, out, _ = run(["render", fleet_path(repo), "ber-r01"], capsys)
    assert code == 0
    assert out.splitlines()[:5] == [
        "# device ber-r01 (serial 24130001, MRX5 LTE) at working tree",
        "# template base, mode merge, groups: europe, lte",
        "# firmware: 10.6",
        "# packets: -",
        "# configuration:",
    ]
    assert "administration.time.ntp_server[last].server=ntp.eu.example.net" in out.splitlines()
    assert "interfaces.net1.vlan_id=10" in out.splitlines()


def test_render_unknown_device_exits_1_with_a_suggestion(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    """A device the fleet does not have: exit 1 and "did you mean"."""
    code, out, err = run(["render", fleet_path(repo), "ber-r1"], capsys)
    assert code == 1
    assert out == ""
    assert err == f"reconciler: error: no device 'ber-r1' in {fleet_path(repo)} at working tree (did you mean " \
                  "'ber-r01'?)\n"


def test_render_of_an_invalid_repository_exits_1_with_its_errors(repo: GitRepo,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid fleet renders nothing: exit 1, the errors on stderr."""
    edit(repo, "devices/all.yaml", "vlan: 10", "vlan: ten")
    code, out, err = run(["render", fleet_path(repo), "nwk-r01"], capsys)
    assert code == 1
    assert out == ""
    assert "devices/all.yaml:7:50: error: device 'ber-r01', field 'vlan'" in err


def test_render_shows_secrets_as_stars(capsys: pytest.CaptureFixture[str]) -> None:
    """The example's admin password is `***` in render output, never sealed text or a marker."""
    code, out, _ = run(["render", str(EXAMPLE), "ber-plant-r01"], capsys)
    assert code == 0
    assert "administration.users[1].password=***" in out.splitlines()
    assert "⟦" not in out
    assert "rsb1:" not in out


def test_render_at_a_revision(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    """`render --rev` renders the committed state."""
    edit(repo, "devices/all.yaml", "vlan: 10", "vlan: 11")
    code, out, _ = run(["render", fleet_path(repo), "ber-r01", "--rev", "HEAD"], capsys)
    assert code == 0
    assert "interfaces.net1.vlan_id=10" in out.splitlines()


# --- diff --------------------------------------------------------------------------------------------------


def test_diff_between_two_commits(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    """`diff --base A --head B` shows the summary and per-device key changes; exit 0."""
    base = repo.git("rev-parse", "HEAD")
    edit(repo, "groups.yaml", "ntp.eu.example.net", "ntp2.eu.example.net")
    head = repo.commit({}, "new NTP server")
    edit(repo, "devices/all.yaml", "vlan: 10", "vlan: 12")  # working tree only: not part of base..head
    code, out, _ = run(["diff", fleet_path(repo), "--base", base, "--head", head], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == (f"diff {base[:10]} ({base}) -> {head[:10]} ({head}): 2 devices change (0 added, 0 removed, "
                        "2 changed), 1 unchanged")
    assert "~ ber-r01 (MRX5 LTE, template base)" in lines
    assert lines.count(
        "    ~ administration.time.ntp_server[1].server: ntp.eu.example.net -> ntp2.eu.example.net") == 2
    assert not any("vlan_id" in line for line in lines)


def test_diff_head_defaults_to_the_working_tree(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    """Without `--head`, the diff is from the base to the working tree."""
    edit(repo, "devices/all.yaml", "vlan: 10", "vlan: 12")
    code, out, _ = run(["diff", fleet_path(repo), "--base", "HEAD", "--format", "json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["head"] == "working tree"
    assert [(d["device"], d["config"]) for d in data["devices"]] == [
        ("ber-r01", [{"key": "interfaces.net1.vlan_id", "kind": "change", "old": "10", "new": "12"}])]


def test_diff_detailed_exitcode_is_0_without_and_2_with_changes(repo: GitRepo,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """`--detailed-exitcode`: 0 when nothing changes, 2 when devices change."""
    assert run(["diff", fleet_path(repo), "--base", "HEAD", "--detailed-exitcode"], capsys)[0] == 0
    edit(repo, "devices/all.yaml", "vlan: 10", "vlan: 12")
    assert run(["diff", fleet_path(repo), "--base", "HEAD", "--detailed-exitcode"], capsys)[0] == 2
    assert run(["diff", fleet_path(repo), "--base", "HEAD"], capsys)[0] == 0


def test_diff_markdown_is_a_pull_request_comment(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    """`--format markdown`: a heading, summary tables, and collapsed per-device blocks."""
    edit(repo, "devices/all.yaml", "vlan: 10", "vlan: 12")
    code, out, _ = run(["diff", fleet_path(repo), "--base", "HEAD", "--format", "markdown"], capsys)
    assert code == 0
    assert out.startswith("### reconciler diff: 1 device change (0 added, 0 removed, 1 changed), 2 unchanged\n")
    assert "| group | added | removed | changed |" in out
    assert "| europe | 0 | 0 | 1 |" in out
    assert "<details><summary><code>ber-r01</code> changed (MRX5 LTE, template base): 1 key</summary>" in out
    assert "! interfaces.net1.vlan_id: 10 -> 12" in out


SEALED_OLD = "rsb1:b2xkLXNlYWxlZC1hZG1pbi1wYXNzd29yZA=="
SEALED_NEW = "rsb1:bmV3LXNlYWxlZC1hZG1pbi1wYXNzd29yZA=="


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_diff_of_a_resealed_secret_shows_only_stars(git_repo: GitRepo, fmt: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A secret sealed anew changes the key, shown as `***` -> `***`: no sealed text, no marker, in any format."""
    files = with_sealed_admin_password(small_fleet(), SEALED_OLD)
    base = git_repo.commit(files)
    head = git_repo.commit({"secrets/admin.yaml": f'secrets:\n  adm: {{sealed: "{SEALED_NEW}"}}\n'})
    code, out, _ = run(["diff", str(git_repo.root), "--base", base, "--head", head, "--format", fmt], capsys)
    assert code == 0
    if fmt == "json":
        changes = [c for d in json.loads(out)["devices"] for c in d["config"]]
        assert changes == [{"key": "administration.users[1].password", "kind": "change", "old": "***",
                            "new": "***"}] * 3
    else:
        assert out.count("administration.users[1].password: *** -> ***") == 3
    assert SEALED_OLD not in out
    assert SEALED_NEW not in out
    assert "⟦" not in out


def test_diff_with_an_invalid_head_exits_1(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    """A head with validation errors has no diff: exit 1 and its errors."""
    edit(repo, "devices/all.yaml", "vlan: 10", "vlan: ten")
    code, _, err = run(["diff", fleet_path(repo), "--base", "HEAD", "--detailed-exitcode"], capsys)
    assert code == 1
    assert "[field-type]" in err


def test_diff_with_an_unknown_base_exits_1(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    """A base git does not know: exit 1."""
    code, _, err = run(["diff", fleet_path(repo), "--base", "origin/nope"], capsys)
    assert code == 1
    assert "unknown revision 'origin/nope'" in err


def test_diff_against_a_base_without_the_fleet_shows_every_device_added(
        git_repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    """The pull request that adds the fleet: the base has none, so every device is added (changes: 2)."""
    before = git_repo.commit({"README.md": "a project without a fleet yet\n"})
    git_repo.commit({f"{SUBDIR}/{path}": content for path, content in small_fleet().items()})
    code, out, err = run(["diff", str(git_repo.root / SUBDIR), "--base", before, "--detailed-exitcode"], capsys)
    assert code == 2
    assert "3 devices change (3 added, 0 removed, 0 changed), 0 unchanged" in out
    assert "every device counts as added" in err


def test_diff_of_a_head_without_the_fleet_exits_1_not_2(git_repo: GitRepo,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """An error is exit 1: with `--detailed-exitcode`, 2 would tell CI "devices change"."""
    git_repo.commit({"README.md": "a project without a fleet\n"})
    code, out, err = run(["diff", str(git_repo.root), "--base", "HEAD", "--detailed-exitcode"], capsys)
    assert code == 1
    assert out == ""
    assert "is not a fleet repository: no fleet.yaml" in err


def test_plan_of_a_path_without_a_fleet_exits_1_not_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`plan --detailed-exitcode` on a directory that is not a fleet: an error (1), not "changes" (2)."""
    observed = tmp_path / "observed.json"
    observed.write_text(json.dumps(observed_snapshot()), encoding="utf-8")
    code, _, err = run(["plan", str(tmp_path), "--observed", str(observed), "--detailed-exitcode"], capsys)
    assert code == 1
    assert "is not a fleet repository: no fleet.yaml" in err


# --- plan --------------------------------------------------------------------------------------------------


def observed_snapshot(drift_vlan: str | None = None) -> dict[str, Any]:
    """A snapshot in which every device of the small fleet runs its desired state (ber-r01's vlan may drift)."""
    result = build(small_fleet())
    assert result.fleet is not None and result.templates is not None
    renderer = Renderer(result.fleet, result.templates)
    devices = []
    for name, device in result.fleet.devices.items():
        state = renderer.render(device)
        assert isinstance(state, DesiredState)
        config = dict(state.parsed().values)
        if name == "ber-r01" and drift_vlan is not None:
            config["interfaces.net1.vlan_id"] = drift_vlan
        devices.append({"serial": device.serial, "name": name, "model": device.model, "firmware": "10.6",
                        "online": True, "last_seen": "2026-11-21T09:29:58Z", "config": config})
    return {"format": "reconciler/observed-v1", "taken_at": "2026-11-21T09:30:00Z", "devices": devices}


def test_plan_saves_a_plan_with_revision_and_observed_hashes(repo: GitRepo, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """`plan --observed F --rev R --out plan.json`: the saved plan records R and each router's state hash."""
    snapshot = observed_snapshot(drift_vlan="99")
    observed = tmp_path / "observed.json"
    observed.write_text(json.dumps(snapshot), encoding="utf-8")
    out_file = tmp_path / "out" / "plan.json"
    head = repo.git("rev-parse", "HEAD")
    code, out, err = run(["plan", fleet_path(repo), "--observed", str(observed), "--rev", "HEAD",
                          "--out", str(out_file)], capsys)
    assert code == 0
    assert err == f"plan saved to {out_file}\n"
    assert "~ ber-r01 [changes] (MRX5 LTE, serial 24130001)" in out.splitlines()
    saved = json.loads(out_file.read_text(encoding="utf-8"))
    assert saved["format"] == "reconciler/plan-v1"
    assert saved["revision"] == head
    expected = {d["serial"]: ObservedDevice.model_validate(d).state_hash() for d in snapshot["devices"]}
    assert {d["serial"]: d["observed_hash"] for d in saved["devices"]} == expected
    assert [(d["device"], d["status"]) for d in saved["devices"]] == [
        ("ber-r01", "changes"), ("ber-r02", "in-sync"), ("nwk-r01", "in-sync")]


def test_plan_detailed_exitcode_is_0_in_sync_and_2_with_actions(repo: GitRepo, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """`plan --detailed-exitcode`: 0 when every router is in sync, 2 when there is something to do."""
    observed = tmp_path / "observed.json"
    observed.write_text(json.dumps(observed_snapshot()), encoding="utf-8")
    argv = ["plan", fleet_path(repo), "--observed", str(observed), "--detailed-exitcode"]
    assert run(argv, capsys)[0] == 0
    observed.write_text(json.dumps(observed_snapshot(drift_vlan="99")), encoding="utf-8")
    code, out, _ = run([*argv, "--format", "json"], capsys)
    assert code == 2
    assert json.loads(out)["counts"] == {"changes": 1, "in-sync": 2}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"format": "reconciler/observed-v1", "devices": []}', ".taken_at: Field required"),
        ('{"format": "reconciler/observed-v1", "taken_at": "2026-11-21T09:30:00Z", "devices": [{"serial": "1", '
         '"online": "maybe"}]}', ".devices[0].online: Input should be a valid boolean"),
    ],
    ids=["not-json", "missing-key", "wrong-type"],
)
def test_plan_with_a_bad_snapshot_exits_1_saying_what_and_where(repo: GitRepo, tmp_path: Path, content: str,
                                                                message: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A snapshot that cannot be used: exit 1, a message naming the file and the problem."""
    observed = tmp_path / "observed.json"
    observed.write_text(content, encoding="utf-8")
    code, out, err = run(["plan", fleet_path(repo), "--observed", str(observed)], capsys)
    assert code == 1
    assert out == ""
    assert err.startswith(f"reconciler: error: {observed}: ")
    assert message in err


def test_plan_with_a_missing_snapshot_exits_1(repo: GitRepo, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A snapshot file that does not exist: exit 1 and a message."""
    code, _, err = run(["plan", fleet_path(repo), "--observed", str(tmp_path / "nope.json")], capsys)
    assert code == 1
    assert err.startswith(f"reconciler: error: cannot read the observed state {tmp_path / 'nope.json'}")


# --- schema ------------------------------------------------------------------------------------------------


def test_schema_writes_every_schema_to_the_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`schema --out DIR` writes one JSON Schema per file kind plus the snapshot's; exit 0."""
    target = tmp_path / "schemas"
    code, out, _ = run(["schema", "--out", str(target)], capsys)
    assert code == 0
    names = sorted(path.name for path in target.iterdir())
    assert names == sorted(json_schemas())
    assert {"fleet.schema.json", "devices.schema.json", "groups.schema.json", "template.schema.json",
            "observed.schema.json"} <= set(names)
    assert out.splitlines() == [f"wrote {target / name}" for name in json_schemas()]
    for name in names:
        body = json.loads((target / name).read_text(encoding="utf-8"))
        assert body["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_checked_in_schemas_are_up_to_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """schemas/ holds exactly what `reconciler schema` generates now."""
    assert main(["schema", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    generated = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    checked_in = {path.name: path.read_bytes() for path in (PROJECT / "schemas").iterdir()}
    stale = sorted(name for name in generated.keys() | checked_in.keys()
                   if generated.get(name) != checked_in.get(name))
    assert not stale, f"schemas/ is stale ({', '.join(stale)}): run `make schemas` and commit the result"


# --- a real process ----------------------------------------------------------------------------------------


def test_console_script_exit_codes_in_a_real_process(tmp_path: Path) -> None:
    """The installed `reconciler` exits 0 on the example, 1 on an invalid fleet, 2 on a non-fleet."""
    invalid = small_fleet()
    invalid["devices/all.yaml"] = invalid["devices/all.yaml"].replace("vlan: 10", "vlan: ten")
    root = write_tree(tmp_path / "invalid", invalid)
    outcomes = {
        name: subprocess.run([str(RECONCILER), "validate", str(path)], capture_output=True, text=True, check=False)
        for name, path in (("example", EXAMPLE), ("invalid", root), ("empty", tmp_path))
    }
    assert {name: result.returncode for name, result in outcomes.items()} == {"example": 0, "invalid": 1, "empty": 2}
    assert "[field-type]" in outcomes["invalid"].stdout
    assert outcomes["empty"].stderr == f"reconciler: error: {tmp_path} is not a fleet repository: no fleet.yaml\n"


def test_python_dash_m_reconciler_works(tmp_path: Path) -> None:
    """`python -m reconciler` is the same program."""
    result = subprocess.run([sys.executable, "-m", "reconciler", "validate", str(EXAMPLE), "--format", "json"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert json.loads(result.stdout)["valid"] is True
