"""References: the names a revision's files use, checked against the `Catalog` of what it defines.

Where it sits: `validation._Builder` first builds the revision's `Catalog` (each site, group,
template, firmware, packet and secret by its name; packets are checked here as they enter it:
their part files, their firmware), then checks the references of the groups, the fleet defaults
and each device with these functions, and after merging a device's layers whether its template,
firmware and packets support its model. Every check yields `Problem`s and never raises. A name
that is unknown while a file of its kind is broken is not reported: it may well be in that file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Set
from dataclasses import dataclass

from reconciler.core import configs, limits
from reconciler.core.fleets import Located, Packet, SourceFile, Template
from reconciler.core.models import DeviceSpec, GroupSpec, LayerSpec, PacketSpec
from reconciler.core.paths import join, part_file
from reconciler.core.precedence import Layered
from reconciler.core.problems import Origin, Problem, did_you_mean, error, warning
from reconciler.core.secrets import SecretValue

# What a reference names → the file kind that defines it (a broken file of that kind silences "unknown").
_KIND_OF_REFERENCE = {"device": "devices", "group": "groups", "site": "sites", "template": "template",
                      "firmware": "firmware", "packet": "packets", "secret": "secrets"}


@dataclass(frozen=True)
class Catalog:
    """What one revision defines, each name once: what every reference is resolved against."""

    sites: Mapping[str, Located]
    groups: Mapping[str, Located]  # in declared order: their precedence
    templates: Mapping[str, Template]
    firmware: Mapping[str, Located]
    packets: Mapping[str, Packet]
    secrets: Mapping[str, SecretValue]
    broken: Set[str]  # the kinds with a broken file: their names here may be incomplete


def unknown(what: str, name: str, known: Iterable[str], origin: Origin, broken: Set[str],
            device: str | None = None) -> Iterator[Problem]:
    """`unknown-<what>` for a name that is not among the `known` ones (unless its kind has a broken file)."""
    if _KIND_OF_REFERENCE[what] not in broken:
        yield error(f"unknown-{what}", f"unknown {what} {name!r}{did_you_mean(name, known)}", origin, device)


def layer_references(catalog: Catalog, item: Located, device: str | None = None) -> Iterator[Problem]:
    """The template, firmware and packets a layer (the defaults, a group, a device) names."""
    spec: LayerSpec = item.spec
    broken = catalog.broken
    if spec.template is not None and spec.template not in catalog.templates:
        yield from unknown("template", spec.template, catalog.templates, item.origin.child("template"), broken, device)
    if spec.firmware is not None and spec.firmware not in catalog.firmware:
        yield from unknown("firmware", spec.firmware, catalog.firmware, item.origin.child("firmware"), broken, device)
    for index, packet in enumerate(spec.packets):
        if packet not in catalog.packets:
            yield from unknown("packet", packet, catalog.packets, item.origin.child("packets", index), broken, device)


def group_references(catalog: Catalog, devices: Mapping[str, Located]) -> Iterator[Problem]:
    """Every group's members, selector sites, template, firmware and packets."""
    for item in catalog.groups.values():
        spec: GroupSpec = item.spec
        for index, member in enumerate(spec.members):
            if member not in devices:
                yield from unknown("device", member, devices, item.origin.child("members", index), catalog.broken)
        if spec.selector is not None:
            for index, site in enumerate(spec.selector.site or []):
                if site not in catalog.sites:
                    origin = item.origin.child("selector", "site", index)
                    yield from unknown("site", site, catalog.sites, origin, catalog.broken)
        yield from layer_references(catalog, item)


def device_references(catalog: Catalog, item: Located) -> Iterator[Problem]:
    """A device's site, groups, template, firmware and packets."""
    spec: DeviceSpec = item.spec
    if spec.site is not None and spec.site not in catalog.sites:
        yield from unknown("site", spec.site, catalog.sites, item.origin.child("site"), catalog.broken, spec.name)
    for index, group in enumerate(spec.groups):
        if group not in catalog.groups:
            origin = item.origin.child("groups", index)
            yield from unknown("group", group, catalog.groups, origin, catalog.broken, spec.name)
    yield from layer_references(catalog, item, spec.name)


