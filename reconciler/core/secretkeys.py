"""Secret-valued keys: a sealed value may only be rendered into a key routers keep to themselves.

Where it sits: `rendering` asks `SecretKeys.misplaced` about every configuration it renders. A
router stores a credential key (`administration.users[1].password`, `ipsec.connection[1].psk`,
`interfaces.wwan1.sim_pin`) hashed and never reports it back in clear; every other key it reports
as written, into snapshots, plans and logs. So a `!secret` rendered into an ordinary key
(`location={{ admin_password }}`) would leak the moment apply unsealed it: the device fails to
render instead (`validate` reports it, plan shows it invalid, apply leaves it alone).

Which keys are secret-valued: those whose last name is a credential's (`secrets.is_credential_name`:
password, passwd, psk, pre_shared, secret, token, passphrase, credential, community, private, pin,
puk, key, `…_key`), and those matching a glob of fleet.yaml `management.secret_keys`.

`locate` finds the template line that wrote the value: it renders the device again with traced
secrets, each stringification giving a marker of its own, to learn which one ended up in the key;
then once more, stopping at that stringification, so that the sandbox reports where it was (the
same template and line a render error gets). Only a device that fails pays for this.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.core import configs
from reconciler.core.diffs import KeyGlobs
from reconciler.core.sandbox import TemplateProblem, TemplateSet
from reconciler.core.secrets import (
    SecretValue,
    contains_secret,
    is_credential_name,
    marker,
    secret_markers,
    secret_names,
)

CODE = "secret-in-plain-key"


class SecretKeys:
    """The keys a secret may be rendered into: credential names, and a fleet's own globs."""

    def __init__(self, globs: Iterable[str] = ()) -> None:
        self.globs = tuple(globs)
        self._extra = KeyGlobs(self.globs)

    def __call__(self, key: str) -> bool:
        last = key.rsplit(".", 1)[-1].split("[", 1)[0]
        return is_credential_name(last) or self._extra(key)

    def misplaced(self, values: Mapping[str, str]) -> list[str]:
        """The keys of a rendered configuration that carry a secret but are not secret-valued."""
        return [key for key, value in values.items() if contains_secret(value) and not self(key)]


@dataclass(frozen=True, slots=True)
class Misplaced:
    """What a failing device put where: the key, the secrets in it, the device fields that hold them."""

    key: str
    secrets: tuple[str, ...]
    fields: tuple[str, ...]  # empty: the marker was written as text, not rendered from a field
    others: int  # further keys with the same fault
    template: str | None = None  # where the value was written, when found
    line: int = 0


def locate(templates: TemplateSet, name: str, context: Mapping[str, Any], keys: list[str],
           values: Mapping[str, str]) -> Misplaced:
    """The first misplaced key of a device rendered from template `name` with `context`, and where it was written."""
    key = keys[0]
    secrets = tuple(sorted(secret_names(values[key])))
    fields = tuple(sorted(field for field, value in context.items() if _holds(value, secrets)))
    found = Misplaced(key, secrets, fields, len(keys) - 1)
    call = _traced_call(templates, name, context, key)
    if call is None:
        return found
    try:
        templates.render(name, _traced(context, _Tracer(stop_at=call)))
    except TemplateProblem as problem:
        return Misplaced(key, secrets, fields, found.others, problem.template, problem.line)
    return found  # pragma: no cover - a render is deterministic: the second one stops where the first marked


def _traced_call(templates: TemplateSet, name: str, context: Mapping[str, Any], key: str) -> int | None:
    """Which stringification of a secret (counted from 1) produced the value of `key`, if one did."""
    tracer = _Tracer()
    try:
        text = templates.render(name, _traced(context, tracer))
    except TemplateProblem:
        return None
    value = configs.parse_config(text).values.get(key, "")
    calls = [int(fingerprint, 16) for _, fingerprint in secret_markers(value)]
    return next((call for call in calls if 1 <= call <= tracer.calls), None)


class _Stop(Exception):
    """Raised inside the template at the stringification `locate` looks for (the sandbox reports its line)."""


@dataclass
class _Tracer:
    stop_at: int | None = None
    calls: int = 0

    def mark(self, value: SecretValue) -> str:
        self.calls += 1
        if self.calls == self.stop_at:
            raise _Stop("here")
        return marker(value.name, f"{self.calls:012x}")


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


def _holds(value: Any, secrets: tuple[str, ...]) -> bool:
    if isinstance(value, SecretValue):
        return value.name in secrets
    return isinstance(value, list) and any(_holds(item, secrets) for item in value)
