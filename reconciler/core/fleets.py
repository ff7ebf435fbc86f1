"""Fleets: the validated files of one revision in, one resolved `Fleet` (and its problems) out.

Where it sits: after `loading` (one spec per file), before `rendering`. Here groups get their
members (explicit, by the device's own `groups`, by label selector), precedence merges fleet
defaults < groups (declared order) < device into each device's template, mode, firmware, packets
and fields, template defaults are filled in and `!secret` references become `SecretValue`s.
`validation` calls these while it checks that everything fits together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from reconciler.core.loading import LoadedFile
from reconciler.core.models import (
    AccountFile,
    ConfigMode,
    DevicesFile,
    DeviceSpec,
    FirmwareFile,
    FirmwareSpec,
    FleetSpec,
    GroupsFile,
    GroupSpec,
    LayerSpec,
    LicenceFile,
    LicencesFile,
    PaasFile,
    PacketPart,
    PacketsFile,
    PacketSpec,
    PriceListsFile,
    RolloutsFile,
    SecretsFile,
    SelectionFile,
    Selector,
    SitesFile,
    SiteSpec,
    SupportFile,
    TemplateSpec,
    UcaasFile,
)
from reconciler.core.models.resources import FirmwarePart
from reconciler.core.models.rollouts import DEFAULT_POLICY
from reconciler.core.problems import Origin
from reconciler.core.secrets import SecretRef, SecretValue

CONTEXT_NAMES = frozenset({"device", "site", "fleet"})


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file of the repository as the shell read it: path (relative to the fleet root), git blob id, bytes."""

    path: str
    blob: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    spec: TemplateSpec
    path: str  # templates/<name>.j2
    declaration: str  # templates/<name>.yaml


def template_file(name: str) -> str:
    """The file a template of the set comes from: `icom/…` is the project's library, the rest are under templates/."""
    return name if name.startswith("icom/") else f"templates/{name}"


@dataclass(frozen=True, slots=True)
class Packet:
    spec: PacketSpec
    digest: str  # content hash of the declaration and every part file
    directory: str  # part files are relative to it
    origin: Origin


@dataclass(frozen=True, slots=True)
class Device:
    """A device with everything precedence decided: what it should run."""

    name: str
    serial: str
    model: str
    address: str
    site: SiteSpec | None
    groups: tuple[str, ...]
    tags: tuple[str, ...]
    template: str | None
    config_mode: ConfigMode
    firmware: str | None
    packets: tuple[str, ...]
    fields: Mapping[str, Any]
    description: str
    origin: Origin


@dataclass(frozen=True)
class Fleet:
    """One revision of a fleet repository, resolved. Built by `build_fleet`; read by everything after."""

    spec: FleetSpec
    devices: Mapping[str, Device]
    groups: Mapping[str, GroupSpec]
    members: Mapping[str, tuple[str, ...]]
    sites: Mapping[str, SiteSpec]
    templates: Mapping[str, Template]
    template_sources: Mapping[str, str]
    firmware: Mapping[str, FirmwareSpec]
    packets: Mapping[str, Packet]
    secrets: Mapping[str, SecretValue]
    rollouts: RolloutsFile = DEFAULT_POLICY  # rollouts.yaml, checked by `rolloutchecks`

    def devices_of_group(self, group: str) -> tuple[str, ...]:
        return self.members.get(group, ())


@dataclass
class Located:
    """A spec and where it was written, as collected from all files of one kind."""

    spec: Any
    origin: Origin


@dataclass
class Collected:
    """Every valid spec of a revision, grouped by kind, with the kinds that had broken files."""

    fleet: Located | None = None
    sites: list[Located] = field(default_factory=list)
    groups: list[Located] = field(default_factory=list)
    devices: list[Located] = field(default_factory=list)
    templates: dict[str, Located] = field(default_factory=dict)
    firmware: list[Located] = field(default_factory=list)
    packets: list[Located] = field(default_factory=list)
    secrets: list[Located] = field(default_factory=list)
    entitlements: list[Located] = field(default_factory=list)  # licences, rentals (judged against a date, later)
    rollouts: Located | None = None
    broken: set[str] = field(default_factory=set)


