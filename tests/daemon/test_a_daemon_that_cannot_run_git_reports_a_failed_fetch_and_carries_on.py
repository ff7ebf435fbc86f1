"""A daemon whose git cannot run (not installed, no descriptors) reports a failed fetch and keeps its loop: it
neither crashes nor rejects a commit it could not read, and picks the commit up once git runs again."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.app.sessions import LiveOptions
from reconciler.daemon.reconciling import Reconciler
from reconciler.errors import SourceError
from reconciler.shell.clock import Clock
from reconciler.shell.drivers import Driver
from reconciler.shell.drivers.fake import FakeDriver, FakeRouter
from reconciler.shell.drivers.icom import DriverSettings
from reconciler.shell.git.clones import Clone, Source
from reconciler.shell.revisions import LoadedRevision
from reconciler.shell.store import Store
from tests.conftest import GitRepo, small_fleet

ROUTERS = {"24130001": "MRX5 LTE", "24130002": "MRX5 LTE", "24130003": "MRX6 DSL"}
WAIT_S = 30  # every wait is bounded


class WatchedClone(Clone):
    """The real clone, saying when a fetch failed, and running `after_fetch` after each fetch that worked."""

    def __init__(self, source: Source, data_dir: Path, after_fetch: Callable[[], None] = lambda: None) -> None:
        super().__init__(source, data_dir)
        self.failures = threading.Semaphore(0)
        self.after_fetch = after_fetch

    def fetch(self) -> str:
        try:
            head = super().fetch()
        except SourceError:
            self.failures.release()
            raise
        self.after_fetch()
        return head


def reconciler_for(clone: Clone, data: Path, on_revision: Callable[[LoadedRevision], None] | None = None,
                   ) -> Reconciler:
    routers = FakeDriver(FakeRouter(serial, model) for serial, model in ROUTERS.items())

    def driver(settings: DriverSettings, tokens: dict[str, str], clock: Clock) -> Driver:
        return routers

    return Reconciler(clone, Store(data), LiveOptions(data_dir=data), driver=driver, on_revision=on_revision)


def without_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """From now on, a PATH without git on it."""
    (tmp_path / "empty-bin").mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))


def rejections(reconciler: Reconciler) -> list[str]:
    return [row.detail for row in reconciler.store.audit_rows() if row.action == "reject"]


def test_the_loop_reports_git_missing_as_a_fetch_error_and_applies_once_git_is_back(
        git_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reconcile loop runs on without git: the status carries the fetch error and nothing is rejected; with
    git back and a wake-up, the head becomes the last good revision; the loop ends when asked."""
    head = git_repo.commit(small_fleet())
    path = os.environ["PATH"]
    clone = WatchedClone(Source(str(git_repo.root), "main"), tmp_path / "data")
    without_git(monkeypatch, tmp_path)

    async def scenario() -> None:
        accepted = asyncio.Event()
        reconciler = reconciler_for(clone, tmp_path / "data", on_revision=lambda revision: accepted.set())
        stop = asyncio.Event()
        loop = asyncio.create_task(reconciler.run(stop, poll=0.05))
        for _ in range(2):  # the second attempt begins once the first failure was handled
            assert await asyncio.to_thread(clone.failures.acquire, timeout=WAIT_S)
        assert "git is not installed" in (reconciler.status.fetch_error or "")
        assert reconciler.status.last_good is None and reconciler.status.invalid is None and not loop.done()
        monkeypatch.setenv("PATH", path)
        reconciler.wake("git is back", full=False)
        await asyncio.wait_for(accepted.wait(), WAIT_S)
        assert reconciler.status.last_good == head and reconciler.status.fetch_error is None
        stop.set()
        await asyncio.wait_for(loop, WAIT_S)
        assert rejections(reconciler) == []

    asyncio.run(scenario())


def test_a_commit_fetched_but_unreadable_for_want_of_git_is_read_again_not_rejected(
        git_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """git disappears between the fetch and the read: a failed fetch is reported, the commit is neither rejected
    nor audited, and the next refresh (git back) reads and accepts the same commit."""
    head = git_repo.commit(small_fleet())
    path = os.environ["PATH"]
    clone = WatchedClone(Source(str(git_repo.root), "main"), tmp_path / "data",
                         after_fetch=lambda: without_git(monkeypatch, tmp_path))
    reconciler = reconciler_for(clone, tmp_path / "data")
    assert asyncio.run(reconciler.refresh()) is False
    assert "git is not installed" in (reconciler.status.fetch_error or "")
    assert reconciler.status.invalid is None and reconciler.status.last_good is None
    assert rejections(reconciler) == []

    clone.after_fetch = lambda: None
    monkeypatch.setenv("PATH", path)
    assert asyncio.run(reconciler.refresh()) is True
    assert reconciler.status.last_good == head and reconciler.status.fetch_error is None
