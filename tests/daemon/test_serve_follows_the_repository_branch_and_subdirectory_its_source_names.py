"""`serve SOURCE`: a URL, a bare repository or a path inside a work tree names the repository, branch and
subdirectory the daemon follows."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reconciler.daemon.following import resolve_source
from reconciler.errors import SourceError
from tests.conftest import GitRepo, small_fleet


def test_a_path_inside_a_work_tree_follows_that_repository_its_branch_and_subdirectory(tmp_path: Path) -> None:
    """SOURCE as a subdirectory: the repository's top, the path below it, the branch checked out; --path adds to
    it and --branch wins."""
    repo = GitRepo(tmp_path / "repo")
    repo.commit({f"fleets/eu/{name}": text for name, text in small_fleet().items()})
    repo.git("checkout", "--quiet", "-b", "production")
    source = resolve_source(str(repo.root / "fleets" / "eu"), None, None)
    assert (source.url, source.branch, source.subdirectory) == (str(repo.root.resolve()), "production", "fleets/eu")
    assert source.label == f"{repo.root.resolve()}@production (fleets/eu/)"
    assert resolve_source(str(repo.root / "fleets"), "main", "/eu/").subdirectory == "fleets/eu"
    assert resolve_source(str(repo.root), "main", None).branch == "main"


def test_a_detached_head_or_a_bare_repository_follows_main_unless_a_branch_is_given(tmp_path: Path) -> None:
    """No branch checked out (a detached HEAD, a bare repository): `main`, or the branch --branch names."""
    repo = GitRepo(tmp_path / "repo")
    first = repo.commit(small_fleet())
    repo.git("checkout", "--quiet", "--detach", first)
    assert resolve_source(str(repo.root), None, None).branch == "main"
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(repo.root), str(bare)], check=True)
    source = resolve_source(str(bare), "release", "fleet")
    assert (source.url, source.branch, source.subdirectory) == (str(bare.resolve()), "release", "fleet")


def test_urls_are_followed_as_given_and_anything_else_is_refused_with_the_reason(tmp_path: Path) -> None:
    """A URL (or scp-like address) is not looked up on disk; a missing path or one outside git is refused."""
    assert resolve_source("https://git.example.com/fleet.git", None, "x/").subdirectory == "x"
    assert resolve_source("git@git.example.com:netops/fleet.git", "prod", None).branch == "prod"
    with pytest.raises(SourceError, match="not inside a git repository"):
        resolve_source(str(tmp_path), None, None)
    with pytest.raises(SourceError, match="no such directory, and not a URL"):
        resolve_source(str(tmp_path / "missing"), None, None)
