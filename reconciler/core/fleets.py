"""Fleets: the resolved fleet of one revision, as the rest of the core sees it.

Where it sits: `building` turns the validated files of a revision into a `Fleet` (with the help
of `collecting`, `membership` and `precedence`); `rendering` renders its devices, `plans` and
`revision_diffs` compare them. The types here are values: a `Device` with its template, mode,
firmware, packets and fields already merged, the fleet's templates and packets, and `SourceFile`,
a repository file as the shell read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.core.models import (
    ConfigMode,
    FirmwareSpec,
    FleetSpec,
    GroupSpec,
    PacketSpec,
    SiteSpec,
    TemplateSpec,
)
from reconciler.core.models.rollouts import DEFAULT_POLICY, RolloutsFile
from reconciler.core.problems import Origin
from reconciler.core.secrets import SecretValue

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
