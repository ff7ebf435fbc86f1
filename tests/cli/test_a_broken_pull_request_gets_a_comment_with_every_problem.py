"""The pull-request workflow of docs/github-workflow.yml, run step by step on real git repositories.

A broken pull request gets a comment listing exactly the problems `validate` lists (render errors
included) and a failed check; a sound one gets the diff. The workflow's steps run in bash as
GitHub runs them (`-eo pipefail`); only `gh`, which needs GitHub, is a recording stand-in.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli.arguments import build_parser
from tests.conftest import EXAMPLE, PROJECT, GitRepo

WORKFLOW = PROJECT / "docs" / "github-workflow.yml"
CONTEXT = {"github.base_ref": "main", "github.event.number": "7", "github.token": "test-token"}
SHELL_OPERATORS = {">", ">>", "<", "|", "||", "&&", ";", "&"}
BREAKAGE = (  # a misspelt variable in a template (an undeclared field and a render error), a VLAN out of range
    ("templates/base.j2", "syslog_host, syslog_port)", "syslog_host, syslog_prot)"),
    ("groups.yaml", "dsl_vlan: 7", "dsl_vlan: 5000"),
)


def _steps() -> list[dict[str, Any]]:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    [job] = workflow["jobs"].values()
    return list(job["steps"])


def _step(name: str) -> dict[str, Any]:
    [step] = [step for step in _steps() if step.get("name") == name]
    return step


def _expand(text: str) -> str:
    """GitHub's `${{ expression }}` with this test's pull request (an unknown expression fails the test)."""
    return re.sub(r"\$\{\{\s*(.+?)\s*\}\}", lambda match: CONTEXT[match.group(1)], text)


def _reconciler_commands(script: str) -> list[list[str]]:
    """The argument lists of every `reconciler ...` command in a step's shell script."""
    lexer = shlex.shlex(_expand(script), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = []
    current: list[str] | None = None
    for token in lexer:
        if token in SHELL_OPERATORS:
            current = None
        elif current is None and token == "reconciler":
            current = []
            commands.append(current)
        elif current is not None:
            current.append(token)
    return commands


def test_every_reconciler_command_of_the_workflow_exists_with_its_flags() -> None:
    """Each `reconciler` command in the workflow parses: the command and every flag it passes exist."""
    commands = [command for step in _steps() if "run" in step for command in _reconciler_commands(step["run"])]
    assert [command[0] for command in commands] == ["diff", "validate"]
    for command in commands:
        build_parser().parse_args(command)  # raises (a usage error) for an unknown command or flag
    [diff] = [command for command in commands if command[0] == "diff"]
    assert {"--format", "markdown", "--detailed-exitcode"} <= set(diff)


def test_the_readme_shows_the_workflow_file() -> None:
    """The README's workflow is docs/github-workflow.yml, word for word."""
    assert WORKFLOW.read_text(encoding="utf-8") in (PROJECT / "README.md").read_text(encoding="utf-8")


def test_the_comment_is_posted_even_when_an_earlier_step_failed() -> None:
    """The comment and validate steps run after a failed diff step (a broken revision), unless cancelled."""
    assert _step("comment")["if"] == "${{ !cancelled() }}"
    assert _step("validate")["if"] == "${{ !cancelled() }}"


@dataclass
class PullRequest:
    """A fleet repository checked out as a pull request's CI sees it, with `origin/main` as its base."""

    repo: GitRepo
    stand_ins: Path
    posted: Path

    def run(self, step: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **{key: _expand(value) for key, value in step.get("env", {}).items()},
               "PATH": f"{self.stand_ins}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               "GH_RECORD": str(self.posted)}
        return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", _expand(step["run"])],
                              cwd=self.repo.root, env=env, capture_output=True, text=True, timeout=300, check=False)

    def posted_comment(self) -> str:
        arguments = json.loads(self.posted.read_text(encoding="utf-8"))
        assert arguments == ["pr", "comment", CONTEXT["github.event.number"], "--body-file", "diff.md"]
        return (self.repo.root / "diff.md").read_text(encoding="utf-8")


@pytest.fixture
def pull_request(tmp_path: Path) -> PullRequest:
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(origin)], check=True)
    repo = GitRepo(tmp_path / "fleet")
    shutil.copytree(EXAMPLE, repo.root, dirs_exist_ok=True)
    repo.commit({}, "the example fleet")
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "--quiet", "origin", "main")
    repo.git("fetch", "--quiet", "origin")
    repo.git("switch", "--quiet", "-c", "change")
    stand_ins = tmp_path / "bin"
    stand_ins.mkdir()
    gh = stand_ins / "gh"
    gh.write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                  "open(os.environ['GH_RECORD'], 'w').write(json.dumps(sys.argv[1:]))\n", encoding="utf-8")
    gh.chmod(0o755)
    return PullRequest(repo, stand_ins, tmp_path / "gh-calls.json")


