"""What each level of precedence may set: the fleet defaults, a group, a device (fleet < groups < device).

Where it sits: `fleet.Defaults`, `groups.GroupSpec` and `devices.DeviceSpec` extend `LayerSpec`;
`fleets.layer_of` turns any of them into one precedence `Layer`, and `merge_layers` merges them.
"""

from __future__ import annotations

from reconciler.core.models.common import ConfigModeField, FieldValues, Name, Spec, Version


class LayerSpec(Spec):
    """The template, configuration mode, firmware, update packets and user fields one layer sets."""

    template: Name | None = None
    config_mode: ConfigModeField | None = None
    firmware: Version | None = None
    packets: list[Name] = []
    fields: FieldValues = {}
