"""Precedence: fleet defaults < groups (in declared order) < device, merged into each device's template,
mode, firmware, packets and fields; template defaults filled in; `!secret` references resolved.

Where it sits: `building` merges each device's layers here after `membership` found its groups.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.core.models import (
    ConfigMode,
    LayerSpec,
    TemplateSpec,
)
from reconciler.core.secrets import SecretRef, SecretValue

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
