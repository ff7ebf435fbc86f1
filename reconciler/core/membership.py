"""Membership: which devices each group holds (explicit members, the device's own `groups`, selectors).

Where it sits: `building` asks it before merging fields by precedence (`precedence`); the
incremental rebuild (`memos.environment_key`) keys on what decides membership.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reconciler.core.models import (
    DeviceSpec,
    GroupSpec,
    Selector,
)


def selects(selector: Selector, device: DeviceSpec) -> bool:
    """Whether a label selector matches a device: every given condition holds."""
    if selector.model is not None and device.model not in selector.model:
        return False
    if selector.site is not None and device.site not in selector.site:
        return False
    return selector.tags is None or all(tag in device.tags for tag in selector.tags)


def memberships(groups: Sequence[GroupSpec], devices: Sequence[DeviceSpec]) -> dict[str, tuple[str, ...]]:
    """Device name → the groups it belongs to, in declared group order (their precedence)."""
    known = {group.name for group in groups}
    members: dict[str, set[str]] = {group.name: set(group.members) for group in groups}
    by_site: dict[str | None, list[DeviceSpec]] = {}
    for device in devices:
        by_site.setdefault(device.site, []).append(device)
    for group in groups:
        selector = group.selector
        if selector is not None:
            # A site selector only needs to look at the devices of its sites.
            candidates = devices if selector.site is None else [d for s in selector.site for d in by_site.get(s, ())]
            members[group.name].update(d.name for d in candidates if selects(selector, d))
    for device in devices:
        for name in device.groups:
            if name in known:
                members[name].add(device.name)
    order = [group.name for group in groups]
    return {d.name: tuple(g for g in order if d.name in members[g]) for d in devices}


def group_members(groups: Sequence[GroupSpec], of_device: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    result: dict[str, list[str]] = {group.name: [] for group in groups}
    for device, names in of_device.items():
        for name in names:
            result[name].append(device)
    return {name: tuple(devices) for name, devices in result.items()}
