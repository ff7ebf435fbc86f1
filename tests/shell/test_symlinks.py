"""Symbolic links in a fleet repository: reported as errors and never followed, in the tree and in git."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import GitRepo, small_fleet, write_tree
from tests.conftest import run_cli as run

SECRET_LINE = "interfaces.net1.description=CONTENT-FROM-OUTSIDE-THE-REPOSITORY"
LINK_ERROR = ("a symbolic link: the repository must hold regular files (a link could reach outside it); not read "
              "[symlink]")



def including_fleet() -> dict[str, str]:
    """The small fleet whose base template includes the library file templates/lib/extra.j2."""
    files = small_fleet()
    files["templates/base.j2"] = '{% include "lib/extra.j2" %}\n' + files["templates/base.j2"]
    return files


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A template-looking file outside any fleet repository."""
    target = tmp_path / "outside" / "extra.j2"
    target.parent.mkdir()
    target.write_text(SECRET_LINE + "\n", encoding="utf-8")
    return target


def test_a_symlinked_template_in_the_working_tree_is_an_error_and_not_read(
        tmp_path: Path, outside: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A library template that is a link to a file outside the repository: a `symlink` error; nothing renders it."""
    root = write_tree(tmp_path / "fleet", including_fleet())
    (root / "templates" / "lib").mkdir()
    (root / "templates" / "lib" / "extra.j2").symlink_to(outside)
    code, out, err = run(["validate", str(root)], capsys)
    assert code == 1
    assert f"templates/lib/extra.j2:1:1: error: {LINK_ERROR}" in out.splitlines()
    assert "CONTENT-FROM-OUTSIDE" not in out + err
    code, out, err = run(["render", str(root), "ber-r01"], capsys)
    assert code == 1
    assert "CONTENT-FROM-OUTSIDE" not in out + err


def test_a_symlinked_devices_file_is_an_error_and_its_devices_do_not_count(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """devices/more.yaml linking to devices/all.yaml is reported, not loaded (no duplicate devices)."""
    root = write_tree(tmp_path / "fleet", small_fleet())
    (root / "devices" / "more.yaml").symlink_to("all.yaml")
    code, out, _ = run(["validate", str(root)], capsys)
    assert code == 1
    assert out.splitlines() == [
        f"devices/more.yaml:1:1: error: {LINK_ERROR}",
        f"invalid ({root} at working tree, 3 devices): 1 error, 0 warnings",
    ]


def test_a_symlinked_directory_is_reported_and_not_entered(tmp_path: Path, outside: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """templates/lib linking to a directory outside: the link is an error; the files behind it are not read."""
    root = write_tree(tmp_path / "fleet", including_fleet())
    (root / "templates" / "lib").symlink_to(outside.parent, target_is_directory=True)
    code, out, err = run(["validate", str(root)], capsys)
    assert code == 1
    assert f"templates/lib:1:1: error: {LINK_ERROR}" in out.splitlines()
    assert "CONTENT-FROM-OUTSIDE" not in out + err


def test_a_symlink_committed_to_git_is_an_error_at_that_revision(
        git_repo: GitRepo, outside: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A link in a commit, read with `--rev`: a `symlink` error; validate and render never show its target."""
    git_repo.commit(including_fleet(), "the fleet")
    (git_repo.root / "templates" / "lib").mkdir()
    link = git_repo.root / "templates" / "lib" / "extra.j2"
    link.symlink_to(os.path.relpath(outside, link.parent))  # relative, as links in repositories usually are
    head = git_repo.commit({}, "a link")
    assert git_repo.git("ls-tree", "-r", head, "templates/lib").startswith("120000 ")
    code, out, err = run(["validate", str(git_repo.root), "--rev", "HEAD"], capsys)
    assert code == 1
    assert f"templates/lib/extra.j2:1:1: error: {LINK_ERROR}" in out.splitlines()
    assert "CONTENT-FROM-OUTSIDE" not in out + err
    code, out, err = run(["render", str(git_repo.root), "ber-r01", "--rev", "HEAD"], capsys)
    assert code == 1
    assert "CONTENT-FROM-OUTSIDE" not in out + err


def test_a_symlink_in_a_git_work_tree_is_an_error_before_it_is_committed(
        git_repo: GitRepo, outside: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An untracked link in a git work tree is listed like any file, and reported."""
    git_repo.commit(small_fleet(), "the fleet")
    (git_repo.root / "templates" / "extra.j2").symlink_to(outside)
    code, out, err = run(["validate", str(git_repo.root)], capsys)
    assert code == 1
    assert f"templates/extra.j2:1:1: error: {LINK_ERROR}" in out.splitlines()
    assert "CONTENT-FROM-OUTSIDE" not in out + err
