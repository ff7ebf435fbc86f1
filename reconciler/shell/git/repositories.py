"""Reading a fleet repository at a revision, and `WorkTree`: a fleet directory as a `FleetRepository`.

Where it sits: the loader (`shell.revisions`) reads through `read_revision(path, rev)`: every file
under the fleet root (which may be a subdirectory of a git work tree) with its git blob id, so the
loader parses each distinct file once. With a revision, the files come straight from git objects
(`git ls-tree` + one `git cat-file --batch`, see `plumbing`), without a checkout; without one, from
the working tree (`worktrees`). `read_commit` reads a bare repository (the daemon's clone,
`clones`). `enclosing` tells where the git repository of a path is (the daemon's SOURCE argument).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import git

from reconciler.core.documents import MAX_FILE_BYTES
from reconciler.core.fleets import SourceFile
from reconciler.errors import NotAFleetRepository, SourceError

from . import history
from .plumbing import (
    author,
    cat_blobs,
    find_repository,
    fleet_prefix,
    git_running,
    open_repository,
    resolve,
    stderr_text,
    subdirectory_prefix,
)
from .protocol import FileVersion, RevisionFiles, is_hidden
from .worktrees import read_working_tree


def read_revision(path: Path, rev: str | None) -> RevisionFiles:
    """The fleet repository at `path`: at `rev` (from git objects) or, if None, as in the working tree."""
    root = path.resolve()
    if rev is None:
        revision = read_working_tree(root)
    else:
        with git_running(f"cannot read {path}"):
            revision = _read_git(root, rev)
    if not revision.is_fleet:
        where = f"{path} at {revision.label}" if rev else str(path)
        raise NotAFleetRepository(f"{where} is not a fleet repository: no fleet.yaml")
    return revision


def read_commit(repository: Path, rev: str, subdirectory: str = "") -> RevisionFiles:
    """The fleet at `rev` of a (bare) repository, under `subdirectory` (the daemon's clone)."""
    prefix = subdirectory_prefix(subdirectory)
    with git_running(f"cannot read {rev} of {repository}"):
        repo = open_repository(repository)
        revision = _read_commit(repo, repository / prefix, resolve(repo, rev), prefix, rev)
    if not revision.is_fleet:
        where = f"{subdirectory or 'the top'} of {revision.label}"
        raise NotAFleetRepository(f"{where} is not a fleet repository: no fleet.yaml")
    return revision


@dataclass(frozen=True)
class WorkTree:
    """A fleet directory, inside a git work tree or not (then it has no history): a `FleetRepository`."""

    path: Path

    def read(self, rev: str | None = None) -> RevisionFiles:
        return read_revision(self.path, rev)

    def versions(self, directory: str, rev: str | None = None) -> list[FileVersion]:
        return history.versions(self.path, directory, rev)

    def uncommitted(self, directory: str) -> list[str]:
        return history.uncommitted(self.path, directory)

    def author(self, commit: str) -> str:
        repo = find_repository(self.path.resolve())
        return author(repo, commit) if repo is not None else "unknown"


@dataclass(frozen=True)
class Enclosing:
    """The git repository a path is in: its top (the git directory of a bare one), the path below it."""

    top: Path
    bare: bool
    inner: str  # the path below the top, "" at the top
    branch: str | None  # checked out there (None: bare, or a detached HEAD)


def enclosing(path: Path) -> Enclosing | None:
    """The repository `path` (resolved, existing) is in, if any."""
    with git_running(f"cannot read {path}"):
        repo = find_repository(path)
        if repo is None:
            return None
        if repo.bare:
            return Enclosing(Path(repo.git_dir).resolve(), True, "", None)
        top = Path(repo.working_tree_dir or path).resolve()
        inner = path.relative_to(top).as_posix()
        return Enclosing(top, False, "" if inner == "." else inner, _checked_out(repo))


def _checked_out(repo: git.Repo) -> str | None:
    try:
        return repo.active_branch.name
    except (TypeError, ValueError):  # a detached HEAD
        return None


def _read_git(root: Path, rev: str) -> RevisionFiles:
    repo = find_repository(root)
    if repo is None:
        raise SourceError(f"{root} is not inside a git repository, so --rev {rev} cannot be read")
    return _read_commit(repo, root, resolve(repo, rev), fleet_prefix(repo, root), rev)


def _read_commit(repo: git.Repo, root: Path, commit: str, prefix: str, rev: str) -> RevisionFiles:
    entries, symlinks = _ls_tree(repo, commit, prefix)
    wanted = {blob: path for path, (blob, size) in entries.items() if size <= MAX_FILE_BYTES}
    contents = cat_blobs(repo, sorted(set(wanted)))
    files = {path: SourceFile(path, blob, contents.get(blob, b"")) for path, (blob, size) in entries.items()}
    oversized = {path: size for path, (blob, size) in entries.items() if size > MAX_FILE_BYTES}
    return RevisionFiles(root, commit, f"{commit[:10]} ({rev})", files, oversized, symlinks)


def _ls_tree(repo: git.Repo, commit: str, prefix: str) -> tuple[dict[str, tuple[str, int]], tuple[str, ...]]:
    """path (relative to the fleet root) → (blob id, size) for every regular file under the prefix,
    and the paths of the symbolic links there."""
    args = ["-r", "-l", "-z", "--full-tree", commit]
    if prefix:
        args += ["--", prefix]
    try:
        output = repo.git.ls_tree(*args)
    except git.GitCommandError as exc:
        raise SourceError(f"git cannot list {commit[:10]}: {stderr_text(exc)}") from None
    entries: dict[str, tuple[str, int]] = {}
    symlinks = []
    for record in output.split("\0"):
        if not record:
            continue
        meta, path = record.split("\t", 1)
        mode, kind, blob, size = meta.split()
        relative = path[len(prefix):]
        if kind != "blob" or is_hidden(relative):
            continue
        if mode == "120000":
            symlinks.append(relative)
        else:
            entries[relative] = (blob, int(size))
    return entries, tuple(symlinks)
