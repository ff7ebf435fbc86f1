"""`serve --watch` (development): on every save in the working tree, validate it and show the plan.

Where it sits: `service` runs `watch` next to the reconcile loop when the source is a local work
tree. Each batch of saved files (watchfiles) loads the working tree as it is, prints its problems
or the plan it would cause against the routers' state as last observed, and applies nothing:
only a commit to the followed branch is applied (a change under `.git/` wakes the reconciler,
which fetches it like any other commit).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import TextIO

import watchfiles

from reconciler.app.planning import plan_revision
from reconciler.app.verdicts import History, judge_revision
from reconciler.core.presenting.text import plan_text, problems_summary, problems_text
from reconciler.errors import ReconcilerError
from reconciler.shell.revisions import FleetLoader

from .config import DaemonConfig
from .reconciling import Reconciler

log = logging.getLogger("reconciler.daemon.watch")


async def watch(config: DaemonConfig, reconciler: Reconciler, stop: asyncio.Event,
                out: TextIO | None = None) -> None:
    """Until `stop`: print what each save would do; wake the reconciler on a commit."""
    root = Path(config.source).resolve() / (config.path or "")
    if not root.is_dir():
        log.error("--watch needs a local working tree, not %s", config.source)
        return
    reconciler.keep_snapshot = True
    loader = FleetLoader()
    top = Path(reconciler.clone.source.url)
    watched = [root] + ([top / ".git"] if (top / ".git").is_dir() else [])
    log.info("watching %s: saves are validated and planned, only commits are applied", root)
    async for changes in watchfiles.awatch(*watched, stop_event=stop, debounce=300, recursive=True):
        paths = [Path(path) for _, path in changes]
        if any(".git" in path.parts for path in paths):
            reconciler.wake("commit in the watched work tree", full=False)
        if any(".git" not in path.relative_to(top).parts for path in paths if path.is_relative_to(top)):
            report = await asyncio.to_thread(_preview, loader, root, reconciler)
            (out or sys.stdout).write(report)
            (out or sys.stdout).flush()


def _preview(loader: FleetLoader, root: Path, reconciler: Reconciler) -> str:
    """The working tree's problems, or its plan against the last observed state."""
    try:
        revision = loader.load(root)
    except ReconcilerError as exc:
        return f"--- saved: cannot load the working tree: {exc}\n"
    verdict = judge_revision(revision, reconciler.clock.now(), History(root), jobs=1)
    if not verdict.ok:
        return "--- saved: not valid (nothing will be applied)\n" + "\n".join(
            [*problems_text(verdict.errors), problems_summary(verdict.errors, revision.label, None)]) + "\n"
    snapshot = reconciler.snapshot
    if snapshot is None or revision.build.fleet is None:
        return "--- saved: valid; no observed state yet to plan against\n"
    plan = plan_revision(revision, snapshot, reconciler.clock.now(), jobs=1)
    return "--- saved: valid; commit to apply this plan\n" + plan_text(plan)
