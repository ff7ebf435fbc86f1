"""A sealed value may only be rendered into a secret-valued key: anywhere else the device does not render,
and validate says so at the template line that wrote it (file:line:col)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli as run
from tests.conftest import small_fleet, with_sealed_admin_password, write_tree

SEALED = "rsb1:c2VhbGVkLWFkbWluLXBhc3N3b3JkLWZvci10ZXN0cw"
BASE_LINES = len(small_fleet()["templates/base.j2"].splitlines()) + 1  # the base template with the password line
MESSAGE = ("devices 'ber-r01', 'ber-r02', 'nwk-r01': the sealed value of admin_password is rendered into "
           "administration.hostnames.location, which is not a secret-valued key: routers report it back in clear. "
           "A sealed value may only go into credential keys (password, psk, pin, private_key, …) or keys of "
           "management.secret_keys [secret-in-plain-key]")


def fleet(tmp_path: Path, template_tail: str = "", extra: dict[str, str] | None = None) -> Path:
    """The small fleet with a sealed `admin_password` in its password key, plus `template_tail` in base.j2."""
    files = with_sealed_admin_password(small_fleet(), SEALED)
    files["templates/base.j2"] += template_tail
    return write_tree(tmp_path / "fleet", {**files, **(extra or {})})


def test_a_secret_in_the_location_is_an_error_at_the_template_line(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """`location={{ admin_password }}` is refused at base.j2's line of it, for every device, exit 1."""
    root = fleet(tmp_path, "administration.hostnames.location={{ admin_password }}\n")
    code, out, _ = run(["validate", str(root)], capsys)
    assert code == 1
    assert out.splitlines()[0] == f"templates/base.j2:{BASE_LINES + 1}:1: error: {MESSAGE}"


def test_a_secret_passed_through_a_macro_is_reported_where_the_macro_writes_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A macro of templates/lib/ that writes its argument into a plain key: the macro's line, not the call's."""
    lib = "{# where a router is #}\n{% macro place(text) %}\nadministration.hostnames.location={{ text }}\n" \
          "{% endmacro %}\n"
    root = fleet(tmp_path, '{% import "lib/places.j2" as places %}\n{{ places.place(admin_password) }}\n',
                 {"templates/lib/places.j2": lib})
    code, out, _ = run(["validate", str(root)], capsys)
    assert code == 1
    assert out.splitlines()[0] == f"templates/lib/places.j2:3:1: error: {MESSAGE}"


@pytest.mark.parametrize("tail", [
    '{% set where = "plant " ~ admin_password %}\nadministration.hostnames.contact=ops\n'
    "administration.hostnames.location={{ where }}\n",
    'administration.hostnames.location={{ [admin_password, "x"] | join(",") }}\n',
])
def test_a_secret_first_turned_into_text_is_reported_where_that_happened(tail: str, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Through `{% set %}` or a filter: the line where the secret became text."""
    root = fleet(tmp_path, tail)
    code, out, _ = run(["validate", str(root)], capsys)
    assert code == 1
    assert out.splitlines()[0].startswith(f"templates/base.j2:{BASE_LINES + 1}:1: error: devices 'ber-r01'")
    assert "administration.hostnames.location" in out


def test_a_secret_in_a_comment_or_a_key_set_again_is_refused(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Apply unseals every marker of the text: one in a comment line, or overwritten further down, is refused."""
    tail = ("# the password is {{ admin_password }}\n"
            "administration.hostnames.location={{ admin_password }}\nadministration.hostnames.location=x\n")
    code, out, _ = run(["validate", str(fleet(tmp_path, tail))], capsys)
    assert code == 1
    assert out.splitlines()[0].startswith(f"templates/base.j2:{BASE_LINES + 1}:1: error: devices 'ber-r01', "
                                          "'ber-r02', 'nwk-r01': the sealed value of admin_password is rendered "
                                          "outside any key=value")


def test_a_marker_typed_into_a_template_is_refused_at_its_line(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Someone who cannot read a secret writes its marker into a plain key: apply would fill it in; refused."""
    root = fleet(tmp_path, "administration.hostnames.contact=ops\n"
                           "administration.hostnames.location=⟦secret:adm@000000000001⟧\n")
    code, out, _ = run(["validate", str(root)], capsys)
    assert code == 1
    assert out.splitlines()[0].startswith(f"templates/base.j2:{BASE_LINES + 2}:1: error: devices 'ber-r01', "
                                          "'ber-r02', 'nwk-r01': a secret marker written as text (secret 'adm') "
                                          "is rendered into administration.hostnames.location")


@pytest.mark.parametrize("line", [
    "interfaces.wwan1.sim_pin={{ admin_password }}",
    "ipsec.connection[1].psk={{ admin_password }}",
    "interfaces.dsl1.ppp_password={{ admin_password }}",
    "certs.own[1].private_key={{ admin_password }}",
])
def test_credential_keys_take_secrets(line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Keys named like a credential (password, psk, pin, private_key) are secret-valued: valid, shown as ***."""
    root = fleet(tmp_path, line + "\n")
    assert run(["validate", str(root)], capsys)[:2] == (0, f"valid ({root} at working tree, 3 devices): 0 errors, "
                                                           "0 warnings\n")
    code, out, _ = run(["render", str(root), "ber-r01"], capsys)
    assert code == 0
    assert line.replace("{{ admin_password }}", "***") in out.splitlines()


def test_a_fleet_declares_more_secret_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`management.secret_keys` globs make a key secret-valued; a key the globs miss is still refused."""
    tail = "interfaces.wwan1.apn_user={{ admin_password }}\nservices.snmp.v3[1].auth_user={{ admin_password }}\n"
    files = {"fleet.yaml": with_sealed_admin_password(small_fleet(), SEALED)["fleet.yaml"]
             + "management:\n  secret_keys: [interfaces.wwan1.apn_user]\n"}
    code, out, _ = run(["validate", str(fleet(tmp_path, tail, files))], capsys)
    assert code == 1
    assert "rendered into services.snmp.v3[1].auth_user, which is not a secret-valued key" in out
    assert "interfaces.wwan1.apn_user" not in out
    files["fleet.yaml"] = files["fleet.yaml"].replace("[interfaces.wwan1.apn_user]",
                                                      '[interfaces.wwan1.apn_user, "services.snmp.v3[*].auth_user"]')
    root = fleet(tmp_path, tail, files)
    assert run(["validate", str(root)], capsys)[0] == 0


def test_render_and_plan_refuse_the_device(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The device does not render: `render` exits 1 with the problem; a plan shows it invalid, with no action."""
    root = fleet(tmp_path, "administration.hostnames.location={{ admin_password }}\n")
    code, out, err = run(["render", str(root), "ber-r01"], capsys)
    assert code == 1
    assert "[secret-in-plain-key]" in out + err
    snapshot = tmp_path / "observed.json"
    snapshot.write_text(json.dumps({"format": "reconciler/observed-v1", "taken_at": "2026-11-21T09:30:00Z",
                                    "devices": [{"serial": "24130001", "model": "MRX5 LTE", "firmware": "10.6"}]}))
    code, out, _ = run(["plan", str(root), "--observed", str(snapshot), "--format", "json"], capsys)
    [device] = [d for d in json.loads(out)["devices"] if d["device"] == "ber-r01"]
    assert (device["status"], device["actions"]) == ("invalid", [])
