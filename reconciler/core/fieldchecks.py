"""Field checks: each device's merged fields against the declarations of its template (D0.11, D0.16).

Where it sits: `validation._Builder` resolves a device (precedence, secrets) and hands its fields
to `FieldChecker.check`, which returns the device's own problems: required fields left unset,
values of the wrong type, and near misses of declared names. A wrong value that a group or the
fleet defaults provide is not reported per device: it is collected, and `report_shared` reports
it once, naming the devices it affects. What the defaults and a set of groups provide is checked
once per template and set of groups, not once per device.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from reconciler.core import fieldtypes
from reconciler.core.fleets import Located, Template
from reconciler.core.models import DeviceSpec, FieldSpec
from reconciler.core.precedence import DEFAULTS, DEVICE, Layered
from reconciler.core.problems import Origin, Problem, closest, error, warning


class Shared(NamedTuple):
    """A wrong value a group or the defaults give a device: reported once for all devices it affects."""

    source: int  # the layer that set it: DEFAULTS or the group's index
    field: str
    template: str
    wrong: str  # what is wrong with it


@dataclass(frozen=True, slots=True)
class _SharedVerdicts:
    """What the fields a set of groups provides means for one template: checked once, not per device."""

    missing: tuple[str, ...]  # required fields the groups and defaults leave unset
    wrong: tuple[tuple[str, str, int], ...]  # (field, what is wrong, layer that set it)


class FieldChecker:
    """Checks each device's fields against its template; one instance per build, across its devices.

    `groups` are the fleet's groups in declared order (a layer's index names its group).
    """

    def __init__(self, groups: Sequence[Located]) -> None:
        self._groups = groups
        self._verdicts: dict[tuple[str, str, type, Any], str | None] = {}
        self._bases: dict[tuple[str, tuple[str, ...]], _SharedVerdicts] = {}
        self._shared: dict[tuple[int, str, str], tuple[str, list[str]]] = {}

    def check(self, item: Located, template: Template, names: tuple[str, ...], base: Layered,
              own: Mapping[str, Any]) -> tuple[list[Problem], list[Shared]]:
        """The device's problems, and the wrong shared values it is counted among (see `share`).

        `names` are the device's groups, `base` what defaults and those groups provide, `own` the
        device's own fields.
        """
        verdicts = self._bases.get((template.name, names))
        if verdicts is None:
            verdicts = self._bases[(template.name, names)] = self._shared_verdicts(template, base)
        declared = template.spec.fields
        problems = [self._missing(item, template, name, declared[name]) for name in verdicts.missing
                    if name not in own]
        shared = [Shared(source, name, template.name, wrong) for name, wrong, source in verdicts.wrong
                  if name not in own]
        for name, value in own.items():
            field_spec = declared.get(name)
            wrong_here = self._verdict(template.name, name, field_spec, value) if field_spec is not None else None
            if wrong_here is not None:
                message = f"device {item.spec.name!r}, field {name!r} (template {template.name!r}): {wrong_here}"
                problems.append(error("field-type", message, self.origin_of(item, DEVICE, name), item.spec.name))
        problems.extend(self._typos(item, template))
        for entry in shared:
            self.share(entry, item.spec.name)
        return problems, shared

    def share(self, entry: Shared, device: str) -> None:
        """Count a device among those a wrong group or default value affects (reported once, later)."""
        self._shared.setdefault((entry.source, entry.field, entry.template), (entry.wrong, []))[1].append(device)

    def report_shared(self) -> list[Problem]:
        """One problem per wrong group or default value, naming the first devices it affects."""
        problems = []
        for (source, name, template), (wrong, devices) in self._shared.items():
            more = f" and {len(devices) - 3} more" if len(devices) > 3 else ""
            shown = ", ".join(repr(d) for d in devices[:3]) + more
            message = f"field {name!r} for template {template!r} (devices {shown}): {wrong}"
            problems.append(error("field-type", message, self.origin_of(None, source, name), devices[0]))
        return problems

    def origin_of(self, item: Located | None, source: int, name: str) -> Origin:
        """Where the layer `source` wrote field `name`."""
        if source == DEFAULTS:
            return Origin("fleet.yaml", ("defaults", "fields", name))
        if source == DEVICE and item is not None:
            return item.origin.child("fields", name)
        if 0 <= source < len(self._groups):
            return self._groups[source].origin.child("fields", name)
        return item.origin if item is not None else Origin("fleet.yaml")

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

    @staticmethod
    def _missing(item: Located, template: Template, name: str, spec: FieldSpec) -> Problem:
        device = item.spec.name
        what = f" ({spec.description})" if spec.description else ""
        message = (f"device {device!r} lacks field {name!r}{what}, required by template {template.name!r} "
                   f"as {spec.type.value}")
        return error("missing-field", message, item.origin, device)

    @staticmethod
    def _typos(item: Located, template: Template) -> list[Problem]:
        """Device fields the template does not declare, but a declared one it lacks is very like."""
        spec: DeviceSpec = item.spec
        declared = template.spec.fields
        problems = []
        for name in spec.fields:
            close = closest(name, declared, cutoff=0.8) if name not in declared else None
            if close is not None and close not in spec.fields:
                message = (f"device {spec.name!r}: field {name!r} is not declared by template "
                           f"{template.name!r} (did you mean {close!r}?)")
                problems.append(warning("unused-field", message, item.origin.child("fields").key(name), spec.name))
        return problems
