"""Fleet repositories in git: the one place the project talks to git.

Where it sits: in the shell, under the loader (`shell.revisions`), billing (`shell.billing`) and the
daemon, which reach a repository through the small `protocol.FleetRepository`: a revision's files,
the versions of the files under a directory, the uncommitted ones, a commit's author. The modules,
by concern:

- `protocol`: that protocol and the values it returns (`RevisionFiles`, `FileVersion`); no git here;
- `plumbing`: opening a repository, resolving revisions, reading many blobs through one
  `git cat-file --batch`, and turning git's failures into `SourceError`s where they enter;
- `worktrees`: the files of a working tree (listed by `git ls-files`, opened as regular files only);
- `repositories`: the files of a revision (`git ls-tree` + one batch of blobs) and `WorkTree`, a
  fleet directory as a `FleetRepository`;
- `history`: every committed version of the files under a directory, in first-parent order;
- `clones`: the daemon's bare clone that follows a branch (`Clone`, also a `FleetRepository`).

GitPython is imported here only (an architecture test says so). Where git is not installed,
importing GitPython would fail the whole process; it is told to stay quiet instead, so that the
first command that needs git fails with a `SourceError` that says so.
"""

from __future__ import annotations

import os

# Before any module of this package imports GitPython (which checks for git when imported).
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
