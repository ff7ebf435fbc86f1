"""git's plumbing for the rest of the package: repositories, revisions, blobs, and git's errors.

Where it sits: under `worktrees`, `repositories`, `history` and `clones`, which call git only
through GitPython's command wrapper or `cat_blobs` here. Failures are translated where they
enter: git refusing a command becomes the `SourceError` each caller words; git that cannot run
at all (not installed, or no file descriptors left to start it) becomes `GitUnavailable` through
`git_running`, so a caller (the daemon's loop) sees a failed read, never a stray `OSError`.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import git

from reconciler.errors import GitUnavailable, RevisionNotFound, SourceError


@contextmanager
def git_running(what: str) -> Iterator[None]:
    """Run git inside: where it cannot start, `GitUnavailable` says `what` failed and why."""
    try:
        yield
    except git.GitCommandNotFound:
        raise GitUnavailable(f"{what}: git is not installed (no `git` command on PATH)") from None
    except OSError as exc:  # EMFILE, ENOMEM, EACCES on the executable: starting git failed
        raise GitUnavailable(f"{what}: git cannot run: {exc.strerror or exc}") from exc


def find_repository(path: Path) -> git.Repo | None:
    """The git repository whose work tree holds `path` (or that `path` is), if any."""
    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        _can_open_files()
        return None


def open_repository(path: Path) -> git.Repo:
    """The (bare) repository at `path` itself; `SourceError` if there is none."""
    try:
        return git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        _can_open_files()
        raise SourceError(f"{path} is not a git repository") from None


def _can_open_files() -> None:
    """The OSError of opening a file, if none can be opened now (EMFILE): GitPython takes a HEAD it cannot
    open for no repository at all, which would send a reader to the wrong conclusion."""
    os.close(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))


def fleet_prefix(repo: git.Repo, root: Path) -> str:
    """Where `root` is in the work tree of `repo`: "" at its top, else "sub/dir/"."""
    top = Path(repo.working_tree_dir or ".").resolve()
    try:
        relative = root.relative_to(top).as_posix()
    except ValueError:
        raise SourceError(f"{root} is outside the git work tree {top}") from None
    return "" if relative == "." else relative + "/"


def subdirectory_prefix(subdirectory: str) -> str:
    """The prefix of a fleet in `subdirectory` of a bare repository: "" at its top, else "sub/dir/"."""
    inner = subdirectory.strip("/")
    return inner + "/" if inner else ""


def resolve(repo: git.Repo, rev: str) -> str:
    """The commit id `rev` names; `RevisionNotFound` if none."""
    try:
        commit: str = repo.git.rev_parse("--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
    except git.GitCommandError as exc:
        if stderr_text(exc):  # not "no such revision" (which --quiet keeps silent): e.g. a repository git refuses
            raise SourceError(f"git cannot read {where(repo)}: {stderr_text(exc)}") from None
        raise RevisionNotFound(f"unknown revision {rev!r} in {where(repo)}") from None
    return commit.strip()


def where(repo: git.Repo) -> str:
    """The repository as messages name it: its work tree, or the bare repository."""
    return str(repo.working_tree_dir or repo.git_dir)


def stderr_text(exc: git.GitCommandError) -> str:
    """What git said on failing, on one line."""
    text = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else str(exc.stderr or "")
    return " ".join(text.replace("stderr:", "").split()).strip(" '")


def author(repo: git.Repo, commit: str) -> str:
    """Who wrote `commit` (`name <email>`); "unknown" where git cannot tell (or cannot run)."""
    try:
        with git_running("reading the author"):
            return str(repo.git.show("-s", "--format=%an <%ae>", "--end-of-options", commit)).strip() or "unknown"
    except (git.GitCommandError, GitUnavailable):
        return "unknown"


def cat_blobs(repo: git.Repo, blobs: list[str]) -> dict[str, bytes]:
    """The content of many blobs through one `git cat-file --batch` process (run inside `git_running`).

    By hand rather than through GitPython's object database: one process answers every id,
    written on another thread so that neither side waits on a full pipe."""
    if not blobs:
        return {}
    executable = git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git"
    try:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, the git executable GitPython uses
            [executable, "cat-file", "--batch"],
            cwd=repo.working_tree_dir or repo.git_dir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        if exc.filename == executable:  # not the directory it runs in: git itself is missing
            raise git.GitCommandNotFound(executable, exc) from exc
        raise
    assert process.stdin is not None and process.stdout is not None
    writer = threading.Thread(target=_write_ids, args=(process.stdin, blobs), daemon=True)
    writer.start()
    contents: dict[str, bytes] = {}
    try:
        for _ in blobs:
            header = process.stdout.readline().split()
            if len(header) != 3:
                raise SourceError(f"git cat-file: unexpected answer {b' '.join(header)!r}")
            size = int(header[2])
            contents[header[0].decode()] = process.stdout.read(size)
            process.stdout.read(1)  # the newline after each object
    finally:
        writer.join()
        process.stdout.close()
        process.wait()
    return contents


def _write_ids(stream: IO[bytes], blobs: list[str]) -> None:
    try:
        stream.write("".join(f"{blob}\n" for blob in blobs).encode())
    finally:
        stream.close()