def _change(repo: GitRepo, edits: tuple[tuple[str, str, str], ...]) -> None:
    for path, old, new in edits:
        target = repo.root / path
        text = target.read_text(encoding="utf-8")
        assert old in text
        target.write_text(text.replace(old, new, 1), encoding="utf-8")
    repo.commit({}, "the pull request's change")


def _problem_lines(markdown: str) -> list[str]:
    return markdown.split("```\n", 2)[1].splitlines()


def test_a_broken_pull_request_gets_a_comment_with_what_validate_lists_and_a_failed_check(
        pull_request: PullRequest) -> None:
    """Invalid head: the diff step fails, the comment lists validate's problems (same ones, same count)."""
    _change(pull_request.repo, BREAKAGE)
    diff = pull_request.run(_step("diff"))
    assert diff.returncode == 1, diff.stderr
    assert pull_request.run(_step("comment")).returncode == 0
    comment = pull_request.posted_comment()
    validate = pull_request.run(_step("validate"))
    assert validate.returncode == 1
    *problems, summary = validate.stdout.splitlines()
    assert _problem_lines(comment) == problems
    assert len(problems) == 4
    assert any(line.endswith("[render-error]") for line in problems)
    assert comment.rstrip().endswith(summary.split("): ", 1)[1])  # "4 errors, 0 warnings"


def test_a_sound_pull_request_gets_its_diff_as_a_comment(pull_request: PullRequest) -> None:
    """Valid head with changes: every step passes (exit 2 of --detailed-exitcode is fine), the diff is posted."""
    _change(pull_request.repo, (("groups.yaml", "dsl_vlan: 7", "dsl_vlan: 8"),))
    diff = pull_request.run(_step("diff"))
    assert diff.returncode == 0, diff.stderr
    assert pull_request.run(_step("comment")).returncode == 0
    comment = pull_request.posted_comment()
    assert comment.startswith("### reconciler diff: ")
    assert "<details>" in comment
    assert pull_request.run(_step("validate")).returncode == 0


@pytest.mark.parametrize("command", [["diff", "--base", "main"], ["plan", "--observed", ".demo/observed.json"]])
def test_markdown_of_an_invalid_revision_lists_what_validate_lists(pull_request: PullRequest,
                                                                   command: list[str]) -> None:
    """diff and plan in markdown show an invalid revision's problems exactly as validate lists them."""
    _change(pull_request.repo, BREAKAGE)
    reconciler = str(Path(sys.executable).parent / "reconciler")
    shown = subprocess.run([reconciler, *command, ".", "--format", "markdown"], cwd=pull_request.repo.root,
                           capture_output=True, text=True, check=False)
    validate = subprocess.run([reconciler, "validate", "."], cwd=pull_request.repo.root, capture_output=True,
                              text=True, check=False)
    assert (shown.returncode, validate.returncode) == (1, 1)
    assert _problem_lines(shown.stdout) == validate.stdout.splitlines()[:-1]
