"""git that cannot run (not installed, no file descriptors left to start it) is a `SourceError` that says so,
wherever the repository is read: never a stray `OSError`, never a traceback from the command line."""

from __future__ import annotations

import contextlib
import os
import re
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.errors import GitUnavailable
from reconciler.shell.git.clones import Clone, Source
from reconciler.shell.git.repositories import WorkTree, read_revision
from tests.conftest import GitRepo, small_fleet, write_tree

PROC_FDS = Path("/proc/self/fd")


def without_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, a PATH without git on it, as on a host where git is not installed."""
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", str(empty))


@contextlib.contextmanager
def descriptors_exhausted() -> Iterator[None]:
    """Every file descriptor this process may open is taken (under a lowered limit), until the block ends."""
    if not PROC_FDS.is_dir():
        pytest.skip("counting open descriptors needs /proc")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (len(list(PROC_FDS.iterdir())) + 16, hard))
    held: list[int] = []
    try:
        with contextlib.suppress(OSError):
            while len(held) < 4096:
                held.append(os.open(os.devnull, os.O_RDONLY))
        yield
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_without_git_reading_a_revision_its_history_or_a_work_tree_in_git_says_git_is_not_installed(
        git_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A revision, a git work tree and its history need git: each fails saying git is missing; a plain directory
    is read without git."""
    git_repo.commit(small_fleet())
    without_git(tmp_path, monkeypatch)
    for read in (lambda: read_revision(git_repo.root, "HEAD"), lambda: read_revision(git_repo.root, None),
                 lambda: WorkTree(git_repo.root).versions("rentals/selections/")):
        with pytest.raises(GitUnavailable, match=r"git is not installed \(no `git` command on PATH\)"):
            read()
    assert WorkTree(git_repo.root).author("HEAD") == "unknown"
    plain = write_tree(tmp_path / "plain", small_fleet())
    assert set(read_revision(plain, None).files) == set(small_fleet())


def test_without_git_the_clone_cannot_fetch_and_says_why(git_repo: GitRepo, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A fetch without git is a `SourceError` naming the clone or the source; with git back, the clone fetches."""
    head = git_repo.commit(small_fleet())
    clone = Clone(Source(str(git_repo.root), "main"), tmp_path / "data")
    path = os.environ["PATH"]
    without_git(tmp_path, monkeypatch)
    with pytest.raises(GitUnavailable, match=re.escape(f"cannot open the clone {clone.path}: git is not installed")):
        clone.fetch()  # the first fetch makes the clone (git init)
    monkeypatch.setenv("PATH", path)
    assert clone.fetch() == head
    without_git(tmp_path, monkeypatch)
    with pytest.raises(GitUnavailable, match=re.escape(f"cannot fetch {git_repo.root}@main: git is not installed")):
        clone.fetch()
    assert clone.author(head) == "unknown"


def test_with_no_descriptors_left_fetching_and_reading_fail_as_source_errors(git_repo: GitRepo,
                                                                            tmp_path: Path) -> None:
    """EMFILE while git starts: the fetch and the read of a revision fail with "Too many open files" in a
    `SourceError`; with descriptors free again, both work."""
    first = git_repo.commit(small_fleet())
    clone = Clone(Source(str(git_repo.root), "main"), tmp_path / "data")
    assert clone.fetch() == first
    second = git_repo.commit({"sites.yaml": small_fleet()["sites.yaml"] + "# changed\n"})
    with descriptors_exhausted():
        with pytest.raises(GitUnavailable, match=r"cannot fetch .*: git cannot run: Too many open files"):
            clone.fetch()
        with pytest.raises(GitUnavailable, match="Too many open files"):
            read_revision(git_repo.root, "HEAD")
    assert clone.fetch() == second
    assert read_revision(git_repo.root, "HEAD").revision == second


def test_the_command_line_without_git_reads_plain_directories_and_refuses_revisions_in_one_line(
        git_repo: GitRepo, tmp_path: Path) -> None:
    """`validate` works on a directory outside git with no git installed; `validate --rev` exits 1 with one
    line that says git is missing, not a traceback (GitPython is not allowed to fail the import)."""
    git_repo.commit(small_fleet())
    plain = write_tree(tmp_path / "plain", small_fleet())
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty)}
    env.pop("GIT_PYTHON_REFRESH", None)  # as a fresh process on such a host would have it

    def validate(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "reconciler", "validate", *args], env=env, capture_output=True,
                              text=True, timeout=120, check=False)

    plain_run = validate(str(plain))
    assert plain_run.returncode == 0, plain_run.stderr
    revision_run = validate(str(git_repo.root), "--rev", "HEAD")
    assert revision_run.returncode == 1
    assert "git is not installed" in revision_run.stderr and "Traceback" not in revision_run.stderr
    assert len(revision_run.stderr.strip().splitlines()) == 1
