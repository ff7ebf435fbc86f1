"""The history of files in git: every committed version of the files under a directory, with its time.

Where it sits: entitlements billed over time (rental selections, D1.5; hosted telephony, D3.5)
are rebuilt from the repository's own history, so costs are auditable from git alone. Billing
(`shell.billing`) asks a `FleetRepository` for the versions under a directory; `WorkTree`
(`repositories`) and `Clone` (`clones`) answer from here. Uncommitted changes are not history:
`uncommitted` names them, so the output can say they do not count yet.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import git

from reconciler.errors import SourceError

from . import plumbing
from .protocol import FileVersion


def versions(root: Path, directory: str, rev: str | None = None) -> list[FileVersion]:
    """Every version of the files under `directory` (relative to the fleet root) up to `rev` (HEAD), oldest first."""
    with plumbing.git_running(f"cannot read the history of {directory}"):
        repo = plumbing.find_repository(root.resolve())
        if repo is None:
            return []
        return _versions(repo, plumbing.fleet_prefix(repo, root.resolve()), directory, rev or "HEAD")


def versions_in(repository: Path, subdirectory: str, directory: str, rev: str) -> list[FileVersion]:
    """The same for a (bare) repository whose fleet is in `subdirectory` (the daemon's clone)."""
    with plumbing.git_running(f"cannot read the history of {directory}"):
        repo = plumbing.open_repository(repository)
        return _versions(repo, plumbing.subdirectory_prefix(subdirectory), directory, rev)


def _versions(repo: git.Repo, prefix: str, directory: str, rev: str) -> list[FileVersion]:
    try:
        head = plumbing.resolve(repo, rev)
    except SourceError:
        return []  # no commit yet
    try:
        # the first-parent line: a change merged from a branch counts from the merge, when it reached the branch
        log = repo.git.log("--reverse", "--first-parent", "--diff-merges=first-parent", "--format=%x00%H %ct",
                           "--raw", "--no-abbrev", "--no-renames", head, "--", prefix + directory)
    except git.GitCommandError as exc:
        raise SourceError(f"git cannot read the history of {directory}: {plumbing.stderr_text(exc)}") from None
    changes = _parse_log(log, prefix)
    contents = plumbing.cat_blobs(repo, sorted({blob for *_, blob in changes if blob}))
    return [FileVersion(path, commit, when, contents.get(blob) if blob else None)
            for commit, when, path, blob in changes]


def _parse_log(log: str, prefix: str) -> list[tuple[str, dt.datetime, str, str | None]]:
    """(commit, time, path, blob id or None where the commit deleted the file) from `git log --raw`."""
    changes = []
    for record in log.split("\x00"):
        lines = [line for line in record.splitlines() if line.strip()]
        if not lines:
            continue
        commit, stamp = lines[0].split()
        when = dt.datetime.fromtimestamp(int(stamp), dt.UTC)
        for line in lines[1:]:
            meta, path = line.split("\t", 1)  # ":100644 100644 <old blob> <new blob> M"
            status, blob = meta.split()[4][0], meta.split()[3]
            changes.append((commit, when, path.removeprefix(prefix), None if status == "D" else blob))
    return changes


def uncommitted(root: Path, directory: str) -> list[str]:
    """Files under `directory` whose working-tree content differs from HEAD (not billed until committed)."""
    with plumbing.git_running(f"cannot tell the uncommitted files of {directory}"):
        repo = plumbing.find_repository(root.resolve())
        if repo is None:
            return []
        prefix = plumbing.fleet_prefix(repo, root.resolve())
        try:
            output = repo.git.status("--porcelain", "--untracked-files=all", "--", prefix + directory)
        except git.GitCommandError:
            return []
    return sorted(line[3:].removeprefix(prefix) for line in output.splitlines() if line.strip())
