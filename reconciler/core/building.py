"""Validation: every loaded file of a revision in, a resolved `Fleet` and every problem out.

Where it sits: the shell loads and caches one `LoadedFile` per YAML file (`shell.revisions`), then
calls `build_fleet`; `validate` in the CLI, `render`, `diff`, `plan` and the daemon all start here.
Checks report problems (never raise) so one run shows all of them. `build_fleet` orchestrates
them; the checks live by concern:

- here: uniqueness (device names, serials and addresses; group, site, firmware, packet and secret
  names), resolving each device (precedence, `!secret` references, reuse through `DeviceMemo`),
  scale (the variant's device limits and the approval above 5,000 devices, D0.1–D0.3), and the
  repository's files (symbolic links, twin files, files no kind claims);
- `templatechecks`: every `.j2` has its declarations and compiles; it reads only declared fields;
- `references`: the `Catalog` of what a revision defines, and every name checked against it:
  sites, groups, group members, templates, firmware, packets (and their part files), secrets,
  and whether template, firmware and packets support the device's model;
- `fieldchecks`: every device gets every required field, of the declared type (D0.11, D0.16);
- `addresschecks`: device addresses are https:// (plain HTTP only in a fleet that allows it, for labs);
- `rolloutchecks`: `rollouts.yaml` against the fleet; its policy becomes `Fleet.rollouts`.

(`rendering` checks, with `secretkeys`, that no secret is rendered into a key routers report in clear.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from reconciler.core.addresschecks import plain_http_problems
from reconciler.core.collecting import Collected, collect
from reconciler.core.digests import canonical_json, digest, packet_digest
from reconciler.core.fieldchecks import FieldChecker, Shared
from reconciler.core.fleets import Device, Fleet, Located, Packet, SourceFile, Template
from reconciler.core.loading import LoadedFile
from reconciler.core.membership import group_members, memberships
from reconciler.core.memos import DeviceMemo, Resolution
from reconciler.core.models import DeviceSpec, FleetSpec, SealedSecret, Variant, kind_of
from reconciler.core.models.common import normalized_address
from reconciler.core.paths import directory_of, packet_files
from reconciler.core.precedence import (
    DEFAULTS,
    DEVICE,
    Layered,
    Precedence,
    layer_of,
    resolve_secrets,
    template_defaults,
)
from reconciler.core.problems import Origin, Problem, closest, did_you_mean, error, warning
from reconciler.core.references import (
    Catalog,
    PartChecker,
    device_compatibility,
    device_references,
    group_references,
    layer_references,
)
from reconciler.core.rolloutchecks import check_rollouts
from reconciler.core.sandbox import TemplateSet
from reconciler.core.secrets import SecretRef, SecretValue
from reconciler.core.templatechecks import CheckedTemplates, check_templates

# D0.1–D0.3
SERVER_MAX = 1_500
DATACENTER_MIN = 1_000
DATACENTER_MAX = 20_000
APPROVAL_ABOVE = 5_000


@dataclass(frozen=True)
class FleetBuild:
    """What `build_fleet` hands on: the fleet (None if it cannot be built), its templates, all problems."""

    fleet: Fleet | None
    templates: TemplateSet | None
    problems: tuple[Problem, ...]
    invalid_devices: frozenset[str] = frozenset()  # devices with errors of their own: not worth rendering
    entitlements: tuple[Located, ...] = ()  # licence files, judged against a date by `licences.evaluate`

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
    rollouts = check_rollouts(collected.rollouts, fleet, collected.broken)
    problems.extend(rollouts.problems)
    fleet = replace(fleet, rollouts=rollouts.policy)
    problems.extend(_unknown_files(files, fleet))
    invalid = builder.invalid | {p.device for p in problems if p.is_error and p.device and p.device in fleet.devices}
    return FleetBuild(fleet, builder.templates.template_set, tuple(problems), frozenset(invalid),
                      tuple(collected.entitlements))


class _Builder:
    """Collects problems while it resolves; one instance per `build_fleet` call.

    It builds the revision's `Catalog` first (checking names for uniqueness, packets and templates
    as they enter it), then checks the references of groups and defaults and resolves each device.
    """

    def __init__(self, collected: Collected, files: Mapping[str, SourceFile], library: Mapping[str, str],
                 oversized: Mapping[str, int], memo: DeviceMemo | None) -> None:
        assert collected.fleet is not None
        self.c = collected
        self.fleet_spec: FleetSpec = collected.fleet.spec
        self.files = files
        self.oversized = oversized
        self.memo = memo
        self.problems: list[Problem] = []
        self.invalid: set[str] = set()
        self._unresolved: set[int] = set()  # layers (defaults, groups) with an unknown secret …
        self._unresolved_fields: set[str] = set()  # … in these fields
        self.catalog, self.templates = self._catalog(library)

    def _catalog(self, library: Mapping[str, str]) -> tuple[Catalog, CheckedTemplates]:
        sites = self._unique(self.c.sites, "name", "site")
        groups = self._unique(self.c.groups, "name", "group")
        firmware = self._unique(self.c.firmware, "version", "firmware")
        secrets = self._secrets()
        packets = self._packets(firmware)
        templates = check_templates(self.c.templates, self.files, library, self.oversized, self.c.broken)
        self.problems.extend(templates.problems)
        catalog = Catalog(sites, groups, templates.templates, firmware, packets, secrets, frozenset(self.c.broken))
        return catalog, templates

    def build(self) -> Fleet:
        catalog = self.catalog
        devices = self._unique_devices()
        self.problems.extend(plain_http_problems(devices.values(), self.fleet_spec.management))
        self.problems.extend(group_references(catalog, devices))
        self.problems.extend(layer_references(catalog, Located(self.fleet_spec.defaults,
                                                               Origin("fleet.yaml", ("defaults",)))))
        groups = [g.spec for g in catalog.groups.values()]
        of_device = memberships(groups, [d.spec for d in devices.values()])
        resolved = self._devices(devices, of_device)
        self._check_scale(len(resolved))
        return Fleet(
            spec=self.fleet_spec,
            devices=resolved,
            groups={name: g.spec for name, g in catalog.groups.items()},
            members=group_members(groups, of_device),
            sites={name: s.spec for name, s in catalog.sites.items()},
            templates=catalog.templates,
            template_sources=self.templates.sources,
            firmware={version: f.spec for version, f in catalog.firmware.items()},
            packets=catalog.packets,
            secrets=catalog.secrets,
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

    def _packets(self, firmware: Mapping[str, Located]) -> dict[str, Packet]:
        parts = PartChecker(self.files, self.oversized, firmware, self.c.broken)
        packets: dict[str, Packet] = {}
        for name, item in self._unique(self.c.packets, "name", "packet").items():
            directory = directory_of(item.origin.file)
            self.problems.extend(parts.check(item.spec, directory, item.origin))
            packets[name] = Packet(item.spec, packet_digest(item.spec, directory, self.files), directory, item.origin)
        return packets

    # --- devices ----------------------------------------------------------------------------------------

    def _devices(self, devices: Mapping[str, Located], of_device: Mapping[str, tuple[str, ...]]) -> dict[str, Device]:
        precedence = self._precedence()
        fields = FieldChecker(list(self.catalog.groups.values()))
        defaults = {name: template_defaults(template.spec) for name, template in self.catalog.templates.items()}
        resolved: dict[str, Device] = {}
        groups = self.catalog.groups
        contents = {name: digest(canonical_json(group.spec.model_dump(mode="json"))) for name, group in groups.items()}
        for name, item in devices.items():
            names = of_device[name]
            group_contents = tuple(contents[group] for group in names)
            known = self.memo.get(item.spec, names, group_contents) if self.memo is not None else None
            if known is not None:
                resolved[name] = self._replay(known, fields)
            else:
                resolved[name] = self._resolve(item, names, group_contents, precedence, fields, defaults)
        self.problems.extend(fields.report_shared())
        return resolved

    def _resolve(self, item: Located, names: tuple[str, ...], group_contents: tuple[str, ...],
                 precedence: Precedence, fields: FieldChecker, defaults: Mapping[str, Mapping[str, Any]]) -> Device:
        """Resolve and check one device of the groups `names` (and remember it in the memo)."""
        spec: DeviceSpec = item.spec
        first_problem = len(self.problems)
        self.problems.extend(device_references(self.catalog, item))
        own = layer_of(DEVICE, spec, self._resolved(spec.fields, item.origin.child("fields"), spec.name))
        layered = precedence.of_device(own, names)
        template = self.catalog.templates.get(layered.template) if layered.template else None
        self.problems.extend(device_compatibility(self.catalog, item, layered, template))
        shared: list[Shared] = []
        if template is not None:
            problems, shared = fields.check(item, template, names, precedence.of_groups(names), own.fields)
            self.problems.extend(problems)
        merged = {**defaults[template.name], **layered.fields} if template is not None else layered.fields
        if shared or self._unusable(layered, template):
            self.invalid.add(spec.name)
        device = _device(spec, item.origin, names, layered, merged, self.catalog.sites)
        if self.memo is not None:
            self.memo.put(Resolution(spec, names, group_contents, device, tuple(self.problems[first_problem:]),
                                      tuple(shared), spec.name in self.invalid))
        return device

    def _replay(self, known: Resolution, fields: FieldChecker) -> Device:
        """A device resolved by an earlier build of the same environment: its findings, again."""
        self.problems.extend(known.problems)
        for entry in known.shared:
            fields.share(entry, known.device.name)
        if known.invalid:
            self.invalid.add(known.device.name)
        return known.device

    def _unusable(self, layered: Layered, template: Template | None) -> bool:
        """An unknown or unreadable template, or an unknown secret: reported where written, not rendered."""
        if layered.template is not None and (template is None or template.name in self.templates.unusable):
            return True
        return bool(self._unresolved & {layered.sources.get(n, DEVICE) for n in self._unresolved_fields})

    def _precedence(self) -> Precedence:
        defaults = self.fleet_spec.defaults
        default_fields = self._resolved(defaults.fields, Origin("fleet.yaml", ("defaults", "fields")), source=DEFAULTS)
        layers = {
            name: layer_of(index, group.spec, self._resolved(group.spec.fields, group.origin.child("fields"),
                                                             source=index))
            for index, (name, group) in enumerate(self.catalog.groups.items())
        }
        return Precedence(layer_of(DEFAULTS, defaults, default_fields), layers)

    def _resolved(self, fields: Mapping[str, Any], origin: Origin, device: str | None = None,
                  source: int = DEVICE) -> Mapping[str, Any]:
        """One layer's fields with `!secret` references resolved; unknown secrets reported where written."""
        secrets = self.catalog.secrets
        for name, value in fields.items():
            for ref in _secret_refs(value):
                if ref.name not in secrets and "secrets" not in self.catalog.broken:
                    message = f"unknown secret {ref.name!r}{did_you_mean(ref.name, secrets)} (field {name!r})"
                    self.problems.append(error("unknown-secret", message, origin.child(name), device))
                    if device is not None:
                        self.invalid.add(device)
                    else:
                        self._unresolved.add(source)
                        self._unresolved_fields.add(name)
        return resolve_secrets(fields, secrets)

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


_SINGLE_FILES = ("fleet", "sites", "groups", "rollouts", "resources/firmware", "resources/packets")


def _twin_files(files: Mapping[str, SourceFile]) -> Iterator[Problem]:
    """`fleet.yaml` and `fleet.yml` side by side: which one counts would be an accident of order."""
    for stem in _SINGLE_FILES:
        if f"{stem}.yaml" in files and f"{stem}.yml" in files:
            message = f"both {stem}.yaml and {stem}.yml exist; keep one"
            yield error("duplicate-file", message, Origin(f"{stem}.yml"))


_FLEET_DIRECTORIES = ("devices/", "templates/", "resources/", "secrets/")
_ROOT_FILES = ("fleet.yaml", "sites.yaml", "groups.yaml", "rollouts.yaml")


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
        elif "/" not in path and (close := closest(path, _ROOT_FILES, cutoff=0.75)):
            yield warning("unknown-file", f"not a fleet file; ignored (did you mean {close}?)", Origin(path))

