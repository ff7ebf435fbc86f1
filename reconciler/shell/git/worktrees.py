"""A working tree's fleet files, as a commit of the tree would hold them, with git's blob ids.

Where it sits: `repositories.read_revision` reads the working tree here when no revision is asked
for. Inside a git work tree, `git ls-files` lists the files (tracked, and untracked but not
ignored); elsewhere the directory is walked. Files are opened through `shell.files.open_regular`:
a pipe, a device or a socket in the tree is refused by name before it is read, and a file's size
limit is checked on the open descriptor, before reading. Each file gets the blob id git would give
it, so a file unchanged since a commit shares the loader's cache entry with that commit's file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import git

from reconciler.core.documents import MAX_FILE_BYTES
from reconciler.core.fleets import SourceFile
from reconciler.errors import NotAFleetRepository, SourceError
from reconciler.shell.files import IrregularFile, open_regular

from .plumbing import find_repository, fleet_prefix, git_running
from .protocol import WORKING_TREE, RevisionFiles, is_hidden


def blob_id(data: bytes) -> str:
    """The id git gives these bytes as a blob (so working-tree files share cache entries with commits)."""
    return hashlib.sha1(b"blob %d\x00" % len(data) + data, usedforsecurity=False).hexdigest()


def read_working_tree(root: Path) -> RevisionFiles:
    """The files under `root` (resolved) as they are now; links are listed, never followed."""
    if not root.is_dir():
        raise NotAFleetRepository(f"{root} is not a directory")
    with git_running(f"cannot read {root}"):
        repo = find_repository(root)
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
    prefix = fleet_prefix(repo, root)
    listed = []
    for entry in output.split("\0"):
        if entry and entry.startswith(prefix):
            relative = entry[len(prefix):]
            path = root / relative
            # Not only regular files: a tracked file replaced by a pipe or a device is refused when
            # read, not skipped. (Directories here are submodules; what is gone was deleted.)
            if not is_hidden(relative) and (path.is_symlink() or (path.exists() and not path.is_dir())):
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
            if not is_hidden(relative):
                yield relative


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


def _streamed_blob_id(stream: BinaryIO, size: int) -> str:
    """The blob id of a file too large to hold in memory, read in chunks, never past its `size`."""
    digest = hashlib.sha1(b"blob %d\x00" % size, usedforsecurity=False)
    remaining = size
    while remaining > 0 and (chunk := stream.read(min(remaining, 1 << 20))):
        digest.update(chunk)
        remaining -= len(chunk)
    return digest.hexdigest()