def collect(files: Iterable[LoadedFile]) -> Collected:
    """Sort the specs of all loaded files by kind, remembering where each one was written."""
    collected = Collected()
    for loaded in files:
        if loaded.spec is None:
            collected.broken.add(loaded.kind.name)
            continue
        _collect_one(collected, loaded)
    return collected


def _collect_one(collected: Collected, loaded: LoadedFile) -> None:
    spec, path = loaded.spec, loaded.path
    if isinstance(spec, FleetSpec):
        collected.fleet = Located(spec, Origin(path))
    elif isinstance(spec, RolloutsFile):
        collected.rollouts = Located(spec, Origin(path))
    elif isinstance(spec, TemplateSpec):
        name = path.removeprefix("templates/").rsplit(".", 1)[0]
        collected.templates[name] = Located(spec, Origin(path))
    elif isinstance(spec, LicencesFile | LicenceFile | AccountFile | PriceListsFile | SelectionFile | PaasFile
                    | UcaasFile | SupportFile):
        collected.entitlements.append(Located(spec, Origin(path)))
    else:
        key, items = _items_of(spec)
        target: list[Located] = getattr(collected, key)
        target.extend(Located(item, Origin(path, (key, index))) for index, item in enumerate(items))


def _items_of(spec: Any) -> tuple[str, Sequence[Any]]:
    if isinstance(spec, DevicesFile):
        return "devices", spec.devices
    if isinstance(spec, GroupsFile):
        return "groups", spec.groups
    if isinstance(spec, SitesFile):
        return "sites", spec.sites
    if isinstance(spec, FirmwareFile):
        return "firmware", spec.firmware
    if isinstance(spec, PacketsFile):
        return "packets", spec.packets
    assert isinstance(spec, SecretsFile)
    return "secrets", [(name, sealed) for name, sealed in spec.secrets.items()]


# --- membership -------------------------------------------------------------------------------------


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


# --- precedence -------------------------------------------------------------------------------------

# Where a merged value came from: -1 the fleet defaults, 0..n-1 the n-th declared group, DEVICE the device.
DEFAULTS = -1
DEVICE = 1_000_000


@dataclass(frozen=True, slots=True)
class Layer:
    """One level of precedence: the fleet defaults, a group, or a device (fields with secrets resolved)."""

    source: int  # DEFAULTS, the group's index, or DEVICE
    template: str | None
    config_mode: ConfigMode | None
    firmware: str | None
    packets: tuple[str, ...]
    fields: Mapping[str, Any]

    @property
    def empty(self) -> bool:
        return not (self.fields or self.template or self.config_mode or self.firmware or self.packets)


def layer_of(source: int, spec: LayerSpec, fields: Mapping[str, Any]) -> Layer:
    """The layer of the fleet defaults, a group or a device, with `fields` (its own, secrets resolved)."""
    return Layer(source, spec.template, spec.config_mode, spec.firmware, tuple(spec.packets), fields)


@dataclass(frozen=True, slots=True)
class Layered:
    """The result of merging precedence layers, remembering which layer set each value."""

    template: str | None
    config_mode: ConfigMode
    firmware: str | None
    packets: tuple[str, ...]
    fields: dict[str, Any]
    sources: dict[str, int]  # field name → layer (DEFAULTS, group index, DEVICE)


def merge_layers(layers: Sequence[Layer]) -> Layered:
    """Merge layers, lowest precedence first: later templates, modes, firmware and fields win."""
    template = firmware = None
    mode = ConfigMode.MERGE
    packets: dict[str, None] = {}
    fields: dict[str, Any] = {}
    sources: dict[str, int] = {}
    for layer in layers:
        template = layer.template or template
        mode = layer.config_mode or mode
        firmware = layer.firmware or firmware
        packets.update(dict.fromkeys(layer.packets))
        fields.update(layer.fields)
        sources.update(dict.fromkeys(layer.fields, layer.source))
    return Layered(template, mode, firmware, tuple(packets), fields, sources)


