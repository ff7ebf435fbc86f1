"""Planning a revision: the one place outside the core that composes a plan.

Where it sits: `plan --observed` (`app.offline`), the reconcile use case (`app.reconciling`: plan
--live, apply, the daemon's cycle) and `serve --watch` plan through `plan_revision`; it hands the
core's `plan_fleet` the revision's renderer and digest and spreads rendering over processes
(`shell.parallel`). Kept apart from `reconciling` so the offline commands need no router driver.
"""

from __future__ import annotations

import datetime as dt
import functools

from reconciler.core.observed import ObservedSnapshot
from reconciler.core.plans import Plan, plan_fleet
from reconciler.shell.parallel import map_slices
from reconciler.shell.revisions import LoadedRevision


def plan_revision(revision: LoadedRevision, snapshot: ObservedSnapshot, now: dt.datetime, *,
                  jobs: int | None = None, keys: bool = True) -> Plan:
    """The plan of a revision against observed state (`jobs`: processes to render in; 1 in the daemon).

    Without `keys` the configuration actions keep their summaries but not their key-by-key changes
    (an apply plans each device again as it starts; a factory fleet has a million key changes).
    """
    fleet = revision.build.fleet
    assert fleet is not None
    return plan_fleet(fleet, revision.renderer(), snapshot, revision.source.revision, now, revision.content,
                      functools.partial(map_slices, jobs=jobs), keys)
