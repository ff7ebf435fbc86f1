"""Billing and the loader read a fleet repository only through the `FleetRepository` protocol: a repository kept
in memory gives the same rental ledger as a git work tree with the same history."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from reconciler.core.fleets import SourceFile
from reconciler.shell import billing
from reconciler.shell.git.protocol import WORKING_TREE, FileVersion, FleetRepository, RevisionFiles
from reconciler.shell.git.repositories import WorkTree
from reconciler.shell.git.worktrees import blob_id
from reconciler.shell.revisions import FleetLoader
from tests.cli.test_costs_and_links import ACCOUNT, PRICES, commit_at, selection
from tests.conftest import GitRepo, small_fleet

SELECTION = "rentals/selections/pbx-ber.yaml"
FIRST, SECOND = "2026-03-01T00:00:00+00:00", "2026-03-20T00:00:00+00:00"
MOMENT = dt.datetime(2026, 3, 31, tzinfo=dt.UTC)


@dataclass
class MemoryRepository:
    """A fleet repository without git: the files as they are now, and a list of committed versions."""

    files: dict[str, str]
    history: list[FileVersion]
    edited: list[str] = field(default_factory=list)

    def read(self, rev: str | None = None) -> RevisionFiles:
        assert rev is None, "this one keeps only the files as they are now"
        files = {path: SourceFile(path, blob_id(text.encode()), text.encode()) for path, text in self.files.items()}
        return RevisionFiles(Path("memory"), None, WORKING_TREE, files, {})

    def versions(self, directory: str, rev: str | None = None) -> list[FileVersion]:
        return [version for version in self.history if version.path.startswith(directory)]

    def uncommitted(self, directory: str) -> list[str]:
        return [path for path in self.edited if path.startswith(directory)]

    def author(self, commit: str) -> str:
        return "memory <memory@example.invalid>"


def fleet() -> dict[str, str]:
    return {**small_fleet(), "rentals/account.yaml": ACCOUNT, "rentals/prices.yaml": PRICES,
            SELECTION: selection("01-00010-001", "01-00020-001")}


def ledger(repository: FleetRepository) -> tuple[str, str, list[str]]:
    """The consumed credits and monthly consumption at MOMENT, and the notes, of the repository's files now."""
    revision = FleetLoader().load_files(repository.read())
    result, problems, notes = billing.rental_ledger(repository, None, revision, MOMENT)
    assert result is not None and [p for p in problems if p.is_error] == []
    return f"{float(result.consumed):.4f}", f"{float(result.monthly):.4f}", notes


def test_a_memory_repository_and_a_git_work_tree_with_the_same_history_bill_the_same(
        git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    """One selection committed on 1 March and changed on 20 March: the same consumption and monthly rate whether
    the versions come from git or from memory; an edited file is named as uncommitted by either."""
    files = fleet()
    first = commit_at(git_repo, monkeypatch, FIRST, {**files, SELECTION: selection("01-00010-001")})
    second = commit_at(git_repo, monkeypatch, SECOND, {SELECTION: files[SELECTION]})
    history = [
        FileVersion(SELECTION, first, dt.datetime.fromisoformat(FIRST), selection("01-00010-001").encode()),
        FileVersion(SELECTION, second, dt.datetime.fromisoformat(SECOND), files[SELECTION].encode()),
    ]
    memory = MemoryRepository(files, history)
    from_git = ledger(WorkTree(git_repo.root))
    assert from_git == ledger(memory)
    assert from_git[:2] == (f"{(26.28 * 19 + (52.56 + 4) * 11) * 86_400 / 2_628_000:.4f}", "56.5600")

    (git_repo.root / SELECTION).write_text(selection("01-00010-001"))
    memory.files[SELECTION], memory.edited = selection("01-00010-001"), [SELECTION]
    note = f"{SELECTION}: changed but not committed: billed from its commit on (D1.5)"
    assert ledger(WorkTree(git_repo.root))[2] == ledger(memory)[2] == [note]
