"""The API licence (D0.23): no API use, and no new API tokens, without a valid one.

Where it sits: `api`'s authentication asks `api_licence_problem` on every request with a token,
for the revision the daemon reconciles; `commands.token_create` asks it for the revision the
daemon in that data directory last found good (the pinned commit of its clone). A fleet whose
repository holds no licence files is not licence-managed: nothing is gated (our reading; the
licences are then kept elsewhere).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

from reconciler.core.entitlements.licences import LicenceReport, evaluate
from reconciler.errors import ReconcilerError
from reconciler.shell.git.clones import Clone, Source
from reconciler.shell.revisions import FleetLoader, LoadedRevision
from reconciler.shell.store import Store

SOURCE_KEY = "daemon.source"


_judged: dict[tuple[str, dt.date], LicenceReport] = {}  # per revision and day: not every request verifies signatures


def api_licence_problem(revision: LoadedRevision | None, now: dt.datetime) -> str | None:
    """Why the API may not be used now, or None (a valid API or trial licence, or no licences kept)."""
    fleet = revision.build.fleet if revision is not None else None
    if revision is None or fleet is None:
        return None
    day = now.astimezone(ZoneInfo(fleet.spec.timezone)).date()
    key = (revision.content, day)
    report = _judged.get(key)
    if report is None:
        if len(_judged) > 16:
            _judged.clear()
        report = _judged[key] = evaluate(revision.build.entitlements, fleet.spec.variant.value, len(fleet.devices),
                                         day)[0]
    if not report.managed or report.api:
        return None
    return (f"no valid API licence on {report.at} (D0.23): the fleet's licences/ holds no API licence "
            f"(article 10023613 or 10023616) valid that day; see `reconciler licences`")


def remember_source(store: Store, source: Source) -> None:
    store.set_meta(SOURCE_KEY, json.dumps(dataclasses.asdict(source)))


def followed_revision(data_dir: Path, store: Store) -> LoadedRevision | None:
    """The last good revision of the daemon that keeps its state in `data_dir`, if it ever ran."""
    saved = store.meta(SOURCE_KEY)
    if saved is None:
        return None
    clone = Clone(Source(**json.loads(saved)), data_dir)
    try:
        commit = clone.last_good()
        return FleetLoader().load_files(clone.read(commit)) if commit is not None else None
    except ReconcilerError:
        return None
