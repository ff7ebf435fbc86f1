"""What the daemon follows: its SOURCE argument made a `Source` (a repository, a branch, a subdirectory).

Where it sits: `service` resolves the command line's SOURCE, `--branch` and `--path` here once,
at start, and hands the `Source` to the daemon's clone (`shell.git.clones.Clone`), which fetches
it; `licensing` remembers it in the store. This module holds the daemon's policy only (what a
SOURCE may be, which branch is followed when none is given); git itself is in `shell.git`.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.errors import SourceError
from reconciler.shell.git.clones import Source
from reconciler.shell.git.repositories import enclosing

_URL_SCHEMES = ("file://", "ssh://", "https://", "http://", "git://")
DEFAULT_BRANCH = "main"


def resolve_source(source: str, branch: str | None, subdirectory: str | None) -> Source:
    """`SOURCE` as given on the command line: a URL, a (bare) repository, or a path inside a work tree.

    A path inside a work tree follows that repository, with the path below its top as the fleet's
    subdirectory, and (without `--branch`) the branch checked out there.
    """
    sub = (subdirectory or "").strip("/")
    if source.startswith(_URL_SCHEMES) or ("@" in source and ":" in source and not Path(source).exists()):
        return Source(source, branch or DEFAULT_BRANCH, sub)
    path = Path(source).resolve()
    if not path.exists():
        raise SourceError(f"{source}: no such directory, and not a URL git can fetch from")
    found = enclosing(path)
    if found is None:
        raise SourceError(f"{source} is not inside a git repository (serve follows commits; run git init)")
    if found.bare:
        return Source(str(found.top), branch or DEFAULT_BRANCH, sub)
    joined = "/".join(part for part in (found.inner, sub) if part)
    return Source(str(found.top), branch or found.branch or DEFAULT_BRANCH, joined)
