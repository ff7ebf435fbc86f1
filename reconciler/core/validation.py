"""Validation: every loaded file of a revision in, a resolved `Fleet` and every problem out.

Where it sits: the shell loads and caches one `LoadedFile` per YAML file (`loading`), then calls
`build_fleet`; `validate` in the CLI, `render`, `diff`, `plan` and the daemon all start here.
Checks report problems (never raise) so one run shows all of them. The rules, by group:

- uniqueness: device names, serials and addresses; group, site, firmware, packet and secret names;
- references: sites, groups, group members, templates, firmware (and its model compatibility),
  packets (and theirs), secrets, packet part files;
- templates: every `.j2` has its declarations and compiles; it reads only declared fields;
  every device gets every required field, of the declared type (D0.11, D0.16);
- scale: the variant's device limits and the approval above 5,000 devices (D0.1–D0.3).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.core import configs, fieldtypes, limits
from reconciler.core.fleets import (
    CONTEXT_NAMES,
    DEFAULTS,
    DEVICE,
    Collected,
    Device,
    Fleet,
    Layered,
    Located,
    Packet,
    Precedence,
    SourceFile,
    Template,
    collect,
    directory_of,
    group_members,
    join,
    layer_of,
    memberships,
    packet_digest,
    packet_files,
    part_file,
    resolve_secrets,
    template_defaults,
)
from reconciler.core.loading import LoadedFile
from reconciler.core.models import (
    DeviceSpec,
    FieldSpec,
    FleetSpec,
    GroupSpec,
    PacketSpec,
    SealedSecret,
    TemplateSpec,
    Variant,
    kind_of,
)
from reconciler.core.models.common import normalized_address
from reconciler.core.problems import Origin, Problem, error, warning
from reconciler.core.sandbox import TemplateProblem, TemplateSet
from reconciler.core.secrets import SecretRef, SecretValue

# What a reference names → the file kind that defines it (a broken file of that kind silences "unknown").
_KIND_OF_REFERENCE = {"device": "devices", "group": "groups", "site": "sites", "template": "template",
                      "firmware": "firmware", "packet": "packets", "secret": "secrets"}

# D0.1–D0.3
SERVER_MAX = 1_500
DATACENTER_MIN = 1_000
DATACENTER_MAX = 20_000
APPROVAL_ABOVE = 5_000


@dataclass(frozen=True, slots=True)
class _Resolution:
    """What resolving one device found, to replay when the same spec is built again."""

    spec: DeviceSpec  # held so its id stays unique while remembered
    groups: tuple[str, ...]
    device: Device
    problems: tuple[Problem, ...]
    shared: tuple[tuple[int, str, str, str], ...]  # (layer, field, template, what is wrong)
    invalid: bool


class DeviceMemo:
    """Resolved devices, valid for builds whose files other than devices/*.yaml are all the same.

    With the same fleet.yaml, groups, sites, templates, resources and secrets, what a device
    resolves to is a function of its own spec; a build of a revision that changed one devices
    file reuses every other device (the shell keeps one memo per set of those files).
    """

    def __init__(self) -> None:
        self._entries: dict[int, _Resolution] = {}

    def get(self, spec: DeviceSpec, groups: tuple[str, ...]) -> _Resolution | None:
        entry = self._entries.get(id(spec))
        return entry if entry is not None and entry.spec is spec and entry.groups == groups else None

    def put(self, entry: _Resolution) -> None:
        self._entries[id(entry.spec)] = entry

    def retain(self, devices: Iterable[Device]) -> None:
        """Forget every device but these (those of the builds the caller still keeps)."""
        keep = {id(device) for device in devices}
        self._entries = {key: entry for key, entry in self._entries.items() if id(entry.device) in keep}


@dataclass(frozen=True)
class FleetBuild:
    """What `build_fleet` hands on: the fleet (None if it cannot be built), its templates, all problems."""

    fleet: Fleet | None
    templates: TemplateSet | None
    problems: tuple[Problem, ...]
    invalid_devices: frozenset[str] = frozenset()  # devices with errors of their own: not worth rendering

    @property
    def ok(self) -> bool:
        return self.fleet is not None and not any(p.is_error for p in self.problems)


def build_fleet(
    loaded: Sequence[LoadedFile],
    files: Mapping[str, SourceFile],
    library: Mapping[str, str],
    oversized: Mapping[str, int] | None = None,
    memo: DeviceMemo | None = None,
    symlinks: Sequence[str] = (),
) -> FleetBuild:
    """A purely computational function: resolve and check one revision of a fleet repository.

    `loaded` holds every YAML file validated against its kind, `files` every file of the revision
    (for templates and packet parts), `library` the project's template library (name → source),
    `oversized` the files the shell did not read because of their size (path → bytes), `memo`
    devices resolved by an earlier build with the same files outside devices/ (see DeviceMemo),
    `symlinks` the symbolic links in the repository (never followed, each an error).
    """
    problems: list[Problem] = [p for file in loaded for p in file.problems]
    problems.extend(_twin_files(files))
    problems.extend(
        error("symlink", "a symbolic link: the repository must hold regular files (a link could reach outside "
              "it); not read", Origin(path))
        for path in symlinks
    )
    collected = collect(loaded)
    if collected.fleet is None:
        if "fleet" not in collected.broken:
            problems.append(error("no-fleet", "fleet.yaml is missing", Origin("fleet.yaml")))
        return FleetBuild(None, None, tuple(problems))
    builder = _Builder(collected, files, library, oversized or {}, memo)
    fleet = builder.build()
    problems.extend(builder.problems)
    problems.extend(_unknown_files(files, fleet))
    invalid = builder.invalid | {p.device for p in problems if p.is_error and p.device and p.device in fleet.devices}
    return FleetBuild(fleet, builder.template_set, tuple(problems), frozenset(invalid))


class _Builder:
    """Collects problems while it resolves; one instance per `build_fleet` call."""

    def __init__(self, collected: Collected, files: Mapping[str, SourceFile], library: Mapping[str, str],
                 oversized: Mapping[str, int], memo: DeviceMemo | None) -> None:
        assert collected.fleet is not None
        self.c = collected
        self.fleet_spec: FleetSpec = collected.fleet.spec
        self.files = files
        self.library = library
        self.oversized = oversized
        self.memo = memo
        self.problems: list[Problem] = []
        self.invalid: set[str] = set()
        self.broken_templates: set[str] = set()  # do not compile: their devices are not rendered
        self.oversized_templates: set[str] = set()  # paths of templates too large to read
        self._unresolved: set[int] = set()  # layers (defaults, groups) with an unknown secret …
        self._unresolved_fields: set[str] = set()  # … in these fields
        self.template_set: TemplateSet | None = None

    def build(self) -> Fleet:
        sites = self._unique(self.c.sites, "name", "site")
        groups = self._unique(self.c.groups, "name", "group")
        firmware = self._unique(self.c.firmware, "version", "firmware")
        secrets = self._secrets()
        packets = self._packets(firmware)
        templates, sources = self._templates()
        devices = self._unique_devices()
        self._check_group_references(groups, devices, sites, templates, firmware, packets)
        self._check_layer_references(Located(self.fleet_spec.defaults, Origin("fleet.yaml", ("defaults",))),
                                     templates, firmware, packets)
        of_device = memberships([g.spec for g in groups.values()], [d.spec for d in devices.values()])
        resolved = self._devices(devices, of_device, groups, sites, templates, firmware, packets, secrets)
        self._check_scale(len(resolved))
        return Fleet(
            spec=self.fleet_spec,
            devices=resolved,
            groups={name: g.spec for name, g in groups.items()},
            members=group_members([g.spec for g in groups.values()], of_device),
            sites={name: s.spec for name, s in sites.items()},
            templates=templates,
            template_sources=sources,
            firmware={version: f.spec for version, f in firmware.items()},
            packets=packets,
            secrets=secrets,
        )

    # --- uniqueness ---------------------------------------------------------------------------------

    def _unique(self, items: Iterable[Located], attribute: str, what: str) -> dict[str, Located]:
        seen: dict[str, Located] = {}
        for item in items:
            key = getattr(item.spec, attribute)
            if key in seen:
                self._duplicate(what, attribute, key, item.origin.child(attribute), seen[key].origin)
            else:
                seen[key] = item
        return seen

    def _duplicate(self, what: str, attribute: str, value: str, origin: Origin, first: Origin) -> None:
        message = f"duplicate {what} {attribute} {value!r} (also in {first.file})"
        self.problems.append(error(f"duplicate-{what}", message, origin))

    def _unique_devices(self) -> dict[str, Located]:
        devices = self._unique(self.c.devices, "name", "device")
        serials: dict[str, Located] = {}
        addresses: dict[str, Located] = {}
        for item in devices.values():
            spec: DeviceSpec = item.spec
            for table, key, attribute in ((serials, spec.serial, "serial"),
                                          (addresses, normalized_address(spec.address), "address")):
                if key in table:
                    shown = spec.serial if attribute == "serial" else spec.address
                    self._duplicate("device", attribute, shown, item.origin.child(attribute), table[key].origin)
                else:
                    table[key] = item
        return devices

    def _secrets(self) -> dict[str, SecretValue]:
        result: dict[str, SecretValue] = {}
        first: dict[str, Origin] = {}
        for item in self.c.secrets:
            name, sealed = item.spec
            assert isinstance(sealed, SealedSecret)
            origin = Origin(item.origin.file, ("secrets", name), at_key=True)
            if name in result:
                self._duplicate("secret", "name", name, origin, first[name])
                continue
            result[name] = SecretValue.from_sealed(name, sealed.sealed)
            first[name] = origin
        return result

    # --- resources ------------------------------------------------------------------------------------

    def _packets(self, firmware: Mapping[str, Located]) -> dict[str, Packet]:
        packets: dict[str, Packet] = {}
        for name, item in self._unique(self.c.packets, "name", "packet").items():
            spec: PacketSpec = item.spec
            directory = directory_of(item.origin.file)
            self._check_parts(spec, directory, item.origin, firmware)
            packets[name] = Packet(spec, packet_digest(spec, directory, self.files), directory, item.origin)
        return packets

    def _check_parts(self, spec: PacketSpec, directory: str, origin: Origin, firmware: Mapping[str, Located]) -> None:
        for index, part in enumerate(spec.parts):
            part_origin = origin.child("parts", index)
            file = part_file(part)
            if file is not None:
                self._check_part_file(join(directory, file), part.type, part_origin.child("file"))
            if part.type == "firmware":
                self._check_firmware_part(spec, part.version, part_origin.child("version"), firmware)
            if part.type == "container" and part.file is None and part.url is None:
                self.problems.append(error("packet-part", "a container part needs `file` or `url`", part_origin))

    def _check_part_file(self, path: str, part_type: str, origin: Origin) -> None:
        source = self.files.get(path)
        if source is None:
            self.problems.append(error("missing-file", f"part file {path} does not exist", origin))
            return
        if part_type in ("configuration", "certificate"):  # firmware and containers may be large
            if path in self.oversized or len(source.data) > limits.PART_BYTES:
                self._too_large(path, limits.PART_BYTES)
                return
        elif path in self.oversized:
            return
        if part_type == "configuration":
            parsed = configs.parse_config(source.data.decode("utf-8", errors="replace"))
            self.problems.extend(
                error("config-syntax", e.message, Origin(path, line=e.line, col=1)) for e in parsed.errors
            )
        if part_type == "certificate" and b"-----BEGIN CERTIFICATE-----" not in source.data:
            self.problems.append(error("packet-part", f"{path} is not a PEM certificate", origin))

    def _check_firmware_part(self, spec: PacketSpec, version: str, origin: Origin,
                             firmware: Mapping[str, Located]) -> None:
        known = firmware.get(version)
        if known is None:
            self._unknown("firmware", version, firmware, origin)
            return
        unsupported = [m for m in spec.models or [] if m not in known.spec.models]
        if unsupported:
            message = f"firmware {version} does not support {', '.join(unsupported)} (packet {spec.name})"
            self.problems.append(error("firmware-incompatible", message, origin))

    # --- templates ----------------------------------------------------------------------------------

    def _too_large(self, path: str, limit: int) -> None:
        size = self.oversized.get(path) or len(self.files[path].data)
        self.problems.append(error("file-too-large", limits.size_message(size, limit, "the file"), Origin(path)))

    def _templates(self) -> tuple[dict[str, Template], dict[str, str]]:
        sources = dict(self.library)
        for path, source in self.files.items():
            if path.startswith("templates/") and path.endswith(".j2"):
                if path in self.oversized or len(source.data) > limits.TEMPLATE_BYTES:
                    self._too_large(path, limits.TEMPLATE_BYTES)
                    self.oversized_templates.add(path)
                    continue
                sources[path.removeprefix("templates/")] = source.data.decode("utf-8", errors="replace")
        templates: dict[str, Template] = {}
        for name, item in self.c.templates.items():
            j2 = f"templates/{name}.j2"
            if j2 not in self.files:
                self.problems.append(error("missing-template", f"{item.origin.file} declares fields for {j2}, "
                                           "which does not exist", item.origin))
                continue
            templates[name] = Template(name, item.spec, j2, item.origin.file)
            self._check_declarations(item.spec, item.origin)
        self._check_undeclared_templates(templates)
        self.template_set = TemplateSet(sources)
        for template in templates.values():
            self._check_template_source(template)
        return templates, sources

    def _check_undeclared_templates(self, templates: Mapping[str, Template]) -> None:
        for path in self.files:
            if path.startswith("templates/") and path.endswith(".j2") and path.count("/") == 1:
                name = path.removeprefix("templates/").removesuffix(".j2")
                if name not in templates and "template" not in self.c.broken:
                    message = f"template {path} has no field declarations (templates/{name}.yaml)"
                    self.problems.append(error("missing-declarations", message, Origin(path)))

    def _check_declarations(self, spec: TemplateSpec, origin: Origin) -> None:
        for name, field_spec in spec.fields.items():
            if name in CONTEXT_NAMES:
                self.problems.append(error("reserved-field", f"field name {name!r} is reserved for the template "
                                           "context", origin.child("fields").key(name)))
            for message in fieldtypes.check_declaration(field_spec):
                self.problems.append(error("field-declaration", f"field {name!r}: {message}",
                                           origin.child("fields", name)))

    def _check_template_source(self, template: Template) -> None:
        assert self.template_set is not None
        if template.path in self.oversized_templates:
            return
        name = template.path.removeprefix("templates/")
        problem = self.template_set.check(name)
        if problem is not None:
            self.problems.append(_template_problem(problem, "template-syntax"))
            self.broken_templates.add(template.name)
            return
        declared = set(template.spec.fields) | CONTEXT_NAMES
        for variable in sorted(self.template_set.undeclared_variables(name) - declared):
            line = _first_line(self.files[template.path].data, variable)
            suggestion = _suggest(variable, template.spec.fields)
            message = f"template reads {variable!r}, which {template.declaration} does not declare{suggestion}"
            self.problems.append(error("undeclared-field", message, Origin(template.path, line=line, col=1)))

    # --- references -----------------------------------------------------------------------------------

    def _unknown(self, what: str, name: str, known: Iterable[str], origin: Origin, device: str | None = None) -> None:
        if _KIND_OF_REFERENCE[what] in self.c.broken:
            return  # a file of that kind is broken: the name may well be in it
        message = f"unknown {what} {name!r}{_suggest(name, known)}"
        self.problems.append(error(f"unknown-{what}", message, origin, device))

    def _check_layer_references(self, item: Located, templates: Mapping[str, Template],
                                firmware: Mapping[str, Located], packets: Mapping[str, Packet],
                                device: str | None = None) -> None:
        spec = item.spec
        if spec.template is not None and spec.template not in templates:
            self._unknown("template", spec.template, templates, item.origin.child("template"), device)
        if spec.firmware is not None and spec.firmware not in firmware:
            self._unknown("firmware", spec.firmware, firmware, item.origin.child("firmware"), device)
        for index, packet in enumerate(spec.packets):
            if packet not in packets:
                self._unknown("packet", packet, packets, item.origin.child("packets", index), device)

    def _check_group_references(self, groups: Mapping[str, Located], devices: Mapping[str, Located],
                                sites: Mapping[str, Located], templates: Mapping[str, Template],
                                firmware: Mapping[str, Located], packets: Mapping[str, Packet]) -> None:
        for item in groups.values():
            spec: GroupSpec = item.spec
            for index, member in enumerate(spec.members):
                if member not in devices:
                    self._unknown("device", member, devices, item.origin.child("members", index))
            if spec.selector is not None:
                for index, site in enumerate(spec.selector.site or []):
                    if site not in sites:
                        self._unknown("site", site, sites, item.origin.child("selector", "site", index))
            self._check_layer_references(item, templates, firmware, packets)

    # --- devices ----------------------------------------------------------------------------------------

    def _devices(self, devices: Mapping[str, Located], of_device: Mapping[str, tuple[str, ...]],
                 groups: Mapping[str, Located], sites: Mapping[str, Located], templates: Mapping[str, Template],
                 firmware: Mapping[str, Located], packets: Mapping[str, Packet],
                 secrets: Mapping[str, SecretValue]) -> dict[str, Device]:
        precedence = self._precedence(groups, secrets)
        fields = _FieldChecker(self, list(groups.values()))
        defaults = {name: template_defaults(template.spec) for name, template in templates.items()}
        resolved: dict[str, Device] = {}
        for name, item in devices.items():
            spec: DeviceSpec = item.spec
            names = of_device[name]
            known = self.memo.get(spec, names) if self.memo is not None else None
            if known is not None:
                resolved[name] = self._replay(known, fields)
                continue
            first_problem = len(self.problems)
            fields.shared_of_device = []
            self._check_device_references(item, groups, sites, templates, firmware, packets)
            own = layer_of(DEVICE, spec, self._resolved(spec.fields, item.origin.child("fields"), secrets, spec.name))
            layered = precedence.of_device(own, names)
            template = templates.get(layered.template) if layered.template else None
            self._check_device_resources(item, layered, template, firmware, packets)
            if template is not None:
                fields.check(item, template, names, precedence.of_groups(names), own.fields)
            merged = {**defaults[template.name], **layered.fields} if template is not None else layered.fields
            if self._unusable(layered, template, names):
                self.invalid.add(name)
            resolved[name] = _device(spec, item.origin, names, layered, merged, sites)
            if self.memo is not None:
                self.memo.put(_Resolution(spec, names, resolved[name], tuple(self.problems[first_problem:]),
                                          tuple(fields.shared_of_device), name in self.invalid))
        fields.report_shared()
        return resolved

    def _replay(self, known: _Resolution, fields: _FieldChecker) -> Device:
        """A device resolved by an earlier build of the same environment: its findings, again."""
        self.problems.extend(known.problems)
        for source, name, template, wrong in known.shared:
            fields.share(source, name, template, wrong, known.device.name)
        if known.invalid:
            self.invalid.add(known.device.name)
        return known.device

    def _unusable(self, layered: Layered, template: Template | None, names: tuple[str, ...]) -> bool:
        """An unknown or unreadable template, or an unknown secret: reported where written, not rendered."""
        if layered.template is not None and (
            template is None or template.path in self.oversized_templates or template.name in self.broken_templates
        ):
            return True
        return bool(self._unresolved & {layered.sources.get(n, DEVICE) for n in self._unresolved_fields})

    def _precedence(self, groups: Mapping[str, Located], secrets: Mapping[str, SecretValue]) -> Precedence:
        defaults = self.fleet_spec.defaults
        default_fields = self._resolved(defaults.fields, Origin("fleet.yaml", ("defaults", "fields")), secrets,
                                        source=DEFAULTS)
        layers = {
            name: layer_of(index, item.spec, self._resolved(item.spec.fields, item.origin.child("fields"), secrets,
                                                            source=index))
            for index, (name, item) in enumerate(groups.items())
        }
        return Precedence(layer_of(DEFAULTS, defaults, default_fields), layers)

    def _resolved(self, fields: Mapping[str, Any], origin: Origin, secrets: Mapping[str, SecretValue],
                  device: str | None = None, source: int = DEVICE) -> Mapping[str, Any]:
        """One layer's fields with `!secret` references resolved; unknown secrets reported where written."""
        for name, value in fields.items():
            for ref in _secret_refs(value):
                if ref.name not in secrets and "secrets" not in self.c.broken:
                    message = f"unknown secret {ref.name!r}{_suggest(ref.name, secrets)} (field {name!r})"
                    self.problems.append(error("unknown-secret", message, origin.child(name), device))
                    if device is not None:
                        self.invalid.add(device)
                    else:
                        self._unresolved.add(source)
                        self._unresolved_fields.add(name)
        return resolve_secrets(fields, secrets)

    def _check_device_references(self, item: Located, groups: Mapping[str, Located], sites: Mapping[str, Located],
                                 templates: Mapping[str, Template], firmware: Mapping[str, Located],
                                 packets: Mapping[str, Packet]) -> None:
        spec: DeviceSpec = item.spec
        if spec.site is not None and spec.site not in sites:
            self._unknown("site", spec.site, sites, item.origin.child("site"), spec.name)
        for index, group in enumerate(spec.groups):
            if group not in groups:
                self._unknown("group", group, groups, item.origin.child("groups", index), spec.name)
        self._check_layer_references(item, templates, firmware, packets, spec.name)

    def _check_device_resources(self, item: Located, layered: Layered, template: Template | None,
                                firmware: Mapping[str, Located], packets: Mapping[str, Packet]) -> None:
        spec: DeviceSpec = item.spec
        if layered.template is None and "template" not in self.c.broken:
            self.problems.append(warning("no-template", f"device {spec.name!r} has no template: its configuration "
                                         "is not managed", item.origin, spec.name))
        if template is not None and template.spec.models is not None and spec.model not in template.spec.models:
            message = (f"template {template.name!r} does not support model {spec.model!r} "
                       f"(supports {', '.join(template.spec.models)})")
            self.problems.append(error("template-incompatible", message, item.origin.child("model"), spec.name))
        known = firmware.get(layered.firmware) if layered.firmware else None
        if known is not None and spec.model not in known.spec.models:
            message = (f"firmware {layered.firmware} does not support model {spec.model!r} "
                       f"(supports {', '.join(known.spec.models)})")
            self.problems.append(error("firmware-incompatible", message, item.origin, spec.name))
        for name in layered.packets:
            packet = packets.get(name)
            if packet is not None and packet.spec.models is not None and spec.model not in packet.spec.models:
                message = f"packet {name!r} is not for model {spec.model!r}"
                self.problems.append(error("packet-incompatible", message, item.origin, spec.name))

    # --- scale ------------------------------------------------------------------------------------------------

    def _check_scale(self, count: int) -> None:
        spec = self.fleet_spec
        origin = Origin("fleet.yaml", ("variant",))
        if "devices" in self.c.broken:
            return
        if count == 0:
            self.problems.append(error("fleet-empty", "the fleet has no devices (devices/*.yaml)", origin))
        elif spec.variant is Variant.SERVER and count > SERVER_MAX:
            self.problems.append(error("variant-limit", f"{count:,} devices: the server variant manages at most "
                                       f"{SERVER_MAX:,} routers (D0.1); use variant datacenter", origin))
        elif spec.variant is Variant.DATACENTER:
            self._check_datacenter(count, origin)

    def _check_datacenter(self, count: int, origin: Origin) -> None:
        spec = self.fleet_spec
        if count > DATACENTER_MAX:
            self.problems.append(error("variant-limit", f"{count:,} devices: the datacenter variant manages at "
                                       f"most {DATACENTER_MAX:,} routers (D0.2)", origin))
        elif count > APPROVAL_ABOVE and spec.approval is None:
            self.problems.append(error("approval-required", f"{count:,} devices: more than {APPROVAL_ABOVE:,} "
                                       "routers need a recorded approval (fleet.yaml `approval`, D0.3)", origin))
        elif count > APPROVAL_ABOVE and spec.approval is not None and count > spec.approval.max_devices:
            self.problems.append(error("approval-exceeded", f"{count:,} devices: the approval "
                                       f"{spec.approval.reference} covers {spec.approval.max_devices:,} (D0.3)",
                                       Origin("fleet.yaml", ("approval", "max_devices"))))
        elif count < DATACENTER_MIN:
            self.problems.append(warning("variant-limit", f"{count:,} devices: the datacenter variant is meant "
                                         f"for {DATACENTER_MIN:,} to {DATACENTER_MAX:,} routers (D0.2)", origin))


@dataclass(frozen=True, slots=True)
class _SharedVerdicts:
    """What the fields a set of groups provides means for one template: checked once, not per device."""

    missing: tuple[str, ...]  # required fields the groups and defaults leave unset
    wrong: tuple[tuple[str, str, int], ...]  # (field, what is wrong, layer that set it)


class _FieldChecker:
    """Checks each device's fields against its template; values shared through groups are reported once."""

    def __init__(self, builder: _Builder, groups: Sequence[Located]) -> None:
        self._b = builder
        self._groups = groups
        self._verdicts: dict[tuple[str, str, type, Any], str | None] = {}
        self._bases: dict[tuple[str, tuple[str, ...]], _SharedVerdicts] = {}
        self._shared: dict[tuple[int, str, str], tuple[str, list[str]]] = {}
        self.shared_of_device: list[tuple[int, str, str, str]] = []  # what the current device contributed

    def check(self, item: Located, template: Template, names: tuple[str, ...], base: Layered,
              own: Mapping[str, Any]) -> None:
        shared = self._bases.get((template.name, names))
        if shared is None:
            shared = self._bases[(template.name, names)] = self._shared_verdicts(template, base)
        declared = template.spec.fields
        for name in shared.missing:
            if name not in own:
                self._missing(item, template, name, declared[name])
        for name, wrong, source in shared.wrong:
            if name not in own:
                self._wrong(item, template, name, wrong, source)
        for name, value in own.items():
            field_spec = declared.get(name)
            if field_spec is not None:
                wrong_here = self._verdict(template.name, name, field_spec, value)
                if wrong_here is not None:
                    self._wrong(item, template, name, wrong_here, DEVICE)
        self._typos(item, template)

    def _shared_verdicts(self, template: Template, base: Layered) -> _SharedVerdicts:
        missing, wrong = [], []
        for name, field_spec in template.spec.fields.items():
            if name not in base.fields:
                if field_spec.is_required:
                    missing.append(name)
                continue
            verdict = fieldtypes.check_value(field_spec, base.fields[name])
            if verdict is not None:
                wrong.append((name, verdict, base.sources[name]))
        return _SharedVerdicts(tuple(missing), tuple(wrong))

    def _verdict(self, template: str, name: str, spec: FieldSpec, value: Any) -> str | None:
        try:
            key = (template, name, type(value), value)  # True == 1 == 1.0: the type is part of the key
            if key in self._verdicts:
                return self._verdicts[key]
        except TypeError:  # unhashable (a list): not memoized
            return fieldtypes.check_value(spec, value)
        verdict = self._verdicts[key] = fieldtypes.check_value(spec, value)
        return verdict

    def _missing(self, item: Located, template: Template, name: str, spec: FieldSpec) -> None:
        device = item.spec.name
        what = f" ({spec.description})" if spec.description else ""
        message = (f"device {device!r} lacks field {name!r}{what}, required by template {template.name!r} "
                   f"as {spec.type.value}")
        self._b.problems.append(error("missing-field", message, item.origin, device))

    def _wrong(self, item: Located, template: Template, name: str, wrong: str, source: int) -> None:
        device = item.spec.name
        if source == DEVICE:
            message = f"device {device!r}, field {name!r} (template {template.name!r}): {wrong}"
            self._b.problems.append(error("field-type", message, self.origin_of(item, source, name), device))
            return
        self.shared_of_device.append((source, name, template.name, wrong))
        self.share(source, name, template.name, wrong, device)

    def share(self, source: int, name: str, template: str, wrong: str, device: str) -> None:
        """Count a device among those a wrong group or default value affects (reported once, later)."""
        entry = self._shared.setdefault((source, name, template), (wrong, []))
        entry[1].append(device)
        self._b.invalid.add(device)

    def report_shared(self) -> None:
        for (source, name, template), (wrong, devices) in self._shared.items():
            more = f" and {len(devices) - 3} more" if len(devices) > 3 else ""
            shown = ", ".join(repr(d) for d in devices[:3]) + more
            message = f"field {name!r} for template {template!r} (devices {shown}): {wrong}"
            self._b.problems.append(error("field-type", message, self.origin_of(None, source, name), devices[0]))

    def origin_of(self, item: Located | None, source: int, name: str) -> Origin:
        if source == DEFAULTS:
            return Origin("fleet.yaml", ("defaults", "fields", name))
        if source == DEVICE and item is not None:
            return item.origin.child("fields", name)
        if 0 <= source < len(self._groups):
            return self._groups[source].origin.child("fields", name)
        return item.origin if item is not None else Origin("fleet.yaml")

    def _typos(self, item: Located, template: Template) -> None:
        spec: DeviceSpec = item.spec
        declared = template.spec.fields
        for name in spec.fields:
            if name not in declared:
                close = difflib.get_close_matches(name, list(declared), n=1, cutoff=0.8)
                if close and close[0] not in spec.fields:
                    message = (f"device {spec.name!r}: field {name!r} is not declared by template "
                               f"{template.name!r} (did you mean {close[0]!r}?)")
                    origin = item.origin.child("fields").key(name)
                    self._b.problems.append(warning("unused-field", message, origin, spec.name))


def _device(spec: DeviceSpec, origin: Origin, groups: tuple[str, ...], layered: Layered,
            fields: Mapping[str, Any], sites: Mapping[str, Located]) -> Device:
    site = sites.get(spec.site) if spec.site else None
    return Device(
        name=spec.name, serial=spec.serial, model=spec.model, address=spec.address,
        site=site.spec if site else None, groups=groups, tags=tuple(spec.tags), template=layered.template,
        config_mode=layered.config_mode, firmware=layered.firmware, packets=layered.packets, fields=fields,
        description=spec.description, origin=origin,
    )


def _secret_refs(value: Any) -> Iterator[SecretRef]:
    if isinstance(value, SecretRef):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _secret_refs(item)


def _suggest(name: str, known: Iterable[str]) -> str:
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def _first_line(data: bytes, variable: str) -> int:
    pattern = re.compile(rb"\b" + re.escape(variable.encode()) + rb"\b")
    match = pattern.search(data)
    return data.count(b"\n", 0, match.start()) + 1 if match else 1


def _template_problem(problem: TemplateProblem, code: str, device: str | None = None) -> Problem:
    path = problem.template if problem.template.startswith("icom/") else f"templates/{problem.template}"
    return error(code, problem.message, Origin(path, line=problem.line, col=1), device)


_SINGLE_FILES = ("fleet", "sites", "groups", "resources/firmware", "resources/packets")


def _twin_files(files: Mapping[str, SourceFile]) -> Iterator[Problem]:
    """`fleet.yaml` and `fleet.yml` side by side: which one counts would be an accident of order."""
    for stem in _SINGLE_FILES:
        if f"{stem}.yaml" in files and f"{stem}.yml" in files:
            message = f"both {stem}.yaml and {stem}.yml exist; keep one"
            yield error("duplicate-file", message, Origin(f"{stem}.yml"))


_FLEET_DIRECTORIES = ("devices/", "templates/", "resources/", "secrets/")
_ROOT_FILES = ("fleet.yaml", "sites.yaml", "groups.yaml")


def _unknown_files(files: Mapping[str, SourceFile], fleet: Fleet) -> Iterator[Problem]:
    """YAML files in the fleet's directories that no kind claims (a misplaced or misnamed file).

    Files at the root are the operator's own (CI configuration, docs), unless the name is a near
    miss of a fleet file (`group.yaml`).
    """
    part_files = {path for packet in fleet.packets.values() for path in packet_files(packet.spec, packet.directory)}
    for path in files:
        if not path.endswith((".yaml", ".yml")) or kind_of(path) is not None or path in part_files:
            continue
        if path.startswith(_FLEET_DIRECTORIES):
            yield warning("unknown-file", "not a known file kind of reconciler/v1; ignored", Origin(path))
        elif "/" not in path and (close := difflib.get_close_matches(path, _ROOT_FILES, n=1, cutoff=0.75)):
            yield warning("unknown-file", f"not a fleet file; ignored (did you mean {close[0]}?)", Origin(path))

