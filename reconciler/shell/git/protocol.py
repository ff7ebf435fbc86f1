"""What a fleet repository is to the rest of the code: the `FleetRepository` protocol and its values.

Where it sits: the vocabulary of the `shell.git` package, without git itself. The loader
(`shell.revisions`) builds a `RevisionFiles`, billing (`shell.billing`) reads `FileVersion`s, the
daemon audits a commit's author. Two implementations keep it: `repositories.WorkTree` (a fleet
directory, in a git work tree or not) and `clones.Clone` (the daemon's bare clone); a test, or a
later store of another kind, can supply its own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from reconciler.core.fleets import SourceFile

WORKING_TREE = "working tree"
FLEET_FILES = ("fleet.yaml", "fleet.yml")  # a revision without one is not a fleet repository


@dataclass(frozen=True)
class RevisionFiles:
    """Every file of a fleet repository at one revision, keyed by path relative to the fleet root."""

    root: Path
    revision: str | None  # a commit id, or None for the working tree
    label: str  # what to call it in output: "working tree" or "<short id> (<rev>)"
    files: dict[str, SourceFile]  # oversized files are here too, with their blob id but no data
    oversized: dict[str, int]  # files not read because they exceed MAX_FILE_BYTES: path → size
    symlinks: tuple[str, ...] = ()  # never followed: a link could reach outside the repository

    @property
    def is_fleet(self) -> bool:
        return any(name in self.files for name in FLEET_FILES)


@dataclass(frozen=True)
class FileVersion:
    """One committed version of a file: what a commit made of it, and when."""

    path: str  # relative to the fleet root
    commit: str
    committed_at: dt.datetime
    data: bytes | None  # None: deleted by this commit


class FleetRepository(Protocol):
    """A fleet repository, as the loader, billing and the daemon read it."""

    def read(self, rev: str | None = None) -> RevisionFiles:
        """The fleet's files at `rev`; None: as they are now (a work tree's files, edits included).
        Raises `SourceError` (`RevisionNotFound`, `NotAFleetRepository`)."""
        ...

    def versions(self, directory: str, rev: str | None = None) -> list[FileVersion]:
        """Every committed version of the files under `directory` (relative to the fleet root) up to
        `rev` (None: the latest commit), oldest first along the branch's first parents."""
        ...

    def uncommitted(self, directory: str) -> list[str]:
        """The files under `directory` changed since the latest commit: not history yet."""
        ...

    def author(self, commit: str) -> str:
        """Who wrote `commit`, as `name <email>` ("unknown" if that cannot be told)."""
        ...


def is_hidden(relative: str) -> bool:
    """Dot files and everything in dot directories are not part of a fleet (`.git`, `.ci/`, drafts)."""
    return any(part.startswith(".") for part in relative.split("/"))
