"""Assigning: which strategy a device follows, and whether a device is among some targets.

Where it sits: `rolloutchecks` uses these to check `rollouts.yaml` against the fleet; `waves`
groups the devices that change by strategy with `strategy_of`; `windows` picks the windows that
apply to a device with `matches`. Pure functions of the policy and the device.
"""

from __future__ import annotations

from reconciler.core.fleets import Device
from reconciler.core.models.rollouts import DEFAULT_STRATEGY, RolloutsFile, StrategySpec, Targets


def matches(targets: Targets, device: Device) -> bool:
    """Whether the device is in one of the groups, at one of the sites, or carries one of the tags."""
    site = device.site.name if device.site is not None else None
    return (
        any(group in targets.groups for group in device.groups)
        or (site is not None and site in targets.sites)
        or any(tag in targets.tags for tag in device.tags)
    )


def assigned_strategy(device: Device, policy: RolloutsFile) -> str | None:
    """The strategy the first matching `assign` rule names; else `default` if the policy has it, else None.

    None happens only for a policy that did not pass validation (`rolloutchecks` reports it).
    """
    for rule in policy.assign:
        if matches(rule, device):
            return rule.strategy
    return DEFAULT_STRATEGY if DEFAULT_STRATEGY in policy.strategies else None


def strategy_of(device: Device, policy: RolloutsFile) -> tuple[str, StrategySpec]:
    """The name and spec of the strategy the device follows (a validated policy always has one)."""
    name = assigned_strategy(device, policy)
    spec = policy.strategies.get(name) if name is not None else None
    if name is None or spec is None:
        raise ValueError(f"device {device.name!r}: no strategy (the rollout policy did not pass validation)")
    return name, spec
