"""Start-up: help, version and usage errors answer without importing the application; every option is explained.

Speed itself is measured in bench/startup.py, never here; these tests pin what makes it fast (which
modules a small command imports) and what `--help` says.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli.arguments import build_parser, every_parser
from tests.conftest import PROJECT

LIBRARIES = ("aiohttp", "jinja2", "pydantic", "git", "yaml", "rich", "orjson", "cryptography")
APPLICATION = ("reconciler.app", "reconciler.core", "reconciler.shell", "reconciler.daemon", "reconciler.simulator")
REPORT = f"""
import atexit, json, sys
def report():
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in {LIBRARIES!r} or m.startswith({APPLICATION!r}))
    print(json.dumps(heavy), file=sys.stderr)
atexit.register(report)
"""
RUN = "import sys\nfrom reconciler.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def _probe(body: str, *argv: str) -> tuple[int, str, list[str]]:
    """Run `body` in a fresh interpreter: exit code, stdout, and the heavy modules imported by the end."""
    result = subprocess.run([sys.executable, "-c", REPORT + body, *argv], capture_output=True, text=True,
                            cwd=PROJECT, check=False, timeout=60)
    return result.returncode, result.stdout, json.loads(result.stderr.strip().splitlines()[-1])


def test_importing_the_command_line_imports_none_of_the_application() -> None:
    """`import reconciler.cli` loads no aiohttp, Jinja2, pydantic, GitPython, nor the application's modules."""
    code, _, heavy = _probe("import reconciler.cli\n")
    assert (code, heavy) == (0, [])


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["validate", "--help"], ["schema", "--help"],
                                  ["apply", "--help"], ["token", "create", "--help"], ["frobnicate"],
                                  ["validate", "--format", "xml"]])
def test_help_version_and_usage_errors_import_none_of_the_application(argv: list[str]) -> None:
    """Small commands answer from the parser alone: no heavy module is imported on the way."""
    code, out, heavy = _probe(RUN, *argv)
    assert heavy == []
    assert code == (2 if argv in (["frobnicate"], ["validate", "--format", "xml"]) else 0)
    assert out or code == 2


def test_simulate_help_lists_the_simulators_options() -> None:
    """The simulator's options, added only when `simulate` is the command, are in its help."""
    code, out, heavy = _probe(RUN, "simulate", "--help")
    assert code == 0
    assert "--fleet PATH" in out
    assert "--latency-ms" in out
    assert "aiohttp" in heavy  # the price of its options living with its server, paid only here


def test_a_command_that_runs_imports_what_it_needs(tmp_path: Path) -> None:
    """`schema` imports the application when it runs and writes every file kind's schema."""
    code, _, heavy = _probe(RUN, "schema", "--out", str(tmp_path))
    assert code == 0
    assert "pydantic" in heavy
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(path.name for path in
                                                                       (PROJECT / "schemas").iterdir())


def test_every_option_of_every_command_has_a_help_text() -> None:
    """No option or positional argument of any (sub)command is left unexplained in `--help`."""
    unexplained = [f"{parser.prog} {action.dest}" for parser in every_parser(build_parser())
                   for action in parser._actions
                   if action.help is None and not isinstance(action, argparse._SubParsersAction)]
    assert unexplained == []


def test_the_main_help_shows_examples_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    """`reconciler --help` ends with examples of the common commands and what the exit codes mean."""
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "examples:\n  reconciler validate ." in out
    assert "reconciler diff . --base origin/main" in out
    assert "130 interrupted" in out


@pytest.mark.parametrize(("argv", "expected"), [
    (["validate", "--format", "xml"], "reconciler validate: error: argument --format: invalid choice: 'xml'"),
    (["render", "a", "b", "c"], "reconciler render: error: expected [PATH] DEVICE"),
    (["token"], "reconciler token: error: the following arguments are required: ACTION"),
    (["frobnicate"], "reconciler: error: argument COMMAND: invalid choice: 'frobnicate'"),
])
def test_a_usage_error_names_its_command_once(argv: list[str], expected: str) -> None:
    """Usage errors say `reconciler CMD: error: ...` once, and point at that command's --help."""
    result = subprocess.run([sys.executable, "-m", "reconciler", *argv], capture_output=True, text=True,
                            check=False, timeout=60, cwd=PROJECT)
    assert result.returncode == 2
    assert result.stderr.startswith(expected)
    assert result.stderr.count("error:") == 1
    prog = expected.split(": error:", maxsplit=1)[0]
    assert result.stderr.rstrip().endswith(f"(see `{prog} --help`)")
