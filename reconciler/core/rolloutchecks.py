"""Rollout checks: `rollouts.yaml` against the fleet it governs, and the policy handed on.

Where it sits: `validation.build_fleet` calls `check_rollouts` once the fleet is resolved (the
file's own shape was checked by `loading` against `models.rollouts`); the policy it returns
becomes `Fleet.rollouts`, which the rollout engine reads. Here: strategy names in `assign`, the
groups and sites `assign` and windows name (via `references.unknown`), a `default` strategy when
some device matches no rule, duplicate window names; warnings for tags no device carries, unused
strategies, `revert` without a health check, and devices a window applies to that have no site
(no time zone: they are changed at any time).
"""

from __future__ import annotations

from collections.abc import Iterator, Set
from dataclasses import dataclass

from reconciler.core.fleets import Fleet, Located
from reconciler.core.models.rollouts import DEFAULT_POLICY, DEFAULT_STRATEGY, RolloutsFile, Targets
from reconciler.core.problems import Origin, Problem, did_you_mean, error, warning
from reconciler.core.references import unknown
from reconciler.core.rollouts.assigning import assigned_strategy, matches

SHOWN = 3  # devices named in one problem, then "and N more"


@dataclass(frozen=True, slots=True)
class CheckedRollouts:
    """The policy the fleet follows (`DEFAULT_POLICY` without the file) and what is wrong with the file."""

    policy: RolloutsFile
    problems: tuple[Problem, ...]


def check_rollouts(item: Located | None, fleet: Fleet, broken: Set[str]) -> CheckedRollouts:
    """A purely computational function: check `rollouts.yaml` (None: absent or broken) against `fleet`."""
    if item is None:
        return CheckedRollouts(DEFAULT_POLICY, ())
    policy: RolloutsFile = item.spec
    names = _Names(fleet, broken, frozenset(tag for device in fleet.devices.values() for tag in device.tags))
    problems = [
        *_assign_problems(policy, item.origin, names),
        *_window_problems(policy, item.origin, names),
        *_strategy_problems(policy, item.origin),
    ]
    return CheckedRollouts(policy, tuple(problems))


@dataclass(frozen=True, slots=True)
class _Names:
    """What names in rollouts.yaml are checked against."""

    fleet: Fleet
    broken: Set[str]  # kinds with a broken file: their names may be missing
    tags: Set[str]  # every tag a device carries


def _assign_problems(policy: RolloutsFile, origin: Origin, names: _Names) -> Iterator[Problem]:
    fleet, broken = names.fleet, names.broken
    for index, rule in enumerate(policy.assign):
        at = origin.child("assign", index)
        if rule.strategy not in policy.strategies:
            message = f"unknown strategy {rule.strategy!r}{did_you_mean(rule.strategy, policy.strategies)}"
            yield error("unknown-strategy", message, at.child("strategy"))
        yield from _target_problems(rule, at, names)
    if DEFAULT_STRATEGY not in policy.strategies and "devices" not in broken:
        left = [name for name, device in fleet.devices.items() if assigned_strategy(device, policy) is None]
        if left:
            message = (f"no strategy named {DEFAULT_STRATEGY!r}, and {_some(left)} match no assign rule: add a "
                       f"{DEFAULT_STRATEGY!r} strategy or a rule for them")
            yield error("no-default-strategy", message, origin.key("strategies"))


def _window_problems(policy: RolloutsFile, origin: Origin, names: _Names) -> Iterator[Problem]:
    first: dict[str, int] = {}
    for index, window in enumerate(policy.windows):
        at = origin.child("windows", index)
        if window.name in first:
            message = f"duplicate window name {window.name!r} (also windows[{first[window.name]}])"
            yield error("duplicate-window", message, at.child("name"))
        first.setdefault(window.name, index)
        if window.applies_to is not None:
            yield from _target_problems(window.applies_to, at.child("applies_to"), names)
        siteless = [d.name for d in names.fleet.devices.values()
                    if d.site is None and (window.applies_to is None or matches(window.applies_to, d))]
        if siteless:
            message = (f"window {window.name!r} applies to {_some(siteless)} without a site: with no time zone "
                       "they are changed at any time (give them a site)")
            yield warning("window-without-zone", message, at)


def _target_problems(targets: Targets, origin: Origin, names: _Names) -> Iterator[Problem]:
    fleet, broken = names.fleet, names.broken
    for index, group in enumerate(targets.groups):
        if group not in fleet.groups:
            yield from unknown("group", group, fleet.groups, origin.child("groups", index), broken)
    for index, site in enumerate(targets.sites):
        if site not in fleet.sites:
            yield from unknown("site", site, fleet.sites, origin.child("sites", index), broken)
    for index, tag in enumerate(targets.tags):
        if tag not in names.tags and "devices" not in broken:
            yield warning("unused-tag", f"no device carries the tag {tag!r}{did_you_mean(tag, names.tags)}",
                          origin.child("tags", index))


def _strategy_problems(spec: RolloutsFile, origin: Origin) -> Iterator[Problem]:
    used = {rule.strategy for rule in spec.assign} | {DEFAULT_STRATEGY}
    for name, strategy in spec.strategies.items():
        if name not in used:
            message = f"strategy {name!r} is neither {DEFAULT_STRATEGY!r} nor named by an assign rule: unused"
            yield warning("unused-strategy", message, origin.child("strategies").key(name))
        if strategy.revert and strategy.health is None:
            message = f"strategy {name!r}: revert acts on a failed health check, and there is no health check"
            yield warning("revert-without-health", message, origin.child("strategies", name, "revert"))


def _some(names: list[str]) -> str:
    shown = ", ".join(repr(name) for name in names[:SHOWN])
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    noun = "device" if len(names) == 1 else "devices"
    return f"{noun} {shown}{more}"
