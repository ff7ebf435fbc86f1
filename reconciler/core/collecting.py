"""Collecting: the specs of every loaded file of a revision, sorted by kind, with where each was written.

Where it sits: first step of `building`, after `loading` (one spec per file); what it collects
is checked and resolved into a `fleets.Fleet` by the rest of `building`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.fleets import Located
from reconciler.core.loading import LoadedFile
from reconciler.core.models import (
    AccountFile,
    DevicesFile,
    FirmwareFile,
    FleetSpec,
    GroupsFile,
    LicenceFile,
    LicencesFile,
    PaasFile,
    PacketsFile,
    PriceListsFile,
    RolloutsFile,
    SecretsFile,
    SelectionFile,
    SitesFile,
    SupportFile,
    TemplateSpec,
    UcaasFile,
)
from reconciler.core.problems import Origin


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
