"""Secret-valued keys: a sealed value may only be rendered into a key routers keep to themselves.

Where it sits: `rendering` asks `SecretKeys.misplaced` about every configuration it renders. A
router stores a credential key (`administration.users[1].password`, `ipsec.connection[1].psk`,
`interfaces.wwan1.sim_pin`) hashed and never reports it back in clear; every other key it reports
as written, into snapshots, plans and logs. So a `!secret` rendered into an ordinary key
(`location={{ admin_password }}`) would leak the moment apply unsealed it: the device fails to
render instead (`validate` reports it, plan shows it invalid, apply leaves it alone). Apply puts a
secret in place of every marker of the text, so every marker must sit in the value of a
secret-valued key: one in a comment line, or in a key set again further down, is refused too.

Which keys are secret-valued: those whose last name is a credential's (`secrets.is_credential_name`:
password, passwd, psk, pre_shared, secret, token, passphrase, credential, community, private, pin,
puk, key, `…_key`), and those matching a glob of fleet.yaml `management.secret_keys`.

`locate` finds the template line that wrote the marker: it renders the device again with traced
secrets, each stringification giving a marker of its own, to learn which one went astray; then once
more, stopping at that stringification, so that the sandbox reports where it was (the same template
and line a render error gets). Only a device that fails pays for this.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.core import configs
from reconciler.core.config_diffs import KeyGlobs
from reconciler.core.sandbox import TemplateProblem, TemplateSet
from reconciler.core.secrets import (
    MARKER_START,
    SecretValue,
    contains_secret,
    is_credential_name,
    marker,
    secret_markers,
)

CODE = "secret-in-plain-key"
OUTSIDE = ""  # a marker in no value: a comment line, or a key set again further down


class SecretKeys:
    """The keys a secret may be rendered into: credential names, and a fleet's own globs."""

    def __init__(self, globs: Iterable[str] = ()) -> None:
        self.globs = tuple(globs)
        self._extra = KeyGlobs(self.globs)

    def __call__(self, key: str) -> bool:
        last = key.rsplit(".", 1)[-1].split("[", 1)[0]
        return is_credential_name(last) or self._extra(key)

    def misplaced(self, text: str, values: Mapping[str, str]) -> bool:
        """Whether a rendered configuration (`text`, parsed into `values`) has a marker outside a secret-valued key."""
        if MARKER_START not in text:
            return False
        carrying = [(key, value) for key, value in values.items() if MARKER_START in value]
        allowed = [value for key, value in carrying if self(key)]
        if len(allowed) < len(carrying) and any(contains_secret(v) for k, v in carrying if not self(k)):
            return True
        # Counting the start of markers is enough when every one of them is in an allowed value (the common case).
        if sum(value.count(MARKER_START) for value in allowed) == text.count(MARKER_START):
            return False
        return sum(len(secret_markers(value)) for value in allowed) < len(secret_markers(text))


@dataclass(frozen=True, slots=True)
class Misplaced:
    """The first marker a device put where it must not be, and where it was written (when found)."""

    key: str  # OUTSIDE: in no value
    secret: str
    fields: tuple[str, ...]  # the device fields that hold the secret; empty: the marker was written as text
    template: str | None = None
    line: int = 0


def locate(templates: TemplateSet, name: str, context: Mapping[str, Any], text: str, allowed: SecretKeys,
           sources: Mapping[str, str]) -> Misplaced:
    """The first misplaced marker of `text`, rendered from template `name` with `context`, and where it was written.

    `sources` are the templates by name, to find a marker that was written as text in one of them.
    """
    tracer = _Tracer(avoid=frozenset(fingerprint for _, fingerprint in secret_markers(text)))
    try:
        traced = templates.render(name, _traced(context, tracer))
    except TemplateProblem:  # pragma: no cover - it rendered untraced: only positions would be lost
        traced = text
    markers = secret_markers(traced)
    values = configs.parse_config(traced).values
    secret, fingerprint = _first_misplaced(markers, values, allowed)
    key = _key_of(marker(secret, fingerprint), values)
    call = tracer.calls_of.get(fingerprint)
    if call is None:  # not a stringified secret: a marker typed into a template
        return Misplaced(key, secret, (), *_written(sources, templates.closure(name), marker(secret, fingerprint)))
    fields = tuple(sorted(field for field, value in context.items() if _holds(value, secret)))
    try:
        templates.render(name, _traced(context, _Tracer(stop_at=call)))
    except TemplateProblem as problem:
        return Misplaced(key, secret, fields, problem.template, problem.line)
    return Misplaced(key, secret, fields)  # pragma: no cover - renders are deterministic: the stop is reached


def _first_misplaced(markers: list[tuple[str, str]], values: Mapping[str, str],
                     allowed: SecretKeys) -> tuple[str, str]:
    """The first marker (in text order) that is not in the value of a secret-valued key."""
    placed = Counter(found for key, value in values.items() if contains_secret(value) and allowed(key)
                     for found in secret_markers(value))
    for found in markers:
        if placed[found] == 0:
            return found
        placed[found] -= 1
    return markers[-1]  # pragma: no cover - `misplaced` found one in the same structure: the last is as good


def _key_of(text: str, values: Mapping[str, str]) -> str:
    return next((key for key, value in values.items() if text in value), OUTSIDE)


def _written(sources: Mapping[str, str], names: Iterable[str], text: str) -> tuple[str | None, int]:
    """The first template line holding `text` (a marker typed into a template), or nothing."""
    for name in sorted(names):
        for number, line in enumerate(sources.get(name, "").splitlines(), start=1):
            if text in line:
                return name, number
    return None, 0


class _Stop(Exception):
    """Raised inside the template at the stringification `locate` looks for (the sandbox reports its line)."""


@dataclass
class _Tracer:
    """Counts stringifications; each gets a fingerprint of its own, none of those in `avoid` (the text's own)."""

    stop_at: int | None = None
    avoid: frozenset[str] = frozenset()
    calls: int = 0
    calls_of: dict[str, int] = field(default_factory=dict)  # fingerprint → stringification
    _last: int = 0

    def mark(self, value: SecretValue) -> str:
        self.calls += 1
        if self.calls == self.stop_at:
            raise _Stop("here")
        self._last += 1
        while f"{self._last:012x}" in self.avoid:
            self._last += 1
        fingerprint = f"{self._last:012x}"
        self.calls_of[fingerprint] = self.calls
        return marker(value.name, fingerprint)


@dataclass(frozen=True, slots=True)
class _TracedSecret(SecretValue):
    """A secret that tells its tracer each time a template turns it into text."""

    tracer: _Tracer = field(default_factory=_Tracer, compare=False, repr=False)

    def __str__(self) -> str:
        return self.tracer.mark(self)


def _traced(context: Mapping[str, Any], tracer: _Tracer) -> dict[str, Any]:
    return {name: _trace(value, tracer) for name, value in context.items()}


def _trace(value: Any, tracer: _Tracer) -> Any:
    if isinstance(value, SecretValue):
        return _TracedSecret(value.name, value.fingerprint, value.sealed, tracer)
    if isinstance(value, list):
        return [_trace(item, tracer) for item in value]
    return value


def _holds(value: Any, secret: str) -> bool:
    if isinstance(value, SecretValue):
        return value.name == secret
    return isinstance(value, list) and any(_holds(item, secret) for item in value)
