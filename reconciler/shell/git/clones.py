"""Following a branch: the daemon's own bare clone of the fleet repository, fetched on a poll or a webhook.

Where it sits: the daemon (`daemon.reconciling.Reconciler`) calls `Clone.fetch` (in a worker
thread: git is a subprocess) before each cycle and reads the commit it returns with `Clone.read`;
billing reads the clone's history through the same `FleetRepository` protocol. What to follow
(`Source`) is worked out from the daemon's SOURCE argument by `daemon.following`. The clone is a
bare repository in the data directory; a forced fetch of the one branch makes force-pushes simply
move it, and a deleted branch leaves the last fetched commit in place (the error says so). The
last good commit is pinned under `refs/reconciler/last-good`, so git's housekeeping never drops
the revision the daemon keeps reconciling. Every failure, git's or starting git's, is a
`SourceError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import git

from reconciler.errors import SourceError

from . import history
from .plumbing import author, git_running, stderr_text
from .protocol import FileVersion, RevisionFiles
from .repositories import read_commit

CLONE_DIR = "repository.git"
LAST_GOOD_REF = "refs/reconciler/last-good"
GIT_TIMEOUT_S = 300


@dataclass(frozen=True)
class Source:
    """What the daemon follows: a repository git can fetch from, a branch, a subdirectory with the fleet."""

    url: str
    branch: str
    subdirectory: str = ""

    @property
    def label(self) -> str:
        where = f" ({self.subdirectory}/)" if self.subdirectory else ""
        return f"{self.url}@{self.branch}{where}"


class Clone:
    """The daemon's clone: `fetch` brings the branch up to date and returns its head commit."""

    def __init__(self, source: Source, data_dir: Path) -> None:
        self.source = source
        self.path = data_dir / CLONE_DIR
        self._repo: git.Repo | None = None

    @property
    def _branch_ref(self) -> str:
        return f"refs/heads/{self.source.branch}"

    def fetch(self) -> str:
        """Fetch the branch (a force-push just moves it); its head commit. Raises SourceError."""
        ref = self._branch_ref
        with git_running(f"cannot fetch {self.source.label}"):
            repo = self._clone()
            try:
                repo.git.fetch("--no-tags", "--force", "--quiet", "--end-of-options", self.source.url, f"+{ref}:{ref}",
                               kill_after_timeout=GIT_TIMEOUT_S, env=_no_prompts())
                return str(repo.git.rev_parse("--verify", f"{ref}^{{commit}}")).strip()
            except git.GitCommandError as exc:
                raise SourceError(_fetch_error(self.source, exc)) from None

    def pin_last_good(self, commit: str) -> None:
        """Keep `commit` reachable whatever happens to the branch."""
        with git_running(f"cannot pin {commit[:10]}"):
            try:
                self._clone().git.update_ref(LAST_GOOD_REF, commit)
            except git.GitCommandError as exc:
                raise SourceError(f"cannot pin {commit[:10]} in {self.path}: {stderr_text(exc)}") from None

    def last_good(self) -> str | None:
        """The commit pinned by an earlier run of the daemon, if any."""
        with git_running(f"cannot read the last good commit of {self.path}"):
            try:
                return str(self._clone().git.rev_parse("--verify", "--quiet", LAST_GOOD_REF)).strip() or None
            except git.GitCommandError:
                return None

    # --- FleetRepository ---------------------------------------------------------------------------------

    def read(self, rev: str | None = None) -> RevisionFiles:
        """The fleet at `rev` (None: the branch as last fetched)."""
        return read_commit(self.path, rev or self._branch_ref, self.source.subdirectory)

    def versions(self, directory: str, rev: str | None = None) -> list[FileVersion]:
        return history.versions_in(self.path, self.source.subdirectory, directory, rev or self._branch_ref)

    def uncommitted(self, directory: str) -> list[str]:
        return []  # a bare clone has no working tree

    def author(self, commit: str) -> str:
        """Who wrote `commit` (`name <email>`), as the audit log of a rejected revision names it."""
        try:
            repo = self._clone()
        except SourceError:
            return "unknown"
        return author(repo, commit)

    def _clone(self) -> git.Repo:
        """The bare clone, made on first use. Raises SourceError."""
        if self._repo is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SourceError(f"cannot make the clone's directory {self.path.parent}: {exc.strerror}") from None
            with git_running(f"cannot open the clone {self.path}"):
                try:
                    made = (self.path / "HEAD").is_file()
                    self._repo = git.Repo(self.path) if made else git.Repo.init(self.path, bare=True)
                except (git.InvalidGitRepositoryError, git.GitCommandError) as exc:
                    raise SourceError(f"cannot open the clone {self.path}: {exc}") from None
        return self._repo


def _no_prompts() -> dict[str, str]:
    """git must never wait for a password on a terminal the daemon does not have."""
    return {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "SSH_ASKPASS": "true",
            "GIT_SSH_COMMAND": os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")}


def _fetch_error(source: Source, exc: git.GitCommandError) -> str:
    text = stderr_text(exc)
    if "couldn't find remote ref" in text:
        return (f"the branch {source.branch!r} does not exist in {source.url} (deleted?); "
                "keeping the last fetched commit")
    return f"cannot fetch {source.label}: {text or exc}"
