"""Following a branch: the daemon's own clone of the fleet repository, fetched on a poll or a webhook.

Where it sits: `reconciling.Reconciler` calls `Follower.fetch` (in a worker thread: git is a
subprocess) before each cycle and reads the commit it returns with `shell.sources.read_commit`.
The clone is a bare repository in the data directory; a forced fetch of the one branch makes
force-pushes simply move it, and a deleted branch leaves the last fetched commit in place (the
error says so). The last good commit is pinned under `refs/reconciler/last-good`, so git's
housekeeping never drops the revision the daemon keeps reconciling.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import git

from reconciler.errors import SourceError

CLONE_DIR = "repository.git"
LAST_GOOD_REF = "refs/reconciler/last-good"
GIT_TIMEOUT_S = 300
_URL_SCHEMES = ("file://", "ssh://", "https://", "http://", "git://")


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


def resolve_source(source: str, branch: str | None, subdirectory: str | None) -> Source:
    """`SOURCE` as given on the command line: a URL, a (bare) repository, or a path inside a work tree.

    A path inside a work tree follows that repository, with the path below its top as the fleet's
    subdirectory, and (without `--branch`) the branch checked out there.
    """
    sub = (subdirectory or "").strip("/")
    if source.startswith(_URL_SCHEMES) or ("@" in source and ":" in source and not Path(source).exists()):
        return Source(source, branch or "main", sub)
    path = Path(source).resolve()
    if not path.exists():
        raise SourceError(f"{source}: no such directory, and not a URL git can fetch from")
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except git.InvalidGitRepositoryError:
        raise SourceError(f"{source} is not inside a git repository (serve follows commits; run git init)") from None
    if repo.bare:
        return Source(str(Path(repo.git_dir).resolve()), branch or "main", sub)
    top = Path(repo.working_tree_dir or path).resolve()
    inner = path.relative_to(top).as_posix()
    joined = "/".join(part for part in (inner if inner != "." else "", sub) if part)
    return Source(str(top), branch or _checked_out(repo) or "main", joined)


def _checked_out(repo: git.Repo) -> str | None:
    try:
        return repo.active_branch.name
    except (TypeError, ValueError):  # a detached HEAD
        return None


class Follower:
    """The daemon's clone: `fetch` brings the branch up to date and returns its head commit."""

    def __init__(self, source: Source, data_dir: Path) -> None:
        self.source = source
        self.path = data_dir / CLONE_DIR
        self._repo: git.Repo | None = None

    def fetch(self) -> str:
        """Fetch the branch (a force-push just moves it); its head commit. Raises SourceError."""
        repo = self._clone()
        ref = f"refs/heads/{self.source.branch}"
        try:
            repo.git.fetch("--no-tags", "--force", "--quiet", "--end-of-options", self.source.url, f"+{ref}:{ref}",
                           kill_after_timeout=GIT_TIMEOUT_S, env=_no_prompts())
        except git.GitCommandError as exc:
            raise SourceError(_fetch_error(self.source, exc)) from None
        return str(repo.git.rev_parse("--verify", f"{ref}^{{commit}}")).strip()

    def pin_last_good(self, commit: str) -> None:
        """Keep `commit` reachable whatever happens to the branch."""
        self._clone().git.update_ref(LAST_GOOD_REF, commit)

    def last_good(self) -> str | None:
        """The commit pinned by an earlier run of the daemon, if any."""
        try:
            return str(self._clone().git.rev_parse("--verify", "--quiet", LAST_GOOD_REF)).strip() or None
        except git.GitCommandError:
            return None

    def author(self, commit: str) -> str:
        """Who wrote `commit` (`name <email>`), as the audit log of a rejected revision names it."""
        try:
            return str(self._clone().git.show("-s", "--format=%an <%ae>", commit)).strip() or "unknown"
        except git.GitCommandError:
            return "unknown"

    def _clone(self) -> git.Repo:
        if self._repo is None:
            if (self.path / "HEAD").is_file():
                self._repo = git.Repo(self.path)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._repo = git.Repo.init(self.path, bare=True)
        return self._repo


def _no_prompts() -> dict[str, str]:
    """git must never wait for a password on a terminal the daemon does not have."""
    return {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "SSH_ASKPASS": "true",
            "GIT_SSH_COMMAND": os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")}


def _fetch_error(source: Source, exc: git.GitCommandError) -> str:
    text = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else str(exc.stderr or "")
    text = " ".join(text.replace("stderr:", "").split()).strip(" '")
    if "couldn't find remote ref" in text:
        return (f"the branch {source.branch!r} does not exist in {source.url} (deleted?); "
                "keeping the last fetched commit")
    return f"cannot fetch {source.label}: {text or exc}"
