"""Rendering: a resolved device in, its desired state out (configuration text, firmware, packets).

Where it sits: after `building.build_fleet`; `config_diffs`, `plans` and `revision_diffs` consume the
`DesiredState`s. A device's desired state is a pure function of its inputs: the template and
everything it imports, the template context (merged fields, device, site, fleet), firmware,
packets and mode. `Renderer.input_hash` hashes exactly those, so callers can skip rendering when
the hash has not changed (a pull request that touches one device re-renders one device).
A configuration that puts a secret into a key routers report in clear fails (`secretkeys`), at
the template line that wrote it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from reconciler.core import configs
from reconciler.core.digests import canonical_json, digest
from reconciler.core.fleets import Device, Fleet, template_file
from reconciler.core.memos import HashMemo
from reconciler.core.models import ConfigMode
from reconciler.core.problems import Origin, Problem, error
from reconciler.core.sandbox import TemplateProblem, TemplateSet
from reconciler.core.secretkeys import CODE as MISPLACED_SECRET
from reconciler.core.secretkeys import Misplaced, SecretKeys, locate


@dataclass(frozen=True, slots=True)
class DesiredState:
    """What one router should run. `config_text` carries secret markers, never secret values."""

    device: str
    serial: str
    model: str
    template: str | None
    config_mode: ConfigMode
    config_text: str | None  # None: the configuration is not managed (no template)
    firmware: str | None
    packets: tuple[tuple[str, str], ...]  # (name, content digest), in order
    input_hash: str
    config: configs.ParsedConfig | None  # config_text parsed (once, while rendering)

    def parsed(self) -> configs.ParsedConfig:
        return self.config if self.config is not None else _EMPTY

    def same_outcome(self, other: DesiredState) -> bool:
        """Whether two desired states ask the router for the same thing."""
        if (self.firmware, self.packets, self.config_mode) != (other.firmware, other.packets, other.config_mode):
            return False
        if self.config_text == other.config_text:
            return True
        if self.config_text is None or other.config_text is None:
            return False
        mine, theirs = self.parsed(), other.parsed()
        return mine.values == theirs.values and mine.owned_lists == theirs.owned_lists


_EMPTY = configs.ParsedConfig({}, frozenset(), ())


@dataclass(frozen=True, slots=True)
class RenderFailure:
    """A device whose template does not render (or renders invalid configuration)."""

    device: str
    input_hash: str
    problem: Problem


Rendered = DesiredState | RenderFailure


class Renderer:
    """Renders the devices of one fleet revision (pure: no I/O).

    Rendered states are not kept: a whole-fleet pass never holds every configuration at once.
    """

    def __init__(self, fleet: Fleet, templates: TemplateSet, hashes: HashMemo | None = None) -> None:
        self.fleet = fleet
        self.templates = templates
        self._closures: dict[str, str] = {}
        # Input hashes by device object; a caller may share the memo between renderers of builds
        # that differ only in devices/ (a device object reused by such a build has the same hash).
        self._hashes = hashes if hashes is not None else HashMemo()
        self._fleet_context = {"name": fleet.spec.name, "variant": fleet.spec.variant.value,
                               "timezone": fleet.spec.timezone}
        self._sites = {name: site.model_dump(mode="python") for name, site in fleet.sites.items()}
        self._secret_keys = SecretKeys(fleet.spec.management.secret_keys)

    def context(self, device: Device) -> dict[str, Any]:
        """What the template sees (documented in docs/fleet-repository.md)."""
        site = dict(self._sites[device.site.name]) if device.site is not None else None
        device_context = {
            "name": device.name, "serial": device.serial, "model": device.model, "address": device.address,
            "site": device.site.name if device.site else None, "groups": list(device.groups),
            "tags": list(device.tags), "description": device.description,
        }
        return {**device.fields, "device": device_context, "site": site, "fleet": self._fleet_context}

    def input_hash(self, device: Device) -> str:
        known = self._hashes.get(device)
        if known is None:
            template = self._closure_hash(device.template) if device.template else "-"
            packets = "|".join(f"{name}@{self._packet_digest(name)}" for name in device.packets)
            # The fleet's secret keys decide whether a device renders: part of its input when there are any.
            extra = ("secret_keys", *self._secret_keys.globs) if self._secret_keys.globs else ()
            known = digest(template, canonical_json(self.context(device)), device.firmware or "-", packets,
                           device.config_mode.value, *extra)
            self._hashes.put(device, known)
        return known

    def render(self, device: Device) -> Rendered:
        return self._render(device, self.input_hash(device))

    def failures(self, names: Iterable[str]) -> list[Problem]:
        """The problems of the named devices that fail to render (each rendered and then dropped)."""
        found = []
        for name in names:
            rendered = self.render(self.fleet.devices[name])
            if isinstance(rendered, RenderFailure):
                found.append(rendered.problem)
        return found

    def _render(self, device: Device, key: str) -> Rendered:
        text = parsed = None
        if device.template is not None:
            template = self.fleet.templates.get(device.template)
            if template is None:
                return RenderFailure(device.name, key, error("render-error", f"device {device.name!r}: unknown "
                                                             f"template {device.template!r}", device.origin,
                                                             device.name))
            name, context = template.path.removeprefix("templates/"), self.context(device)
            try:
                text = self.templates.render(name, context)
            except TemplateProblem as problem:
                return RenderFailure(device.name, key, _problem(problem, device))
            parsed = configs.parse_config(text)
            if parsed.errors:
                return RenderFailure(device.name, key, _config_problem(parsed.errors, template.path, device))
            if self._secret_keys.misplaced(text, parsed.values):
                found = locate(self.templates, name, context, text, self._secret_keys, self.fleet.template_sources)
                return RenderFailure(device.name, key, _misplaced_problem(found, template.path, device))
        packets = tuple((name, self._packet_digest(name)) for name in device.packets)
        return DesiredState(device.name, device.serial, device.model, device.template, device.config_mode, text,
                            device.firmware, packets, key, parsed)

    def _closure_hash(self, template: str) -> str:
        known = self._closures.get(template)
        if known is None:
            found = self.fleet.templates.get(template)
            if found is None:
                return "missing:" + template
            name = found.path.removeprefix("templates/")
            sources = self.fleet.template_sources
            closure = sorted(self.templates.closure(name))
            known = self._closures[template] = digest(*(f"{n}\x00{sources.get(n, '')}" for n in closure))
        return known

    def _packet_digest(self, name: str) -> str:
        packet = self.fleet.packets.get(name)
        return packet.digest if packet is not None else "missing"


def _problem(problem: TemplateProblem, device: Device) -> Problem:
    code = "render-budget" if problem.kind == "budget" else "render-error"
    origin = Origin(template_file(problem.template), line=problem.line, col=1)
    return error(code, f"device {device.name!r}: {problem.message}", origin, device.name)


def _config_problem(errors: tuple[configs.ConfigError, ...], path: str, device: Device) -> Problem:
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    message = (f"device {device.name!r}: rendered configuration line {first.line}: {first.message}{more}")
    return error("config-syntax", message, Origin(path, line=1, col=1), device.name)




def _misplaced_problem(found: Misplaced, path: str, device: Device) -> Problem:
    what = (f"the sealed value of {', '.join(found.fields)}" if found.fields
            else f"a secret marker written as text (secret {found.secret!r})")
    where = f"is rendered into {found.key}, which is not a secret-valued key" if found.key else \
        "is rendered outside any key=value (a comment, or a key set again further down)"
    message = (f"device {device.name!r}: {what} {where}: routers report it back in clear. A sealed value may "
               "only go into credential keys (password, psk, pin, private_key, …) or keys of management.secret_keys")
    origin = Origin(template_file(found.template), line=found.line, col=1) if found.template else \
        Origin(path, line=1, col=1)
    return error(MISPLACED_SECRET, message, origin, device.name)
