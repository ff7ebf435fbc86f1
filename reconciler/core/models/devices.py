"""`devices/*.yaml`: the routers (D0.7, D0.9) with their user fields (D0.11) and optional pins."""

from __future__ import annotations

from pydantic import Field

from reconciler.core.models.common import Address, Model, Name, Serial, Spec, Tag, Text, Version
from reconciler.core.models.layers import LayerSpec


# No docstring: it would become the schema's description of a device.
class DeviceSpec(LayerSpec):
    name: Name
    serial: Serial
    model: Model
    address: Address
    site: Name | None = Field(default=None, description="a site from sites.yaml")
    groups: list[Name] = Field(default=[], description="groups this device joins explicitly")
    tags: list[Tag] = []
    # Layer fields redeclared for what a device's own value means:
    template: Name | None = Field(default=None, description="overrides the template from groups/defaults")
    firmware: Version | None = Field(default=None, description="pins the firmware (overrides groups/defaults)")
    packets: list[Name] = Field(default=[], description="update packets, added to those of groups/defaults")
    description: Text = ""


class DevicesFile(Spec):
    devices: list[DeviceSpec]
