"""`reconciler secret keygen` and `secret seal`: key pairs, sealed values bound to their name, clear errors."""

from __future__ import annotations

import io
import stat
import sys
from pathlib import Path

import pytest

from reconciler.errors import SecretError
from reconciler.shell import sealing
from tests.conftest import run_cli as run
from tests.conftest import small_fleet, write_tree

PRIVATE_PREFIX = "private key (keep it off git): "
PUBLIC_PREFIX = "public key (fleet.yaml sealing_key): "



def keygen(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """A fresh key pair from `secret keygen` (private, public)."""
    code, out, _ = run(["secret", "keygen"], capsys)
    assert code == 0
    private_line, public_line = out.splitlines()
    return private_line.removeprefix(PRIVATE_PREFIX), public_line.removeprefix(PUBLIC_PREFIX)


def fleet_with_key(tmp_path: Path, public: str | None) -> Path:
    files = small_fleet()
    if public is not None:
        files["fleet.yaml"] += f"sealing_key: {public}\n"
    return write_tree(tmp_path / "fleet", files)


def seal(fleet: Path, name: str, value: str, monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(value))
    return run(["secret", "seal", name, "--fleet", str(fleet)], capsys)


# --- keygen -------------------------------------------------------------------------------------------------------


def test_keygen_prints_a_matching_key_pair(capsys: pytest.CaptureFixture[str]) -> None:
    """Without `--out`: two labelled lines, a private key and the public key that belongs to it."""
    code, out, err = run(["secret", "keygen"], capsys)
    assert (code, err) == (0, "")
    private_line, public_line = out.splitlines()
    assert private_line.startswith(PRIVATE_PREFIX)
    assert public_line.startswith(PUBLIC_PREFIX)
    private, public = private_line.removeprefix(PRIVATE_PREFIX), public_line.removeprefix(PUBLIC_PREFIX)
    assert sealing.public_key_of(private) == public


def test_keygen_makes_a_new_pair_each_time(capsys: pytest.CaptureFixture[str]) -> None:
    """Two runs, two different key pairs."""
    assert keygen(capsys) != keygen(capsys)


def test_keygen_out_writes_the_private_key_with_mode_600(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With `--out FILE`: the private key goes to FILE (mode 600), only the public key to stdout, a note to stderr."""
    key_file = tmp_path / "keys" / "fleet.key"
    code, out, err = run(["secret", "keygen", "--out", str(key_file)], capsys)
    assert code == 0
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    private = key_file.read_text(encoding="utf-8").strip()
    assert out == f"{sealing.public_key_of(private)}\n"
    assert private not in out + err
    assert err == (f"private key written to {key_file} (mode 600); put the public key above into fleet.yaml as "
                   "sealing_key\n")


def test_keygen_out_to_a_directory_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A key file that cannot be written is an error (exit 1) naming it, and no key is printed."""
    code, out, err = run(["secret", "keygen", "--out", str(tmp_path)], capsys)
    assert (code, out) == (1, "")
    assert err == f"reconciler: error: cannot write {tmp_path}: Is a directory\n"


# --- seal --------------------------------------------------------------------------------------------------------


def test_a_sealed_value_unseals_with_the_private_key_and_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """`secret seal NAME` seals stdin (without its final newline) to the fleet's sealing_key, bound to NAME."""
    private, public = keygen(capsys)
    code, out, err = seal(fleet_with_key(tmp_path, public), "ber-admin", "s3cret value\n", monkeypatch, capsys)
    assert code == 0
    sealed = out.strip()
    assert out == f"{sealed}\n"
    assert sealed.startswith("rsb1:")
    assert "s3cret" not in sealed
    assert err == "add it to secrets/*.yaml as:  ber-admin: {sealed: <the line above>}\n"
    assert sealing.unseal(private, "ber-admin", sealed) == "s3cret value"


def test_a_sealed_value_does_not_unseal_under_another_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Copying a sealed value to another secret's name makes it unusable."""
    private, public = keygen(capsys)
    _, out, _ = seal(fleet_with_key(tmp_path, public), "ber-admin", "s3cret", monkeypatch, capsys)
    with pytest.raises(SecretError, match="cannot unseal"):
        sealing.unseal(private, "ham-admin", out.strip())


def test_a_sealed_value_does_not_unseal_with_another_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Only the private key of the fleet's sealing_key opens a sealed value."""
    _, public = keygen(capsys)
    other_private, _ = keygen(capsys)
    _, out, _ = seal(fleet_with_key(tmp_path, public), "ber-admin", "s3cret", monkeypatch, capsys)
    with pytest.raises(SecretError, match="cannot unseal"):
        sealing.unseal(other_private, "ber-admin", out.strip())


def test_sealing_one_value_twice_gives_different_sealed_texts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Sealing is randomized: the same value sealed twice differs (so a diff shows a re-sealed secret)."""
    private, public = keygen(capsys)
    fleet = fleet_with_key(tmp_path, public)
    first = seal(fleet, "adm", "same", monkeypatch, capsys)[1].strip()
    second = seal(fleet, "adm", "same", monkeypatch, capsys)[1].strip()
    assert first != second
    assert sealing.unseal(private, "adm", first) == sealing.unseal(private, "adm", second) == "same"


def test_a_sealed_value_in_the_fleet_validates_and_renders_as_stars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The sealed line, added to secrets/*.yaml and referenced with `!secret`, makes a valid fleet that shows `***`."""
    _, public = keygen(capsys)
    fleet = fleet_with_key(tmp_path, public)
    sealed = seal(fleet, "apn-user", "m2m-user", monkeypatch, capsys)[1].strip()
    write_tree(fleet, {
        "secrets/apn.yaml": f'secrets:\n  apn-user: {{sealed: "{sealed}"}}\n',
        "templates/base.yaml": small_fleet()["templates/base.yaml"] + "  apn_user: {type: secret, required: false}\n",
        "templates/base.j2": small_fleet()["templates/base.j2"]
        + "{% if apn_user is defined %}\ninterfaces.wwan1.password={{ apn_user }}\n{% endif %}\n",
        "devices/all.yaml": small_fleet()["devices/all.yaml"].replace("vlan: 10}",
                                                                      "vlan: 10, apn_user: !secret apn-user}"),
    })
    code, out, _ = run(["validate", str(fleet)], capsys)
    assert (code, out) == (0, f"valid ({fleet} at working tree, 3 devices): 0 errors, 0 warnings\n")
    code, out, _ = run(["render", str(fleet), "ber-r01"], capsys)
    assert code == 0
    assert "interfaces.wwan1.password=***" in out.splitlines()
    assert sealed not in out
    assert "m2m-user" not in out


def test_sealing_for_a_fleet_without_a_sealing_key_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """No `sealing_key` in fleet.yaml: exit 1, saying so and how to make one; nothing on stdout."""
    fleet = fleet_with_key(tmp_path, None)
    code, out, err = seal(fleet, "adm", "s3cret", monkeypatch, capsys)
    assert (code, out) == (1, "")
    assert err == (f"reconciler: error: {fleet / 'fleet.yaml'} has no sealing_key: create one with "
                   "`reconciler secret keygen`\n")


def test_sealing_for_a_path_without_a_fleet_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A `--fleet` directory without fleet.yaml: exit 1 naming the file it could not read."""
    code, out, err = seal(tmp_path, "adm", "s3cret", monkeypatch, capsys)
    assert (code, out) == (1, "")
    assert err.startswith(f"reconciler: error: cannot read {tmp_path / 'fleet.yaml'}: ")


def test_sealing_nothing_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """An empty stdin (or just a newline) is not a value: exit 1 and a hint."""
    _, public = keygen(capsys)
    fleet = fleet_with_key(tmp_path, public)
    for value in ("", "\n"):
        code, out, err = seal(fleet, "adm", value, monkeypatch, capsys)
        assert (code, out) == (1, "")
        assert err == "reconciler: error: nothing to seal: pass the value on stdin\n"
