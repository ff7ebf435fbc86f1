"""Plans: desired states and an observed snapshot in, per-device actions in dependency order out.

Where it sits: after `rendering` and `observed`; `reconciler plan` prints a `Plan`, `--out` saves
it (`plan_to_data`), and the apply step (a later layer) reads it back (`plan_from_data`) and
applies exactly that, skipping devices whose observed state hash changed since.

Order of actions on one device: firmware, then update packets, then configuration,
because a packet may need the new firmware and configuration keys may need the packet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ValidationError

from reconciler.core.config_diffs import KeyChange, KeyGlobs, Volatile, diff_against_observed, summarize
from reconciler.core.fleets import Device, Fleet
from reconciler.core.observed import ObservedDevice, ObservedSnapshot, first_error
from reconciler.core.rendering import DesiredState, Renderer, RenderFailure
from reconciler.core.secrets import redact_change
from reconciler.core.slices import SliceMapper, serial

FORMAT = "reconciler/plan-v1"


class ActionKind(StrEnum):
    FIRMWARE = "firmware"
    PACKET = "packet"
    CONFIGURATION = "configuration"


ACTION_ORDER = {ActionKind.FIRMWARE: 0, ActionKind.PACKET: 1, ActionKind.CONFIGURATION: 2}


class Status(StrEnum):
    IN_SYNC = "in-sync"  # nothing to do
    CHANGES = "changes"  # actions to apply
    OFFLINE = "offline"  # last seen offline: actions wait until it is back
    BUSY = "busy"  # it answered, busy (503) after every retry: actions wait
    UNOBSERVED = "unobserved"  # no observed state for its serial
    BLOCKED = "blocked"  # the router is not what the repository says (model)
    INVALID = "invalid"  # its desired state cannot be rendered
    UNMANAGED = "unmanaged"  # a router the repository does not know


@dataclass(frozen=True, slots=True)
class PacketRef:
    """An update packet at one content: what a packet action installs."""

    name: str
    digest: str

    def __str__(self) -> str:
        return f"{self.name}@{self.digest}"

    @classmethod
    def parse(cls, text: str) -> PacketRef:
        """From a saved plan's `name@digest`."""
        name, _, digest = text.partition("@")
        if not name or not digest:
            raise ValueError(f"a packet target is name@digest, not {text!r}")
        return cls(name, digest)


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    summary: str  # "firmware 10.4 -> 10.6"
    reason: str
    target: str | None = None  # the firmware version a firmware action installs
    changes: tuple[KeyChange, ...] = ()
    packet: PacketRef | None = None  # the packet a packet action installs


@dataclass(frozen=True, slots=True)
class DevicePlan:
    device: str
    serial: str
    model: str | None
    status: Status
    actions: tuple[Action, ...] = ()
    notes: tuple[str, ...] = ()
    observed_hash: str | None = None
    desired_hash: str | None = None
    groups: tuple[str, ...] = ()
    site: str | None = None
    template: str | None = None
    unknown: tuple[str, ...] = ()  # what the observation could not tell ("packet vpn-ca: no record in this store")


@dataclass(frozen=True)
class Plan:
    fleet: str
    revision: str | None
    created_at: dt.datetime
    observed_at: dt.datetime | None
    devices: tuple[DevicePlan, ...]
    counts: Mapping[Status, int] = field(default_factory=dict)  # devices by status (those that occur)
    content: str | None = None  # digest of every file the plan was made from (the working tree has no commit)

    @property
    def pending(self) -> tuple[DevicePlan, ...]:
        return tuple(d for d in self.devices if d.actions)

    @property
    def has_changes(self) -> bool:
        return any(d.actions for d in self.devices)

    @property
    def unknown(self) -> tuple[DevicePlan, ...]:
        """Devices with something the observation could not tell: reported apart from changes."""
        return tuple(d for d in self.devices if d.unknown)


