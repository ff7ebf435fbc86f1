"""The options reaching the routers come from one table: the same flags on every command that takes them, the same
keys in serve's file and the live commands', one variable each; precedence and errors are the same everywhere."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from reconciler import options as declared
from reconciler.app import settings
from reconciler.app.sessions import LiveOptions
from reconciler.cli.arguments import build_parser, every_parser
from reconciler.daemon.config import DAEMON_KEYS, load_config
from reconciler.errors import ConfigError
from tests.conftest import PROJECT, run_cli, small_fleet, write_tree

# A good value of each kind: as written in the file, as a variable's text, and what it means (None: the file's
# path made relative to the file).
SAMPLES: dict[Any, tuple[object, str, object]] = {
    declared.url: ("http://127.0.0.1:9443", "http://127.0.0.1:9443", "http://127.0.0.1:9443"),
    declared.path: ("keys/thing", "keys/thing", None),
    declared.count: (7, "7", 7),
    declared.seconds: ("2m", "2m", 120.0),
    declared.switch: (True, "yes", True),
}


def _arguments(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {flag: action for action in parser._actions for flag in action.option_strings}


def test_every_option_is_on_the_live_commands_and_serve_as_the_table_says() -> None:
    """observe, plan, apply and serve have every option with the table's flag, metavar and help (hidden ones
    hidden), and --config; audit and token take the data directory and --config, and no other option of it."""
    parsers = {parser.prog: parser for parser in every_parser(build_parser())}
    for command in ("observe", "plan", "apply", "serve"):
        arguments = _arguments(parsers[f"reconciler {command}"])
        for option in declared.OPTIONS:
            action = arguments[option.flag]
            assert action.dest == option.key
            assert action.help == (argparse.SUPPRESS if option.hidden else option.help)
            assert action.metavar == option.metavar
        assert "--config" in arguments
    for command in ("audit", "token create", "token list", "token revoke"):
        arguments = _arguments(parsers[f"reconciler {command}"])
        assert {option.flag for option in declared.OPTIONS} & set(arguments) == {"--data-dir"}
        assert "--config" in arguments


def test_every_option_is_a_field_of_live_options_with_the_tables_default() -> None:
    """LiveOptions has one field per option, in the table's order, with its default; no daemon key shadows one."""
    fields = dataclasses.fields(LiveOptions)
    assert [field.name for field in fields] == [option.key for option in declared.OPTIONS]
    assert [field.default for field in fields] == [option.default for option in declared.OPTIONS]
    assert not DAEMON_KEYS & set(declared.BY_KEY)


@pytest.mark.parametrize("option", declared.OPTIONS, ids=lambda option: option.key)
def test_every_option_is_a_key_of_the_settings_file_and_a_variable(option: declared.Option[Any],
                                                                    tmp_path: Path) -> None:
    """Each option read from the file (by the live commands and by serve) and from its variable means the same."""
    written, text, meant = SAMPLES[option.parse]
    file = tmp_path / "etc" / "reconciler.yaml"
    file.parent.mkdir()
    file.write_text(f"source: .\n{option.key}: {written!r}\n".replace("True", "true"))
    from_file = file.parent / "keys/thing" if meant is None else meant
    assert getattr(settings.live_options({}, file, {}, DAEMON_KEYS), option.key) == from_file
    assert getattr(load_config(file, {}, {}).options, option.key) == from_file
    from_variable = Path(text) if meant is None else meant
    assert getattr(settings.live_options({}, None, {option.variable: text}, DAEMON_KEYS), option.key) == from_variable
    assert getattr(load_config(None, {"source": "."}, {option.variable: text}).options, option.key) == from_variable


