"""The daemon's bare clone: fetches follow the branch through force-pushes, a deleted branch keeps what was
fetched, the pinned last good commit survives restarts and git's housekeeping, and the clone answers as a
fleet repository (files, history, authors)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from reconciler.errors import NotAFleetRepository, RevisionNotFound, SourceError
from reconciler.shell.git.clones import Clone, Source
from tests.conftest import GitRepo, small_fleet

SUBDIR = "fleets/eu"


def in_subdir(files: dict[str, str]) -> dict[str, str]:
    return {f"{SUBDIR}/{path}": content for path, content in files.items()}


def clone_of(repo: GitRepo, data: Path, subdirectory: str = SUBDIR) -> Clone:
    return Clone(Source(str(repo.root), "main", subdirectory), data)


def test_the_pinned_last_good_commit_survives_a_restart_a_force_push_and_garbage_collection(
        git_repo: GitRepo, tmp_path: Path) -> None:
    """A force-push moves the fetched branch; the commit pinned before it is still there for a new Clone of the
    same data directory, and still readable after `git gc --prune=now`."""
    first = git_repo.commit(in_subdir(small_fleet()), "the fleet")
    clone = clone_of(git_repo, tmp_path / "data")
    assert clone.last_good() is None
    assert clone.fetch() == first
    clone.pin_last_good(first)

    git_repo.git("commit", "--quiet", "--amend", "-m", "rewritten")
    rewritten = git_repo.git("rev-parse", "HEAD")
    assert clone.fetch() == rewritten != first
    git_repo.git("commit", "--quiet", "--amend", "-m", "rewritten again")
    again = git_repo.git("rev-parse", "HEAD")
    assert clone.fetch() == again

    restarted = clone_of(git_repo, tmp_path / "data")
    assert restarted.last_good() == first
    subprocess.run(["git", "-C", str(restarted.path), "gc", "--quiet", "--prune=now"], check=True)
    assert restarted.read(first).revision == first  # pinned: kept
    with pytest.raises(RevisionNotFound):
        restarted.read(rewritten)  # neither fetched last nor pinned: git's housekeeping dropped it


def test_a_deleted_branch_is_a_fetch_error_and_the_last_fetched_commit_stays(git_repo: GitRepo,
                                                                            tmp_path: Path) -> None:
    """Fetching a branch the repository no longer has fails with a message that says so; the clone still reads
    the commit it fetched last."""
    head = git_repo.commit(in_subdir(small_fleet()))
    git_repo.git("checkout", "--quiet", "-b", "other")
    clone = Clone(Source(str(git_repo.root), "release", SUBDIR), tmp_path / "data")
    with pytest.raises(SourceError, match=r"the branch 'release' does not exist .* keeping the last fetched commit"):
        clone.fetch()
    git_repo.git("branch", "release", head)
    assert clone.fetch() == head
    git_repo.git("branch", "-D", "release")
    with pytest.raises(SourceError, match="does not exist"):
        clone.fetch()
    assert clone.read().revision == head  # the branch as last fetched


def test_an_unreachable_repository_is_a_fetch_error_naming_it(tmp_path: Path) -> None:
    """A source git cannot fetch from fails with `cannot fetch <url>@<branch>` and git's own reason."""
    clone = Clone(Source(str(tmp_path / "nowhere"), "main"), tmp_path / "data")
    with pytest.raises(SourceError, match=re.escape(f"cannot fetch {tmp_path / 'nowhere'}@main: ")):
        clone.fetch()


def test_the_clone_reads_its_fleet_history_and_authors_like_a_work_tree(git_repo: GitRepo, tmp_path: Path) -> None:
    """Files under the fleet's subdirectory at a commit, the versions of a directory in commit order up to a
    commit, no uncommitted files, and commit authors ("unknown" for a commit it does not have)."""
    first = git_repo.commit(in_subdir({**small_fleet(), "rentals/selections/a.yaml": "one\n"}))
    second = git_repo.commit({f"{SUBDIR}/rentals/selections/a.yaml": "two\n", "README.md": "outside\n"})
    clone = clone_of(git_repo, tmp_path / "data")
    assert clone.fetch() == second
    assert set(clone.read(first).files) == set(small_fleet()) | {"rentals/selections/a.yaml"}
    versions = clone.versions("rentals/selections/")
    assert [(v.path, v.commit, v.data) for v in versions] == [("rentals/selections/a.yaml", first, b"one\n"),
                                                              ("rentals/selections/a.yaml", second, b"two\n")]
    assert [v.commit for v in clone.versions("rentals/selections/", first)] == [first]
    assert clone.uncommitted("rentals/selections/") == []
    assert clone.author(second) == "Test <test@example.invalid>"
    assert clone.author("0" * 40) == "unknown"
    with pytest.raises(NotAFleetRepository, match="fleets/other of"):
        clone_of(git_repo, tmp_path / "data", "fleets/other").read(second)