def plan_fleet(
    fleet: Fleet,
    renderer: Renderer,
    snapshot: ObservedSnapshot,
    revision: str | None,
    now: dt.datetime,
    content: str | None = None,
    mapper: SliceMapper = serial,
    keys: bool = True,
) -> Plan:
    """A purely computational function: what to do to each router to reach the repository's state.

    `content` is the digest of the files the plan is made from (recorded in the plan), `mapper`
    computes the device plans slice by slice (see `slices`). Without `keys`, configuration actions
    keep their summary but not their key changes: a plan only to be applied (apply plans each device
    again as it starts) needs no per-key detail, which for a fleet from factory is a million changes.
    """
    plans = mapper(_plan_slice, (renderer, snapshot.by_serial(), keys), list(fleet.devices))
    return assemble_plan(fleet, plans, snapshot, revision, now, content)


def _plan_slice(state: tuple[Renderer, Mapping[str, ObservedDevice], bool], names: Sequence[str]) -> list[DevicePlan]:
    renderer, observed, keys = state
    if keys:
        return plan_devices(renderer, observed, names)
    # a few devices at a time, so a slice never holds every device's key changes at once (a factory
    # fleet of 20,000 has over a million; the daemon plans the whole fleet as one slice)
    return [_without_keys(plan) for start in range(0, len(names), _STRIP_EVERY)
            for plan in plan_devices(renderer, observed, names[start:start + _STRIP_EVERY])]


_STRIP_EVERY = 64


def _without_keys(plan: DevicePlan) -> DevicePlan:
    if not any(action.changes for action in plan.actions):
        return plan
    actions = tuple(replace(a, changes=()) for a in plan.actions)
    return replace(plan, actions=actions)


@dataclass(frozen=True)
class Rules:
    """What a fleet says about comparing: keys that are never drift, keys a plan must not change."""

    volatile: Volatile
    guard: KeyGlobs

    @classmethod
    def of(cls, fleet: Fleet) -> Rules:
        return cls(Volatile(fleet.spec.volatile_keys), KeyGlobs(fleet.spec.management.guard_keys))


def plan_devices(renderer: Renderer, observed: Mapping[str, ObservedDevice], names: Iterable[str]) -> list[DevicePlan]:
    """The plans of the named devices (a slice of the fleet: the shell may spread slices over processes)."""
    rules = Rules.of(renderer.fleet)
    devices = renderer.fleet.devices
    return [plan_device(devices[name], renderer.render(devices[name]), observed.get(devices[name].serial), rules)
            for name in names]


def assemble_plan(fleet: Fleet, plans: list[DevicePlan], snapshot: ObservedSnapshot, revision: str | None,
                  now: dt.datetime, content: str | None = None) -> Plan:
    """Add the routers the repository does not know, order the devices, count the statuses."""
    known = {device.serial for device in fleet.devices.values()}
    rules = Rules.of(fleet)
    plans = plans + [_unmanaged(o, rules) for o in snapshot.devices if o.serial not in known]
    plans.sort(key=lambda p: (p.status is Status.UNMANAGED, p.device))
    counts: dict[Status, int] = {}
    for item in plans:
        counts[item.status] = counts.get(item.status, 0) + 1
    return Plan(fleet.spec.name, revision, now, snapshot.taken_at, tuple(plans), counts, content)


