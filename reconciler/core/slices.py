"""Slices: how a whole-fleet pass (planning, diffing: a render per device) has its slices computed.

Where it sits: `plans.plan_fleet` and `changes.diff_revisions` split their work into a per-slice
function of (state, device names) and hand it to a `SliceMapper`. `serial`, the default, computes
everything in one slice, here; `app` passes the shell's `parallel.map_slices` (with `jobs` bound),
which forks workers for a large fleet. Either way the result is the same list, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class SliceMapper(Protocol):
    """`function(state, slice)` over slices of `names`, concatenated in order."""

    def __call__(self, function: Callable[[Any, Sequence[str]], list[T]], state: Any,
                 names: Sequence[str]) -> list[T]: ...


def serial(function: Callable[[Any, Sequence[str]], list[T]], state: Any, names: Sequence[str]) -> list[T]:
    """The mapper that computes all `names` in one slice, in this process."""
    return function(state, names)
