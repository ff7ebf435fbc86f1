"""The models of every file kind in a fleet repository (format `reconciler/v1`, docs/fleet-repository.md).

Where it sits: `loading` looks up a file's kind by its path (`kind_of`) and validates the parsed
YAML against the kind's model; `schemas` writes one JSON Schema per kind for editors and CI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from reconciler.core.entitlements.models.licences import LicenceFile, LicencesFile, LicenceTerms, Signature, TrustedKey
from reconciler.core.entitlements.models.platform import PaasFile
from reconciler.core.entitlements.models.rentals import AccountFile, PriceListsFile, SelectionFile
from reconciler.core.entitlements.models.support import SupportFile
from reconciler.core.entitlements.models.telephony import UcaasFile
from reconciler.core.models.common import ConfigMode, Spec
from reconciler.core.models.devices import DevicesFile, DeviceSpec
from reconciler.core.models.fleet import FORMAT, Approval, Defaults, FleetSpec, Sync, Variant
from reconciler.core.models.groups import GroupsFile, GroupSpec, Selector
from reconciler.core.models.layers import LayerSpec
from reconciler.core.models.resources import FirmwareFile, FirmwareSpec, PacketPart, PacketsFile, PacketSpec
from reconciler.core.models.rollouts import RolloutsFile
from reconciler.core.models.secrets import SealedSecret, SecretsFile
from reconciler.core.models.sites import SitesFile, SiteSpec
from reconciler.core.models.templates import FieldSpec, FieldType, TemplateSpec


@dataclass(frozen=True, slots=True)
class FileKind:
    """A kind of YAML file: where it lives in the repository and the model it must satisfy."""

    name: str
    model: type[Spec]
    patterns: tuple[str, ...]  # `*` stays within one directory, `**/` spans any number of them
    description: str
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        alternatives = "|".join(_glob_regex(pattern) for pattern in self.patterns)
        object.__setattr__(self, "_regex", re.compile(f"(?:{alternatives})"))

    def matches(self, path: str) -> bool:
        return self._regex.fullmatch(path) is not None

    @property
    def schema_file(self) -> str:
        return f"{self.name}.schema.json"


def _glob_regex(pattern: str) -> str:
    parts = re.split(r"(\*\*/|\*)", pattern)
    return "".join({"**/": "(?:[^/]+/)*", "*": "[^/]+"}.get(part, re.escape(part)) for part in parts)


def _yaml(*stems: str) -> tuple[str, ...]:
    return tuple(f"{stem}.{ext}" for stem in stems for ext in ("yaml", "yml"))


FILE_KINDS: tuple[FileKind, ...] = (
    FileKind("fleet", FleetSpec, _yaml("fleet"), "fleet.yaml: identity, variant, defaults, sync"),
    FileKind("sites", SitesFile, _yaml("sites"), "sites.yaml: locations and time zones"),
    FileKind("groups", GroupsFile, _yaml("groups"), "groups.yaml: device groups, selectors, group fields"),
    FileKind("devices", DevicesFile, _yaml("devices/**/*"), "devices/*.yaml: the routers"),
    FileKind("template", TemplateSpec, _yaml("templates/*"), "templates/<name>.yaml: a template's fields"),
    FileKind("rollouts", RolloutsFile, _yaml("rollouts"), "rollouts.yaml: rollout strategies, assignment, windows"),
    FileKind("firmware", FirmwareFile, _yaml("resources/firmware"), "resources/firmware.yaml: catalogue"),
    FileKind("packets", PacketsFile, _yaml("resources/packets", "resources/packets/*"),
             "resources/packets/*.yaml: update packets and their parts"),
    FileKind("secrets", SecretsFile, _yaml("secrets/**/*"), "secrets/*.yaml: sealed values"),
    FileKind("licences", LicencesFile, _yaml("licences/licences"), "licences/licences.yaml: trusted vendor keys"),
    FileKind("licence", LicenceFile, ("licences/*.licence",), "licences/*.licence: signed licence files (D0.34)"),
    FileKind("account", AccountFile, _yaml("rentals/account"), "rentals/account.yaml: credit account, top-ups (D1)"),
    FileKind("prices", PriceListsFile, _yaml("rentals/prices"), "rentals/prices.yaml: rental price lists (D1.4)"),
    FileKind("selection", SelectionFile, _yaml("rentals/selections/*"),
             "rentals/selections/<pbx>.yaml: what one PBX rents; its git history is the billing timeline (D1.5)"),
    FileKind("paas", PaasFile, _yaml("services/paas"), "services/paas.yaml: hosted platform instances (D2)"),
    FileKind("ucaas", UcaasFile, _yaml("services/ucaas"), "services/ucaas.yaml: hosted telephony customers (D3)"),
    FileKind("support", SupportFile, _yaml("services/support"), "services/support.yaml: support plans (D4)"),
)


def kind_of(path: str) -> FileKind | None:
    """The kind of the file at `path` (relative to the fleet root), or None if it is not a known kind."""
    for kind in FILE_KINDS:
        if kind.matches(path):
            return kind
    return None


__all__ = [
    "FILE_KINDS",
    "FORMAT",
    "AccountFile",
    "Approval",
    "ConfigMode",
    "Defaults",
    "DeviceSpec",
    "DevicesFile",
    "FieldSpec",
    "FieldType",
    "FileKind",
    "FirmwareFile",
    "FirmwareSpec",
    "FleetSpec",
    "GroupSpec",
    "GroupsFile",
    "LayerSpec",
    "LicenceFile",
    "LicenceTerms",
    "LicencesFile",
    "PaasFile",
    "PacketPart",
    "PacketSpec",
    "PacketsFile",
    "PriceListsFile",
    "RolloutsFile",
    "SealedSecret",
    "SecretsFile",
    "SelectionFile",
    "Selector",
    "Signature",
    "SiteSpec",
    "SitesFile",
    "Spec",
    "SupportFile",
    "Sync",
    "TemplateSpec",
    "TrustedKey",
    "UcaasFile",
    "Variant",
    "kind_of",
]
