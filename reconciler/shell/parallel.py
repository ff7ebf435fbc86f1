"""Spreading whole-fleet work (rendering 20,000 configurations) over the machine's cores.

Where it sits: `app` binds `jobs` and hands `map_slices` to the core's whole-fleet passes
(`plans.plan_fleet`, `changes.diff_revisions`) as their `slices.SliceMapper`, and calls it itself
for the render failures `validate` reports. It forks worker processes that inherit the loaded
fleet (copy-on-write, nothing re-read or re-parsed), each computes its slices with the pure core,
and only the (small) results travel back.
Below `MIN_PARALLEL` items, or with one job, everything runs in this process.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
MIN_PARALLEL = 2_000
SLICE = 500

_state: Any = None
_function: Callable[[Any, Sequence[str]], list[Any]] | None = None


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def map_slices(function: Callable[[Any, Sequence[str]], list[T]], state: Any, names: Sequence[str],
               jobs: int | None = None) -> list[T]:
    """`function(state, slice)` over slices of `names`, concatenated in order."""
    jobs = default_jobs() if jobs is None else jobs
    # Frozen objects (the loaded fleet) are never scanned by the collector while the pass allocates
    # and drops a configuration per device; forked workers do not copy its pages just to scan them.
    gc.freeze()
    if jobs <= 1 or len(names) < MIN_PARALLEL or "fork" not in multiprocessing.get_all_start_methods():
        return function(state, names)
    return _forked(function, state, names, jobs)


def _forked(function: Callable[[Any, Sequence[str]], list[T]], state: Any, names: Sequence[str],
            jobs: int) -> list[T]:
    global _state, _function  # noqa: PLW0603 - inherited by the forked workers, never shared back
    _state, _function = state, function
    slices = [names[start:start + SLICE] for start in range(0, len(names), SLICE)]
    try:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            parts = pool.map(_run, slices, chunksize=1)
    finally:
        _state = _function = None
    return [item for part in parts for item in part]


def _run(names: Sequence[str]) -> list[Any]:
    assert _function is not None
    return _function(_state, names)
