"""`resources/`: the firmware catalogue and the update packets with their parts (D0.12, D0.13)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from reconciler.core.models.common import Md5, Model, Name, RelativePath, Sha256, Spec, Text, Version


class FirmwareSpec(Spec):
    version: Version
    models: Annotated[list[Model], Field(min_length=1, description="router models this firmware runs on")]
    file: str | None = Field(default=None, description="the image's file name as the vendor ships it")
    url: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = None
    size: Annotated[int, Field(gt=0)] | None = None
    sha256: Sha256 | None = None
    md5: Md5 | None = None
    released: dt.date | None = None
    notes: Text = ""


class FirmwareFile(Spec):
    firmware: list[FirmwareSpec]


class ConfigurationAction(StrEnum):
    APPLY = "apply"  # store into the profile and activate it
    STORE = "store"  # store only; activated later


class _Part(Spec):
    description: Text = ""


class ConfigurationPart(_Part):
    type: Literal["configuration"]
    file: RelativePath = Field(description="an icom OS ASCII configuration fragment")
    action: Annotated[ConfigurationAction, Field(strict=False)] = ConfigurationAction.APPLY


class ScriptPart(_Part):
    type: Literal["script"]
    file: RelativePath


class CertificatePart(_Part):
    type: Literal["certificate"]
    file: RelativePath = Field(description="a PEM file")
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")] = Field(
        description="the certificate's name on the router"
    )


class FirmwarePart(_Part):
    type: Literal["firmware"]
    version: Version = Field(description="a version from resources/firmware.yaml")


class ContainerPart(_Part):
    type: Literal["container"]
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
    file: RelativePath | None = None
    url: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = None
    sha256: Sha256 | None = None


PacketPart = Annotated[
    ConfigurationPart | ScriptPart | CertificatePart | FirmwarePart | ContainerPart,
    Field(discriminator="type"),
]


class PacketSpec(Spec):
    name: Name
    description: Text = ""
    version: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    models: list[Model] | None = Field(default=None, description="router models the packet is for (all if absent)")
    parts: Annotated[list[PacketPart], Field(min_length=1)]


class PacketsFile(Spec):
    packets: list[PacketSpec]