def device_compatibility(catalog: Catalog, item: Located, layered: Layered,
                         template: Template | None) -> Iterator[Problem]:
    """What precedence gave a device (template, firmware, packets) against its model; no template at all."""
    spec: DeviceSpec = item.spec
    if layered.template is None and "template" not in catalog.broken:
        yield warning("no-template", f"device {spec.name!r} has no template: its configuration is not managed",
                      item.origin, spec.name)
    if template is not None and template.spec.models is not None and spec.model not in template.spec.models:
        message = (f"template {template.name!r} does not support model {spec.model!r} "
                   f"(supports {', '.join(template.spec.models)})")
        yield error("template-incompatible", message, item.origin.child("model"), spec.name)
    known = catalog.firmware.get(layered.firmware) if layered.firmware else None
    if known is not None and spec.model not in known.spec.models:
        message = (f"firmware {layered.firmware} does not support model {spec.model!r} "
                   f"(supports {', '.join(known.spec.models)})")
        yield error("firmware-incompatible", message, item.origin, spec.name)
    for name in layered.packets:
        packet = catalog.packets.get(name)
        if packet is not None and packet.spec.models is not None and spec.model not in packet.spec.models:
            yield error("packet-incompatible", f"packet {name!r} is not for model {spec.model!r}", item.origin,
                        spec.name)


# --- packets ------------------------------------------------------------------------------------------


class PartChecker:
    """Checks the parts of each packet: their files exist and read as their type says, their firmware fits.

    `files` holds every file of the revision, `oversized` those the shell did not read for their
    size, `firmware` the firmware catalogue.
    """

    def __init__(self, files: Mapping[str, SourceFile], oversized: Mapping[str, int],
                 firmware: Mapping[str, Located], broken: Set[str]) -> None:
        self._files = files
        self._oversized = oversized
        self._firmware = firmware
        self._broken = broken

    def check(self, spec: PacketSpec, directory: str, origin: Origin) -> Iterator[Problem]:
        for index, part in enumerate(spec.parts):
            part_origin = origin.child("parts", index)
            file = part_file(part)
            if file is not None:
                yield from self._file_problems(join(directory, file), part.type, part_origin.child("file"))
            if part.type == "firmware":
                yield from self._firmware_problems(spec, part.version, part_origin.child("version"))
            if part.type == "container" and part.file is None and part.url is None:
                yield error("packet-part", "a container part needs `file` or `url`", part_origin)

    def _file_problems(self, path: str, part_type: str, origin: Origin) -> Iterator[Problem]:
        source = self._files.get(path)
        if source is None:
            yield error("missing-file", f"part file {path} does not exist", origin)
            return
        if part_type in ("configuration", "certificate"):  # firmware and containers may be large
            too_large = limits.oversize_problem(path, source.data, self._oversized, limits.PART_BYTES)
            if too_large is not None:
                yield too_large
                return
        elif path in self._oversized:
            return
        if part_type == "configuration":
            parsed = configs.parse_config(source.data.decode("utf-8", errors="replace"))
            for e in parsed.errors:
                yield error("config-syntax", e.message, Origin(path, line=e.line, col=1))
        if part_type == "certificate" and b"-----BEGIN CERTIFICATE-----" not in source.data:
            yield error("packet-part", f"{path} is not a PEM certificate", origin)

    def _firmware_problems(self, spec: PacketSpec, version: str, origin: Origin) -> Iterator[Problem]:
        known = self._firmware.get(version)
        if known is None:
            yield from unknown("firmware", version, self._firmware, origin, self._broken)
            return
        unsupported = [m for m in spec.models or [] if m not in known.spec.models]
        if unsupported:
            message = f"firmware {version} does not support {', '.join(unsupported)} (packet {spec.name})"
            yield error("firmware-incompatible", message, origin)