class Precedence:
    """Merges per device; the part from defaults and groups is computed once per set of groups."""

    def __init__(self, defaults: Layer, groups: Mapping[str, Layer]) -> None:
        self._defaults = defaults
        self._groups = groups
        self._cache: dict[tuple[str, ...], Layered] = {}

    def of_groups(self, names: tuple[str, ...]) -> Layered:
        merged = self._cache.get(names)
        if merged is None:
            layers = [self._defaults, *(self._groups[name] for name in names)]
            merged = self._cache[names] = merge_layers(layers)
        return merged

    def of_device(self, device: Layer, names: tuple[str, ...]) -> Layered:
        base = self.of_groups(names)
        if device.empty:
            return base
        return Layered(
            device.template or base.template,
            device.config_mode or base.config_mode,
            device.firmware or base.firmware,
            tuple(dict.fromkeys((*base.packets, *device.packets))),
            {**base.fields, **device.fields},
            {**base.sources, **dict.fromkeys(device.fields, DEVICE)},
        )


def template_defaults(template: TemplateSpec) -> dict[str, Any]:
    """The declared defaults of a template's fields: `{**defaults, **merged}` fills what precedence left unset."""
    return {name: spec.default for name, spec in template.fields.items() if "default" in spec.model_fields_set}


def resolve_secrets(fields: Mapping[str, Any], secrets: Mapping[str, SecretValue]) -> Mapping[str, Any]:
    """Replace each `!secret name` that resolves by its `SecretValue` (unresolved ones stay references)."""
    if not any(isinstance(v, SecretRef | list) for v in fields.values()):
        return fields
    return {name: _resolve(value, secrets) for name, value in fields.items()}


def _resolve(value: Any, secrets: Mapping[str, SecretValue]) -> Any:
    if isinstance(value, SecretRef):
        return secrets.get(value.name, value)
    if isinstance(value, list):
        return [_resolve(item, secrets) for item in value]
    return value


# --- content hashes -----------------------------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON of plain data (sorted keys; dates ISO; secrets by name and fingerprint)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, SecretValue | SecretRef):
        return str(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str)
    raise TypeError(type(value).__name__)


def digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\x00")
    return h.hexdigest()


def part_file(part: PacketPart) -> str | None:
    """The file a packet part ships (relative to its packet's directory), if it has one."""
    return None if isinstance(part, FirmwarePart) else part.file


def packet_files(spec: PacketSpec, directory: str) -> list[str]:
    """Paths (relative to the fleet root) of every file the packet's parts ship."""
    return [join(directory, file) for part in spec.parts if (file := part_file(part)) is not None]


def environment_key(files: Mapping[str, SourceFile], groups: GroupsFile | None, extra: Sequence[str] = ()) -> str:
    """What every device's resolution depends on besides its own spec and the content of its groups.

    That is every file outside devices/ except groups.yaml and rollouts.yaml, plus, of the groups, only what decides
    membership and precedence: their names in order, selectors and members. Builds with the same
    key can share a `validation.DeviceMemo` (a changed group field re-resolves only its members).
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


def packet_digest(spec: PacketSpec, directory: str, files: Mapping[str, SourceFile]) -> str:
    """A packet changes when its declaration or any part file changes."""
    blobs = []
    for part in spec.parts:
        file = part_file(part)
        source = files.get(join(directory, file)) if file else None
        blobs.append(source.blob if source else "-")
    return digest(canonical_json(spec.model_dump(mode="json")), *blobs)


def join(directory: str, path: str) -> str:
    return f"{directory}/{path}" if directory else path


def directory_of(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""