def test_the_command_line_wins_over_the_environment_which_wins_over_the_file(tmp_path: Path) -> None:
    """For the live commands and for serve alike: flag > RECONCILER_* variable > file > the table's default."""
    file = tmp_path / "reconciler.yaml"
    file.write_text("source: .\nmax_parallel: 3\ndata_dir: from-file\n")
    environment = {"RECONCILER_MAX_PARALLEL": "5", "RECONCILER_CONFIG": str(file)}
    cases: list[tuple[dict[str, Any], dict[str, str], tuple[int | None, Path]]] = [
        ({}, {}, (None, Path(".reconciler"))),
        ({}, {"RECONCILER_CONFIG": str(file)}, (3, tmp_path / "from-file")),
        ({}, environment, (5, tmp_path / "from-file")),
        ({"max_parallel": 7, "data_dir": Path("flag")}, environment, (7, Path("flag"))),
    ]
    for given, environ, expected in cases:
        live = settings.live_options(given, None, environ, DAEMON_KEYS)
        served = load_config(None, {"source": ".", **given}, environ).options
        assert (live.max_parallel, live.data_dir) == expected
        assert (served.max_parallel, served.data_dir) == expected


def test_a_bad_or_unknown_key_in_the_file_is_an_error_at_its_position_and_nothing_runs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A live command reports a wrong value and an unknown key with file:line:col, leaves serve's keys alone (even a
    wrong one, serve's to report), exits 2 and makes no store; serve reports all three."""
    fleet = write_tree(tmp_path / "fleet", small_fleet())
    file = tmp_path / "reconciler.yaml"
    file.write_text(f"source: {fleet}\nlisten: nowhere\nmax_parallel: lots\ndata_dir: store\nbogus: 1\n")
    code, _, err = run_cli(["observe", str(fleet), "--config", str(file)], capsys)
    assert code == 2
    assert f"{file}:3:1: max_parallel: expected a whole number from 1 to 10000, not 'lots'" in err
    assert f"{file}:5:1: bogus: not a setting" in err
    assert "listen" not in err
    assert not (tmp_path / "store").exists()
    with pytest.raises(ConfigError) as error:
        load_config(file, {}, {})
    assert f"{file}:2:1: listen: Value error, expected HOST:PORT" in str(error.value)
    assert f"{file}:3:1: max_parallel:" in str(error.value) and f"{file}:5:1: bogus:" in str(error.value)


def test_a_bad_variable_is_an_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A wrong RECONCILER_* value, or a RECONCILER_CONFIG naming no file, is an exit-2 error that names the variable;
    a wrong flag value is a usage error naming the flag."""
    fleet = write_tree(tmp_path / "fleet", small_fleet())
    monkeypatch.setenv("RECONCILER_CONNECT_TIMEOUT", "soon")
    for argv in (["apply", str(fleet), "--yes"], ["serve", str(fleet)], ["audit"]):
        code, _, err = run_cli(argv, capsys)
        assert code == 2
        assert "RECONCILER_CONNECT_TIMEOUT (in the environment): expected a positive duration" in err
    monkeypatch.delenv("RECONCILER_CONNECT_TIMEOUT")
    monkeypatch.setenv("RECONCILER_CONFIG", str(tmp_path / "missing.yaml"))
    code, _, err = run_cli(["plan", str(fleet), "--live"], capsys)
    assert code == 2 and "missing.yaml" in err and "(named by RECONCILER_CONFIG)" in err
    code, _, err = run_cli(["apply", str(fleet), "--max-parallel", "0"], capsys)
    assert code == 2 and "argument --max-parallel: expected a whole number from 1 to 10000, not '0'" in err


def test_the_reference_lists_every_option_with_its_key_flag_and_variable() -> None:
    """docs/daemon.md's table of shared options has a row for every option the help shows."""
    rows = [line for line in (PROJECT / "docs" / "daemon.md").read_text().splitlines() if line.startswith("| `")]
    for option in declared.OPTIONS:
        found = [row for row in rows if row.startswith(f"| `{option.key}` | `{option.flag}` | `{option.variable}` |")]
        assert len(found) == (0 if option.hidden else 1), option.key