def plan_device(device: Device, rendered: DesiredState | RenderFailure, observed: ObservedDevice | None,
                rules: Rules) -> DevicePlan:
    """The plan of one device (pure)."""
    base = DevicePlan(device.name, device.serial, device.model, Status.IN_SYNC, groups=device.groups,
                      site=device.site.name if device.site else None, template=device.template,
                      desired_hash=rendered.input_hash)
    if isinstance(rendered, RenderFailure):
        return _with(base, Status.INVALID, notes=(rendered.problem.message,))
    if observed is None:
        return _with(base, Status.UNOBSERVED, notes=(f"no observed state for serial {device.serial}",))
    observed_hash = observed.state_hash(rules.volatile)
    if observed.model is not None and observed.model != device.model:
        note = f"the router reports model {observed.model!r}; the repository says {device.model!r}"
        return _with(base, Status.BLOCKED, notes=(note,), observed_hash=observed_hash)
    actions = _actions(rendered, observed, rules.volatile)
    base = replace(base, unknown=_unknown(rendered, observed))
    if not observed.online:  # what it reports is not known: no guard can judge its actions yet
        return _unreported(base, actions, observed, observed_hash)
    cut = [c for a in actions for c in a.changes if rules.guard(c.key)]
    if cut:
        keys = ", ".join(f"{c.key} {c.old or '(absent)'} -> {c.new or '(removed)'}" for c in cut[:3])
        note = f"would cut reconciler's access to the router ({keys}): refused (management.guard_keys)"
        return _with(base, Status.BLOCKED, actions, (note,), observed_hash)
    return _with(base, Status.CHANGES if actions else Status.IN_SYNC, actions, (), observed_hash)


def _unreported(base: DevicePlan, actions: tuple[Action, ...], observed: ObservedDevice,
                observed_hash: str) -> DevicePlan:
    """A router that did not say what it runs: busy (it answered 503) or offline; its actions wait."""
    why = f": {observed.unreachable}" if observed.unreachable else ""
    if observed.busy:
        return _with(base, Status.BUSY, actions, (f"busy, not offline: it answered but did not report its state{why}",),
                     observed_hash)
    seen = observed.last_seen.isoformat() if observed.last_seen else "never"
    return _with(base, Status.OFFLINE, actions, (f"offline (last seen {seen}){why}",), observed_hash)


def _with(base: DevicePlan, status: Status, actions: tuple[Action, ...] = (), notes: tuple[str, ...] = (),
          observed_hash: str | None = None) -> DevicePlan:
    return replace(base, status=status, actions=actions, notes=notes, observed_hash=observed_hash)


def _actions(desired: DesiredState, observed: ObservedDevice, volatile: Volatile) -> tuple[Action, ...]:
    actions: list[Action] = []
    if desired.firmware is not None and observed.firmware != desired.firmware:
        current = observed.firmware or "unknown"
        actions.append(Action(ActionKind.FIRMWARE, f"firmware {current} -> {desired.firmware}",
                              f"the router runs {current}; the repository wants {desired.firmware}",
                              desired.firmware))
    actions.extend(_packet_actions(desired, observed.packets))
    if desired.config_text is not None:
        changes = diff_against_observed(desired.parsed(), observed.config, desired.config_mode, volatile)
        if changes:
            actions.append(Action(ActionKind.CONFIGURATION, f"configuration: {summarize(changes)}",
                                  f"{desired.config_mode.value} mode, template {desired.template}",
                                  None, changes))
    return tuple(sorted(actions, key=lambda a: ACTION_ORDER[a.kind]))


def _packet_actions(desired: DesiredState, installed: Mapping[str, str] | None) -> list[Action]:
    """Packets to install or update; none when what is installed is not known (see `_unknown`)."""
    if installed is None:
        return []
    actions = []
    for name, digest in desired.packets:
        current = installed.get(name)
        if current != digest:
            verb = "update" if current else "install"
            reason = "its content changed" if current else "not installed on the router"
            actions.append(Action(ActionKind.PACKET, f"packet {name}: {verb}", reason, packet=PacketRef(name, digest)))
    return actions


def _unknown(desired: DesiredState, observed: ObservedDevice) -> tuple[str, ...]:
    """Routers cannot report their update packets: without a record of what was installed, a plan says so
    instead of claiming an install it cannot know is needed."""
    if observed.packets is not None:
        return ()
    return tuple(f"packet {name}: unknown (no record in this store)" for name, _ in desired.packets)


def _unmanaged(observed: ObservedDevice, rules: Rules) -> DevicePlan:
    return DevicePlan(observed.name or observed.serial, observed.serial, observed.model, Status.UNMANAGED,
                      notes=("a router the repository does not know (by serial); left alone",),
                      observed_hash=observed.state_hash(rules.volatile))


