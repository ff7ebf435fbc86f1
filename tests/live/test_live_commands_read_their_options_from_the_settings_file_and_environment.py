"""`observe`, `plan --live`, `apply` and `audit` take the options reaching the routers from serve's settings file
and from RECONCILER_* variables, against a real simulator: the command line wins, then the environment, then the
file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import run_cli as run
from tests.live.conftest import LiveFleet, Simulator
from tests.live.test_apply import outcomes

Start = Callable[..., Simulator]
Make = Callable[..., LiveFleet]
CONVERGED = {"ber-r01": "converged", "ber-r02": "converged", "nwk-r01": "converged"}
NOBODY = "http://127.0.0.1:9"  # the discard port: nothing answers there


def settings_file(folder: Path, fleet: LiveFleet, url: str) -> Path:
    """serve's file with the router options, paths relative to it, and daemon-only keys the live commands ignore."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "credentials.yaml").write_bytes(fleet.credentials.read_bytes())
    (folder / "keys").mkdir(exist_ok=True)
    (folder / "keys" / "sealing.key").write_bytes(fleet.key_file.read_bytes())
    file = folder / "reconciler.yaml"
    file.write_text(f"source: {fleet.root}\nlisten: 0.0.0.0:8080\npoll: 5m\nwebhooks: {{secret_env: HOOK}}\n"
                    f"http: {{max_connections: 64}}\nsimulator: {url}\ndata_dir: state\n"
                    "credentials: credentials.yaml\nsecrets_key: keys/sealing.key\nmax_parallel: 2\n"
                    "poll_interval: 0.05\nretry_backoff: 0.01\n")
    return file


def test_observe_plan_apply_and_audit_read_the_settings_file_with_paths_relative_to_it(
        live_fleet: Make, simulator: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """With only `--config`, the commands reach the simulated routers with the file's logins and key, and keep
    their store in the file's data directory (relative to the file), not in the working directory."""
    fleet = live_fleet()
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.2")
    config = settings_file(tmp_path / "etc", fleet, sim.url)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["apply", str(fleet.root), "--yes", "--config", str(config)], capsys)
    assert code == 0, err
    assert outcomes(out) == CONVERGED  # rendering the sealed admin password needed the file's key
    # the routers now take only the fleet's sealed password: logging in again needs the key, not the factory login
    code, out, _ = run(["plan", str(fleet.root), "--live", "--detailed-exitcode", "--config", str(config)], capsys)
    assert code == 0 and "0 devices to change (3 in-sync)" in out
    code, out, _ = run(["observe", str(fleet.root), "--config", str(config)], capsys)
    assert code == 0
    assert {device["firmware"] for device in json.loads(out)["devices"]} == {"10.6"}
    code, out, _ = run(["audit", "--config", str(config)], capsys)
    assert code == 0 and " apply " in out
    assert (tmp_path / "etc" / "state" / "state.sqlite3").is_file()
    assert not (tmp_path / ".reconciler").exists()


def test_the_commands_read_reconciler_variables_without_any_option(
        live_fleet: Make, simulator: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """RECONCILER_SIMULATOR, _DATA_DIR, _CREDENTIALS, _SECRETS_KEY_FILE (and the test knobs) alone are enough."""
    fleet = live_fleet()
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.2")
    for name, value in (("SIMULATOR", sim.url), ("DATA_DIR", str(tmp_path / "from-env")),
                        ("CREDENTIALS", str(fleet.credentials)), ("SECRETS_KEY_FILE", str(fleet.key_file)),
                        ("POLL_INTERVAL", "0.05"), ("RETRY_BACKOFF", "0.01")):
        monkeypatch.setenv(f"RECONCILER_{name}", value)
    code, out, err = run(["apply", str(fleet.root), "--yes"], capsys)
    assert code == 0, err
    assert outcomes(out) == CONVERGED
    code, out, _ = run(["plan", str(fleet.root), "--live", "--detailed-exitcode"], capsys)
    assert code == 0 and "0 devices to change (3 in-sync)" in out
    assert (tmp_path / "from-env" / "state.sqlite3").is_file()


def test_the_command_line_wins_over_the_environment_which_wins_over_the_file(
        live_fleet: Make, simulator: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The file (named by RECONCILER_CONFIG) points at a dead simulator and its own store; the environment's
    simulator is used, and the command line's data directory over both others."""
    fleet = live_fleet()
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.2")
    config = settings_file(tmp_path / "etc", fleet, NOBODY)
    monkeypatch.setenv("RECONCILER_CONFIG", str(config))
    monkeypatch.setenv("RECONCILER_SIMULATOR", sim.url)
    monkeypatch.setenv("RECONCILER_DATA_DIR", str(tmp_path / "from-env"))
    code, out, err = run(["apply", str(fleet.root), "--yes", "--data-dir", str(tmp_path / "from-flag")], capsys)
    assert code == 0, err
    assert outcomes(out) == CONVERGED  # not unreachable: the file's dead URL lost to the environment's
    assert (tmp_path / "from-flag" / "state.sqlite3").is_file()
    assert not (tmp_path / "from-env").exists() and not (tmp_path / "etc" / "state").exists()
    monkeypatch.delenv("RECONCILER_SIMULATOR")
    code, out, _ = run(["observe", str(fleet.root), "--data-dir", str(tmp_path / "from-flag")], capsys)
    assert code == 0  # the file's simulator now: nobody answers
    assert {device["online"] for device in json.loads(out)["devices"]} == {False}
