"""Memos: what the incremental rebuild remembers between builds of one repository, as one concept.

Where it sits: the shell's revision loader (`shell.revisions`) keeps one set of memos per
*environment*: every file outside devices/ and, of groups.yaml, what decides membership and
precedence (`environment_key`). Builds in one environment share a `DeviceMemo` (resolved devices,
used by `building`) and a `HashMemo` (devices' input hashes, used by `rendering`), so a change to
one devices file or one group's fields re-resolves and re-renders only what it touches.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from reconciler.core.digests import canonical_json, digest
from reconciler.core.fieldchecks import Shared
from reconciler.core.fleets import Device, SourceFile
from reconciler.core.models import DeviceSpec, GroupsFile
from reconciler.core.problems import Problem


def environment_key(files: Mapping[str, SourceFile], groups: GroupsFile | None, extra: Sequence[str] = ()) -> str:
    """What every device's resolution depends on besides its own spec and the content of its groups.

    That is every file outside devices/ except groups.yaml and rollouts.yaml, plus, of the groups, only what decides
    membership and precedence: their names in order, selectors and members. Builds with the same
    key can share a `DeviceMemo` (a changed group field re-resolves only its members).
    `groups` is the parsed groups file (None if it does not validate: its bytes count then).
    """
    entries = sorted(
        f"{path}\x00{file.blob}"
        for path, file in files.items()
        if not path.startswith("devices/") and path not in ("rollouts.yaml", "rollouts.yml")
        and (groups is None or path not in ("groups.yaml", "groups.yml"))
    )
    membership = [] if groups is None else [
        canonical_json([g.name, g.selector.model_dump(mode="json") if g.selector else None, g.members])
        for g in groups.groups
    ]
    return digest(*entries, *membership, *extra)


@dataclass(frozen=True, slots=True)
class Resolution:
    """What resolving one device found, to replay when the same spec is built again."""

    spec: DeviceSpec  # held so its id stays unique while remembered
    groups: tuple[str, ...]
    group_contents: tuple[str, ...]  # digests of those groups' specs: a changed group invalidates the entry
    device: Device
    problems: tuple[Problem, ...]
    shared: tuple[Shared, ...]  # wrong values from groups or defaults it is counted among
    invalid: bool


class DeviceMemo:
    """Resolved devices, valid for builds of one environment (see `environment_key`).

    Within an environment (the same fleet.yaml, sites, templates, resources, secrets, and the same
    groups with the same members and selectors), what a device resolves to is a function of its
    own spec and of the content of the groups it belongs to. A build after a change to one devices
    file, or to the fields of one group, reuses every device the change does not touch.
    """

    def __init__(self) -> None:
        self._entries: dict[int, Resolution] = {}

    def get(self, spec: DeviceSpec, groups: tuple[str, ...], contents: tuple[str, ...]) -> Resolution | None:
        entry = self._entries.get(id(spec))
        if entry is None or entry.spec is not spec or entry.groups != groups or entry.group_contents != contents:
            return None
        return entry

    def put(self, entry: Resolution) -> None:
        self._entries[id(entry.spec)] = entry

    def retain(self, devices: Iterable[Device]) -> None:
        """Forget every device but these (those of the builds the caller still keeps)."""
        keep = {id(device) for device in devices}
        self._entries = {key: entry for key, entry in self._entries.items() if id(entry.device) in keep}


class HashMemo:
    """Input hashes by device object (holding each device, so its id stays unique while remembered)."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[Device, str]] = {}

    def get(self, device: Device) -> str | None:
        entry = self._entries.get(id(device))
        return entry[1] if entry is not None and entry[0] is device else None

    def put(self, device: Device, value: str) -> None:
        self._entries[id(device)] = (device, value)

    def retain(self, devices: Iterable[Device]) -> None:
        """Forget every device but these (those of the builds the caller still keeps)."""
        keep = {id(device) for device in devices}
        self._entries = {key: entry for key, entry in self._entries.items() if key in keep}
