"""Changes: two revisions of a fleet in, what changes per device out (the diff a pull request gets).

Where it sits: `reconciler diff --base A --head B` builds both fleets (`building`), gives each a
`Renderer`, and calls `diff_revisions`, which takes three steps:

- `diff_work` sorts the devices: those only the base has are removed; with `incremental` (the
  default), a device whose input hash is the same on both sides is unchanged, neither rendered nor
  compared (rendering is a pure function of its inputs, and the inputs include the device's
  serial, model, address, site and groups); every other device is to be rendered;
- `compare_devices` renders a slice of those on both sides and compares them (the `SliceMapper`
  may spread the slices over processes);
- `assemble_diff` orders the changes and counts what did not change.

`incremental=False` renders everything (the property tests check that both give the same answer).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from reconciler.core.config_diffs import KeyChange, diff_desired
from reconciler.core.configs import ParsedConfig
from reconciler.core.fleets import Device
from reconciler.core.rendering import DesiredState, Renderer, RenderFailure
from reconciler.core.slices import SliceMapper, serial


class ChangeKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


class Side(StrEnum):
    BASE = "base"
    HEAD = "head"


@dataclass(frozen=True, slots=True)
class RenderError:
    """A device that does not render on one side of the diff."""

    side: Side
    message: str

    def __str__(self) -> str:
        return f"{self.side}: {self.message}"


@dataclass(frozen=True, slots=True)
class DeviceChange:
    device: str
    kind: ChangeKind
    model: str
    groups: tuple[str, ...]
    template: str | None
    attributes: tuple[tuple[str, str, str], ...] = ()  # (attribute, old, new): serial, model, address, ...
    template_change: tuple[str | None, str | None] | None = None
    firmware_change: tuple[str | None, str | None] | None = None
    mode_change: tuple[str, str] | None = None
    packets_added: tuple[str, ...] = ()
    packets_removed: tuple[str, ...] = ()
    packets_updated: tuple[str, ...] = ()
    config: tuple[KeyChange, ...] = ()
    lists_claimed: tuple[str, ...] = ()  # lists the template now clears (`.delete=all`): router items go
    lists_released: tuple[str, ...] = ()  # lists it no longer clears
    errors: tuple[RenderError, ...] = ()  # render failures on the head side (or base side)

    @property
    def fails_on_head(self) -> bool:
        """The head revision's desired state of this device does not render."""
        return any(error.side is Side.HEAD for error in self.errors)


@dataclass(frozen=True)
class RevisionDiff:
    base: str
    head: str
    changes: tuple[DeviceChange, ...]
    unchanged: int
    rendered: int  # devices rendered on either side to produce this diff (for --stats and benchmarks)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def summary(self, by: str) -> dict[str, dict[str, int]]:
        """Counts of added/removed/changed devices per group, model or template."""
        table: dict[str, dict[str, int]] = {}
        for change in self.changes:
            for key in _keys(change, by):
                row = table.setdefault(key, {"added": 0, "removed": 0, "changed": 0})
                row[change.kind.value] += 1
        return dict(sorted(table.items()))


def _keys(change: DeviceChange, by: str) -> tuple[str, ...]:
    if by == "group":
        return change.groups or ("(no group)",)
    if by == "model":
        return (change.model,)
    return (change.template or "(no template)",)


_ATTRIBUTES = ("serial", "model", "address")


@dataclass(frozen=True)
class DiffWork:
    """What a diff must render: devices whose inputs changed, or that are new; and the removed ones."""

    to_render: tuple[str, ...]  # head device names
    removed: tuple[DeviceChange, ...]  # devices only the base has
    unchanged: int
    renders: int  # templates rendered on both sides together: the work proportional to the change


def diff_work(base: Renderer | None, head: Renderer, incremental: bool = True) -> DiffWork:
    """A purely computational function: sort the devices by what a diff has to do with them.

    `base` None is a revision without a fleet (the pull request that adds it): every device is added.
    """
    old = base.fleet.devices if base is not None else {}
    to_render: list[str] = []
    unchanged = 0
    for name, device in head.fleet.devices.items():
        if incremental and _same_inputs(base, head, old.get(name), device):
            unchanged += 1
        else:
            to_render.append(name)
    removed = tuple(_removed(device) for name, device in old.items() if name not in head.fleet.devices)
    renders = len(to_render) + sum(1 for name in to_render if name in old)
    return DiffWork(tuple(to_render), removed, unchanged, renders)


def _same_inputs(base: Renderer | None, head: Renderer, before: Device | None, device: Device) -> bool:
    """Whether a device has the same input hash on both sides (so the same desired state and attributes)."""
    if before is None or base is None:
        return False
    # A device object reused by a build of the same environment has the same inputs.
    return before is device or base.input_hash(before) == head.input_hash(device)