# --- the saved form (`plan --out plan.json`) --------------------------------------------------------------


def plan_to_data(plan: Plan) -> dict[str, Any]:
    """The plan as JSON-ready data; every value redacted (apply re-renders from the revision)."""
    return {
        "format": FORMAT,
        "fleet": plan.fleet,
        "revision": plan.revision,
        "content": plan.content,
        "created_at": plan.created_at.isoformat(),
        "observed_at": plan.observed_at.isoformat() if plan.observed_at else None,
        "counts": {status.value: count for status, count in plan.counts.items()},
        "devices": [_device_data(d) for d in plan.devices],
    }


def _device_data(plan: DevicePlan) -> dict[str, Any]:
    return {
        "device": plan.device, "serial": plan.serial, "model": plan.model, "status": plan.status.value,
        "groups": list(plan.groups), "site": plan.site, "template": plan.template,
        "observed_hash": plan.observed_hash, "desired_hash": plan.desired_hash, "notes": list(plan.notes),
        "unknown": list(plan.unknown), "actions": [_action_data(a) for a in plan.actions],
    }


def _action_data(action: Action) -> dict[str, Any]:
    return {
        "kind": action.kind.value, "summary": action.summary, "reason": action.reason,
        "target": str(action.packet) if action.packet is not None else action.target,
        "changes": [
            dict(zip(("key", "old", "new"), (c.key, *redact_change(c.key, c.old, c.new)), strict=True))
            for c in action.changes
        ],
    }


def plan_from_data(data: Any) -> Plan:
    """Read a saved plan back (values stay redacted); data of another shape is a ValueError saying where."""
    if not isinstance(data, Mapping):
        raise ValueError("not a saved plan (not a JSON object)")
    if data.get("format") != FORMAT:
        raise ValueError(f"not a saved plan (format {data.get('format')!r}, expected {FORMAT})")
    try:
        saved = _SavedPlan.model_validate(data)
    except ValidationError as exc:
        raise ValueError(first_error(exc)) from None
    devices = tuple(
        DevicePlan(d.device, d.serial, d.model, d.status, tuple(_action_from(a) for a in d.actions), tuple(d.notes),
                   d.observed_hash, d.desired_hash, tuple(d.groups), d.site, d.template, tuple(d.unknown))
        for d in saved.devices
    )
    observed_at = saved.observed_at
    return Plan(saved.fleet, saved.revision, dt.datetime.fromisoformat(saved.created_at),
                dt.datetime.fromisoformat(observed_at) if observed_at else None, devices, saved.counts, saved.content)


def _action_from(action: _SavedAction) -> Action:
    changes = tuple(KeyChange(c.key, c.old, c.new) for c in action.changes)
    if action.kind is ActionKind.PACKET:
        packet = PacketRef.parse(action.target) if action.target else None
        return Action(action.kind, action.summary, action.reason, None, changes, packet)
    return Action(action.kind, action.summary, action.reason, action.target, changes)


# The saved form's shape: a hand-edited or truncated file must fail here, with a place, not deep in apply.


class _SavedChange(BaseModel):
    key: str
    old: str | None = None
    new: str | None = None


class _SavedAction(BaseModel):
    kind: ActionKind
    summary: str
    reason: str = ""
    target: str | None = None
    changes: list[_SavedChange] = []


class _SavedDevice(BaseModel):
    device: str
    serial: str
    model: str | None = None
    status: Status
    actions: list[_SavedAction] = []
    notes: list[str] = []
    observed_hash: str | None = None
    desired_hash: str | None = None
    groups: list[str] = []
    site: str | None = None
    template: str | None = None
    unknown: list[str] = []


class _SavedPlan(BaseModel):
    fleet: str
    revision: str | None = None
    created_at: str  # read with datetime.fromisoformat, as plan_to_data wrote it
    observed_at: str | None = None
    devices: list[_SavedDevice]
    counts: dict[Status, int] = {}
    content: str | None = None
