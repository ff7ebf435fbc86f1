"""Sources: the files of a fleet repository at a git revision or in the working tree.

Where it sits: the one way in for fleet repositories. `read_revision(path, rev)` returns every
file under the fleet root (which may be a subdirectory of a git work tree) with its git blob id;
with a revision, the files come straight from git objects (`git ls-tree` + one `git cat-file
--batch`), without a checkout. The blob ids let the loader (`shell.revisions.FleetLoader`) parse
each distinct file once. git is driven through GitPython's command wrapper; git's errors become
`SourceError`s here, where they enter. Working-tree files are opened through `shell.files.open_regular`:
a pipe, a device or a socket in the tree is refused by name before it is read, and a file's size
limit is checked on the open descriptor, before reading.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import git

from reconciler.core.documents import MAX_FILE_BYTES
from reconciler.core.fleets import SourceFile
from reconciler.errors import NotAFleetRepository, RevisionNotFound, SourceError
from reconciler.shell.files import IrregularFile, open_regular

WORKING_TREE = "working tree"
_FLEET_FILES = ("fleet.yaml", "fleet.yml")


@dataclass(frozen=True)
class RevisionFiles:
    """Every file of a fleet repository at one revision, keyed by path relative to the fleet root."""

    root: Path
    revision: str | None  # a commit id, or None for the working tree
    label: str  # what to call it in output: "working tree" or "<short id> (<rev>)"
    files: dict[str, SourceFile]  # oversized files are here too, with their blob id but no data
    oversized: dict[str, int]  # files not read because they exceed MAX_FILE_BYTES: path → size
    symlinks: tuple[str, ...] = ()  # never followed: a link could reach outside the repository


def blob_id(data: bytes) -> str:
    """The id git gives these bytes as a blob (so working-tree files share cache entries with commits)."""
    return hashlib.sha1(b"blob %d\x00" % len(data) + data, usedforsecurity=False).hexdigest()


def _streamed_blob_id(stream: BinaryIO, size: int) -> str:
    """The blob id of a file too large to hold in memory, read in chunks, never past its `size`."""
    digest = hashlib.sha1(b"blob %d\x00" % size, usedforsecurity=False)
    remaining = size
    while remaining > 0 and (chunk := stream.read(min(remaining, 1 << 20))):
        digest.update(chunk)
        remaining -= len(chunk)
    return digest.hexdigest()


def read_revision(path: Path, rev: str | None) -> RevisionFiles:
    """The fleet repository at `path`: at `rev` (from git objects) or, if None, as in the working tree."""
    root = path.resolve()
    revision = _read_working_tree(root) if rev is None else _read_git(root, rev)
    if not any(name in revision.files for name in _FLEET_FILES):
        where = f"{path} at {revision.label}" if rev else str(path)
        raise NotAFleetRepository(f"{where} is not a fleet repository: no fleet.yaml")
    return revision


def _repo(root: Path) -> git.Repo | None:
    try:
        return git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


def _prefix(repo: git.Repo, root: Path) -> str:
    top = Path(repo.working_tree_dir or ".").resolve()
    try:
        relative = root.relative_to(top).as_posix()
    except ValueError:
        raise SourceError(f"{root} is outside the git work tree {top}") from None
    return "" if relative == "." else relative + "/"


# --- working tree -------------------------------------------------------------------------------------


def _read_working_tree(root: Path) -> RevisionFiles:
    if not root.is_dir():
        raise NotAFleetRepository(f"{root} is not a directory")
    repo = _repo(root)
    paths = _listed_by_git(repo, root) if repo is not None else None
    if paths is None:
        paths = list(_walk(root))
    files: dict[str, SourceFile] = {}
    oversized: dict[str, int] = {}
    symlinks = []
    for relative in paths:
        if (root / relative).is_symlink():
            symlinks.append(relative)
        else:
            _read_file(root, relative, files, oversized)
    return RevisionFiles(root, None, WORKING_TREE, files, oversized, tuple(symlinks))


def _listed_by_git(repo: git.Repo, root: Path) -> list[str] | None:
    """Tracked and untracked-but-not-ignored files under root (what a commit of the tree would hold)."""
    try:
        output = repo.git.ls_files("-z", "--cached", "--others", "--exclude-standard", "--", str(root))
    except git.GitCommandError:
        return None
    prefix = _prefix(repo, root)
    listed = []
    for entry in output.split("\0"):
        if entry and entry.startswith(prefix):
            relative = entry[len(prefix):]
            path = root / relative
            # Not only regular files: a tracked file replaced by a pipe or a device is refused when
            # read, not skipped. (Directories here are submodules; what is gone was deleted.)
            if not _hidden(relative) and (path.is_symlink() or (path.exists() and not path.is_dir())):
                listed.append(relative)
    if not listed:
        return None  # the whole directory is ignored by the enclosing repository: read it as a plain one
    return sorted(set(listed))


def _walk(root: Path) -> Iterator[str]:
    """Everything under root but directories, outside a git work tree (pipes and devices too: reading
    refuses them by name); linked directories are listed, never entered."""
    for directory, folders, names in os.walk(root, followlinks=False):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        linked = [f for f in folders if (Path(directory) / f).is_symlink()]  # reported, never entered
        for name in sorted(names + linked):
            relative = (Path(directory) / name).relative_to(root).as_posix()
            if not _hidden(relative):
                yield relative


def _hidden(relative: str) -> bool:
    return any(part.startswith(".") for part in relative.split("/"))


def _read_file(root: Path, relative: str, files: dict[str, SourceFile], oversized: dict[str, int]) -> None:
    """Read one file of the working tree: a regular file only, its size limit checked before reading."""
    path = root / relative
    try:
        with open_regular(path) as (stream, size):
            if size > MAX_FILE_BYTES:
                oversized[relative] = size
                files[relative] = SourceFile(relative, _streamed_blob_id(stream, size), b"")
                return
            data = stream.read(MAX_FILE_BYTES + 1)  # one byte more tells a file that grew since fstat
    except IrregularFile as exc:
        raise SourceError(f"{exc}: a fleet repository holds regular files only; not read") from None
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise SourceError(f"{path} grew past {MAX_FILE_BYTES:,} bytes while it was read; read the repository again")
    files[relative] = SourceFile(relative, blob_id(data), data)


# --- git objects -----------------------------------------------------------------------------------------


def _read_git(root: Path, rev: str) -> RevisionFiles:
    repo = _repo(root)
    if repo is None:
        raise SourceError(f"{root} is not inside a git repository, so --rev {rev} cannot be read")
    return _read_commit(repo, root, _resolve(repo, rev), _prefix(repo, root), rev)


def read_commit(repository: Path, rev: str, subdirectory: str = "") -> RevisionFiles:
    """The fleet at `rev` of a (bare) repository, under `subdirectory` (the daemon's clone)."""
    try:
        repo = git.Repo(repository)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise SourceError(f"{repository} is not a git repository") from None
    prefix = subdirectory.strip("/") + "/" if subdirectory.strip("/") else ""
    revision = _read_commit(repo, repository / prefix, _resolve(repo, rev), prefix, rev)
    if not any(name in revision.files for name in _FLEET_FILES):
        where = f"{subdirectory or 'the top'} of {revision.label}"
        raise NotAFleetRepository(f"{where} is not a fleet repository: no fleet.yaml")
    return revision


def _read_commit(repo: git.Repo, root: Path, commit: str, prefix: str, rev: str) -> RevisionFiles:
    entries, symlinks = _ls_tree(repo, commit, prefix)
    wanted = {blob: path for path, (blob, size) in entries.items() if size <= MAX_FILE_BYTES}
    contents = _cat_blobs(repo, sorted(set(wanted)))
    files = {path: SourceFile(path, blob, contents.get(blob, b"")) for path, (blob, size) in entries.items()}
    oversized = {path: size for path, (blob, size) in entries.items() if size > MAX_FILE_BYTES}
    return RevisionFiles(root, commit, f"{commit[:10]} ({rev})", files, oversized, symlinks)


def _resolve(repo: git.Repo, rev: str) -> str:
    try:
        commit: str = repo.git.rev_parse("--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
    except git.GitCommandError as exc:
        if _stderr(exc):  # not "no such revision" (which --quiet keeps silent): e.g. a repository git refuses
            raise SourceError(f"git cannot read {repo.working_tree_dir}: {_stderr(exc)}") from None
        raise RevisionNotFound(f"unknown revision {rev!r} in {repo.working_tree_dir}") from None
    return commit.strip()


def _stderr(exc: git.GitCommandError) -> str:
    text = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else str(exc.stderr or "")
    return " ".join(text.replace("stderr:", "").split()).strip(" '")


def _ls_tree(repo: git.Repo, commit: str, prefix: str) -> tuple[dict[str, tuple[str, int]], tuple[str, ...]]:
    """path (relative to the fleet root) → (blob id, size) for every regular file under the prefix,
    and the paths of the symbolic links there."""
    args = ["-r", "-l", "-z", "--full-tree", commit]
    if prefix:
        args += ["--", prefix]
    try:
        output = repo.git.ls_tree(*args)
    except git.GitCommandError as exc:
        raise SourceError(f"git cannot list {commit[:10]}: {_stderr(exc)}") from None
    entries: dict[str, tuple[str, int]] = {}
    symlinks = []
    for record in output.split("\0"):
        if not record:
            continue
        meta, path = record.split("\t", 1)
        mode, kind, blob, size = meta.split()
        relative = path[len(prefix):]
        if kind != "blob" or _hidden(relative):
            continue
        if mode == "120000":
            symlinks.append(relative)
        else:
            entries[relative] = (blob, int(size))
    return entries, tuple(symlinks)


def _cat_blobs(repo: git.Repo, blobs: list[str]) -> dict[str, bytes]:
    """The content of many blobs through one `git cat-file --batch` process."""
    if not blobs:
        return {}
    process = subprocess.Popen(  # noqa: S603 - fixed argv, the git executable GitPython uses
        [git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git", "cat-file", "--batch"],
        cwd=repo.working_tree_dir or repo.git_dir,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
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


def _write_ids(stream: object, blobs: list[str]) -> None:
    assert hasattr(stream, "write") and hasattr(stream, "close")
    try:
        stream.write("".join(f"{blob}\n" for blob in blobs).encode())
    finally:
        stream.close()
