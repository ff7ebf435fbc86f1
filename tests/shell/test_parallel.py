"""Whole-fleet work spread over processes gives what one process gives, in order."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from pathlib import Path

from bench.fleetgen import generate
from bench.snapshots import synthesize
from reconciler import app
from reconciler.core.observed import snapshot_json
from reconciler.shell.parallel import MIN_PARALLEL, map_slices
from reconciler.shell.revisions import FleetLoader


def tagged(state: str, names: Sequence[str]) -> list[tuple[str, int]]:
    return [(f"{state}:{name}", os.getpid()) for name in names]


def test_slices_run_in_worker_processes_and_come_back_in_order() -> None:
    """With two jobs, a large list is computed in forked workers; the result equals the serial one."""
    names = [f"dev-{i:05d}" for i in range(MIN_PARALLEL + 1_000)]
    parallel = map_slices(tagged, "fleet", names, jobs=2)
    serial = map_slices(tagged, "fleet", names, jobs=1)
    assert [value for value, _ in parallel] == [value for value, _ in serial] == [f"fleet:{n}" for n in names]
    assert os.getpid() not in {pid for _, pid in parallel}
    assert {pid for _, pid in serial} == {os.getpid()}


def test_small_lists_stay_in_this_process() -> None:
    """Below the threshold forking costs more than it saves: everything runs here."""
    result = map_slices(tagged, "x", ["a", "b"], jobs=4)
    assert result == [("x:a", os.getpid()), ("x:b", os.getpid())]


def test_a_plan_over_forked_workers_equals_the_plan_of_one_process(tmp_path: Path) -> None:
    """A generated fleet above the threshold plans the same with two processes as with one."""
    fleet = generate(tmp_path / "fleet", devices=MIN_PARALLEL + 100)
    revision = FleetLoader().load(fleet)
    assert revision.ok and revision.build.fleet is not None
    observed = tmp_path / "observed.json"
    observed.write_bytes(snapshot_json(synthesize(revision.build.fleet, revision.renderer())))
    now = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC)
    one = app.plan(fleet, observed, None, "json", None, False, now=now, jobs=1)
    two = app.plan(fleet, observed, None, "json", None, False, now=now, jobs=2)
    assert one.output == two.output
    assert json.loads(one.output)["counts"]["changes"] > 0
