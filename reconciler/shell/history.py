"""The history of files in git: every committed version of the files under a directory, with its time.

Where it sits: entitlements billed over time (rental selections, D1.5; hosted telephony, D3.5)
are rebuilt from the repository's own history, so costs are auditable from git alone. The app
asks `versions` for a fleet directory and hands the versions to the core. Uncommitted changes are
not history: `uncommitted` names them, so the output can say they do not count yet.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import git

from reconciler.errors import SourceError
from reconciler.shell.sources import _cat_blobs, _prefix, _repo, _resolve, _stderr


@dataclass(frozen=True)
class FileVersion:
    path: str  # relative to the fleet root
    commit: str
    committed_at: dt.datetime
    data: bytes | None  # None: deleted by this commit


def versions(root: Path, directory: str, rev: str | None = None) -> list[FileVersion]:
    """Every version of the files under `directory` (relative to the fleet root) up to `rev` (HEAD), oldest first."""
    repo = _repo(root.resolve())
    if repo is None:
        return []
    return _versions(repo, _prefix(repo, root.resolve()), directory, rev or "HEAD")


def versions_in(repository: Path, subdirectory: str, directory: str, rev: str) -> list[FileVersion]:
    """The same for a (bare) repository whose fleet is in `subdirectory` (the daemon's clone)."""
    prefix = subdirectory.strip("/") + "/" if subdirectory.strip("/") else ""
    return _versions(git.Repo(repository), prefix, directory, rev)


def _versions(repo: git.Repo, prefix: str, directory: str, rev: str) -> list[FileVersion]:
    try:
        head = _resolve(repo, rev)
    except SourceError:
        return []  # no commit yet
    try:
        log = repo.git.log("--reverse", "--format=%x00%H %ct", "--name-status", "--no-renames", head, "--",
                           prefix + directory)
    except git.GitCommandError as exc:
        raise SourceError(f"git cannot read the history of {directory}: {_stderr(exc)}") from None
    changes = _parse_log(log, prefix)
    wanted = [blob for blob in (_blob(repo, commit, prefix + path) for commit, _, path, status in changes
                                if status != "D") if blob]
    contents = _cat_blobs(repo, sorted(set(wanted)))
    result = []
    for commit, when, path, status in changes:
        blob = None if status == "D" else _blob(repo, commit, prefix + path)
        result.append(FileVersion(path, commit, when, contents.get(blob) if blob else None))
    return result


def _parse_log(log: str, prefix: str) -> list[tuple[str, dt.datetime, str, str]]:
    changes = []
    for record in log.split("\x00"):
        lines = [line for line in record.splitlines() if line.strip()]
        if not lines:
            continue
        commit, stamp = lines[0].split()
        when = dt.datetime.fromtimestamp(int(stamp), dt.UTC)
        for line in lines[1:]:
            status, path = line.split("\t", 1)
            changes.append((commit, when, path.removeprefix(prefix), status[0]))
    return changes


def _blob(repo: git.Repo, commit: str, path: str) -> str | None:
    try:
        return str(repo.git.rev_parse(f"{commit}:{path}")).strip() or None
    except git.GitCommandError:
        return None


def uncommitted(root: Path, directory: str) -> list[str]:
    """Files under `directory` whose working-tree content differs from HEAD (not billed until committed)."""
    repo = _repo(root.resolve())
    if repo is None:
        return []
    prefix = _prefix(repo, root.resolve())
    try:
        output = repo.git.status("--porcelain", "--untracked-files=all", "--", prefix + directory)
    except git.GitCommandError:
        return []
    return sorted(line[3:].removeprefix(prefix) for line in output.splitlines() if line.strip())