def compare_devices(base: Renderer | None, head: Renderer, names: Iterable[str]) -> list[DeviceChange | None]:
    """Render the named head devices (and their base versions) and compare; None where nothing changes."""
    old = base.fleet.devices if base is not None else {}
    results: list[DeviceChange | None] = []
    for name in names:
        device, before = head.fleet.devices[name], old.get(name)
        if before is None or base is None:
            results.append(_added(device, head.render(device)))
        else:
            results.append(_compare(device, base.render(before), head.render(device), _attributes(before, device)))
    return results


def assemble_diff(work: DiffWork, compared: Iterable[DeviceChange | None], base_name: str,
                  head_name: str) -> RevisionDiff:
    found = [change for change in compared if change is not None]
    unchanged = work.unchanged + len(work.to_render) - len(found)
    changes = sorted([*found, *work.removed], key=lambda c: c.device)
    return RevisionDiff(base_name, head_name, tuple(changes), unchanged, work.renders)


def diff_revisions(base: Renderer | None, head: Renderer, base_name: str, head_name: str,
                   incremental: bool = True, mapper: SliceMapper = serial) -> RevisionDiff:
    """A purely computational function: per-device changes from `base` to `head`.

    `mapper` renders and compares the devices slice by slice (see `slices`).
    """
    work = diff_work(base, head, incremental)
    compared = mapper(_compare_slice, (base, head), list(work.to_render))
    return assemble_diff(work, compared, base_name, head_name)


def _compare_slice(renderers: tuple[Renderer | None, Renderer], names: Sequence[str]) -> list[DeviceChange | None]:
    return compare_devices(renderers[0], renderers[1], names)


def _compare(device: Device, old: DesiredState | RenderFailure, new: DesiredState | RenderFailure,
             attributes: tuple[tuple[str, str, str], ...]) -> DeviceChange | None:
    if isinstance(new, RenderFailure) or isinstance(old, RenderFailure):
        errors = tuple(RenderError(side, r.problem.message) for side, r in ((Side.BASE, old), (Side.HEAD, new))
                       if isinstance(r, RenderFailure))
        if isinstance(old, RenderFailure) and isinstance(new, RenderFailure) and old.problem == new.problem:
            return None
        return _change(device, ChangeKind.CHANGED, attributes=attributes, errors=errors)
    if old.same_outcome(new):
        return _change(device, ChangeKind.CHANGED, attributes=attributes) if attributes else None
    return _state_change(device, old, new, attributes)


def _state_change(device: Device, old: DesiredState, new: DesiredState,
                  attributes: tuple[tuple[str, str, str], ...]) -> DeviceChange:
    old_packets, new_packets = dict(old.packets), dict(new.packets)
    config = () if old.config_text == new.config_text else diff_desired(old.parsed(), new.parsed())
    old_lists, new_lists = old.parsed().owned_lists, new.parsed().owned_lists
    return _change(
        device, ChangeKind.CHANGED, attributes=attributes,
        template_change=(old.template, new.template) if old.template != new.template else None,
        firmware_change=(old.firmware, new.firmware) if old.firmware != new.firmware else None,
        mode_change=(old.config_mode.value, new.config_mode.value) if old.config_mode != new.config_mode else None,
        packets_added=tuple(p for p in new_packets if p not in old_packets),
        packets_removed=tuple(p for p in old_packets if p not in new_packets),
        packets_updated=tuple(p for p in new_packets if p in old_packets and old_packets[p] != new_packets[p]),
        config=config,
        lists_claimed=tuple(sorted(new_lists - old_lists)),
        lists_released=tuple(sorted(old_lists - new_lists)),
    )


def _attributes(before: Device, after: Device) -> tuple[tuple[str, str, str], ...]:
    found = [(a, str(getattr(before, a)), str(getattr(after, a)))
             for a in _ATTRIBUTES if getattr(before, a) != getattr(after, a)]
    old_site = before.site.name if before.site else "-"
    new_site = after.site.name if after.site else "-"
    if old_site != new_site:
        found.append(("site", old_site, new_site))
    if before.groups != after.groups:
        found.append(("groups", ", ".join(before.groups) or "-", ", ".join(after.groups) or "-"))
    return tuple(found)


def _added(device: Device, rendered: DesiredState | RenderFailure) -> DeviceChange:
    if isinstance(rendered, RenderFailure):
        return _change(device, ChangeKind.ADDED, errors=(RenderError(Side.HEAD, rendered.problem.message),))
    config = diff_desired(_EMPTY, rendered.parsed()) if rendered.config_text else ()
    return _change(device, ChangeKind.ADDED, firmware_change=(None, rendered.firmware) if rendered.firmware else None,
                   packets_added=tuple(name for name, _ in rendered.packets), config=config)


def _removed(device: Device) -> DeviceChange:
    return _change(device, ChangeKind.REMOVED)


def _change(device: Device, kind: ChangeKind, **details: object) -> DeviceChange:
    return DeviceChange(device.name, kind, device.model, device.groups, device.template, **details)  # type: ignore[arg-type]


_EMPTY = ParsedConfig({}, frozenset(), ())
