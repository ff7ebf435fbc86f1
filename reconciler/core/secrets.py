"""Secret references, the markers that stand for them in rendered text, and redaction.

Where it sits: `documents` turns a YAML `!secret name` into a `SecretRef`; `precedence` resolves each
reference against `secrets/*.yaml` into a `SecretValue` (name + fingerprint of the sealed value,
never the plaintext: the core never unseals); `rendering` writes a `SecretValue` into a
configuration as a marker; every output path (`redact`) turns markers into `***`. Only the
apply step (the shell) puts the decrypted value in place of a marker, at the moment it talks to
a router; the plaintexts the shell hands back to the core are only to substitute and to compare
with (`Redactor`), never to show.

The fingerprint is a hash of the sealed (encrypted) value, so it changes when the secret is
re-sealed with a new value; that is how a revision diff notices a changed secret without the core
ever knowing the secret itself.

A marker may only end up in a key named like a credential (`is_credential_name`; `secretkeys`
refuses any other), because routers report every other key back in clear. As a second line of
defence, a `Redactor` (built by the shell from the secrets it unsealed) hides every router value
equal to one of them in snapshots, plans and logs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

REDACTED = "***"

SECRET_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
_MARKER = re.compile(r"⟦secret:(" + SECRET_NAME_PATTERN + r")@([0-9a-f]{12})⟧")
MARKER_START = "⟦secret:"  # every marker begins so: a substring test rules most text out

# Key names whose values are redacted even when they do not come from a `!secret` (defence in
# depth for values a router reports back: a SIM PIN, a pre-shared key, an SNMP community).
_SENSITIVE_KEY = re.compile(
    r"(password|passwd|secret|psk|pre_?shared|token|passphrase|credential|community|private|"
    r"(^|[._])(pin|puk)($|[._])|_key$|(^|[._])key$)",
    re.I,
)


@dataclass(frozen=True, slots=True)
class SecretRef:
    """A `!secret name` found in a YAML document: a reference, not yet resolved."""

    name: str

    def __str__(self) -> str:
        return f"!secret {self.name}"


@dataclass(frozen=True, slots=True)
class SecretValue:
    """A resolved secret as the core knows it: its name, the fingerprint and the text of its sealed
    (encrypted) value; never the plaintext, which only the shell can unseal, at apply time."""

    name: str
    fingerprint: str
    sealed: str = field(default="", repr=False, compare=False)

    def __str__(self) -> str:
        return marker(self.name, self.fingerprint)

    @classmethod
    def from_sealed(cls, name: str, sealed: str) -> SecretValue:
        """A purely computational constructor: fingerprints the sealed text of the secret."""
        return cls(name, hashlib.sha256(sealed.encode()).hexdigest()[:12], sealed)


def marker(name: str, fingerprint: str) -> str:
    """The text that stands for a secret in rendered configuration."""
    return f"⟦secret:{name}@{fingerprint}⟧"


def contains_secret(text: str) -> bool:
    """Whether a rendered value carries a secret marker (cheap check first)."""
    return MARKER_START in text and _MARKER.search(text) is not None


def substitute(text: str, plaintexts: Mapping[str, str]) -> str:
    """Markers replaced by plaintext values: only the shell calls this, right before a router gets the text."""
    if MARKER_START not in text:
        return text
    return _MARKER.sub(lambda match: plaintexts[match.group(1)], text)


def secret_names(text: str) -> set[str]:
    """The names of the secrets a rendered text carries markers of."""
    return {match.group(1) for match in _MARKER.finditer(text)} if MARKER_START in text else set()


def secret_markers(text: str) -> list[tuple[str, str]]:
    """(name, fingerprint) of every secret marker in a rendered text, in order."""
    return [(m.group(1), m.group(2)) for m in _MARKER.finditer(text)] if MARKER_START in text else []


def redact(text: str) -> str:
    """Replace every secret marker in `text` by `***`."""
    if MARKER_START not in text:
        return text
    return _MARKER.sub(REDACTED, text)


def is_sensitive_key(key: str) -> bool:
    """Whether a configuration key names a credential (its values are always shown as `***`)."""
    return _SENSITIVE_KEY.search(key) is not None


def is_credential_name(name: str) -> bool:
    """Whether the last name of a key (`password`, `ppp_password`, `psk`, `sim_pin`, `private_key`, …) names
    a credential: the keys a sealed value may be rendered into (fleet.yaml `management.secret_keys` adds more)."""
    return _SENSITIVE_KEY.search(name) is not None


def redact_change(key: str, old: str | None, new: str | None) -> tuple[str | None, str | None]:
    """Both sides of a key change as they may appear in output.

    A value is shown as `***` when the key names a credential, or when either side carries a
    secret: the router's side of a key the repository seals is the same secret, as the router has it.
    """
    hidden = is_sensitive_key(key) or contains_secret(old or "") or contains_secret(new or "")
    return _shown(old, hidden), _shown(new, hidden)


def _shown(value: str | None, hidden: bool) -> str | None:
    if value is None:
        return None
    if hidden and value not in ("", "---"):
        return REDACTED
    return redact(value)


def redact_data(value: Any) -> Any:
    """Redact secrets anywhere inside plain data (dicts, lists, strings, secret objects)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, SecretRef | SecretValue):
        return REDACTED
    if isinstance(value, dict):
        return {k: redact_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(v) for v in value]
    return value


# In free text (a plan's notes, a log line) only secrets this long are replaced: a shorter one (a SIM
# PIN of four digits) would mask ordinary numbers. Whole values are hidden whatever their length.
MIN_IN_TEXT = 6


class Redactor:
    """Values no output may show: the plaintexts of secrets, once the shell has unsealed them.

    The shell builds it (`shell.targets.redactor`) and hands it to the outputs that carry what
    routers report: a router value equal to a secret is shown as `***`, whatever the key (a secret
    that reached an ordinary key, before `secretkeys` refused that, or by hand on the router).
    """

    __slots__ = ("_lengths", "_values")

    def __init__(self, plaintexts: Iterable[str] = ()) -> None:
        self._values = frozenset(value for value in plaintexts if value)
        # Free text is searched by sliding a window of each length over it (set lookups): a regular
        # expression of thousands of alternatives (one password per router) costs milliseconds per line.
        self._lengths = sorted({len(v) for v in self._values if len(v) >= MIN_IN_TEXT}, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._values)

    def __repr__(self) -> str:
        return f"Redactor({len(self._values)} values)"  # never the values

    @property
    def plaintexts(self) -> frozenset[str]:
        """The values themselves (for a logger's own last line of defence)."""
        return self._values

    def any_hidden(self, values: Iterable[str]) -> bool:
        """Whether one of `values` is a secret (a C-speed check before any copying)."""
        return not self._values.isdisjoint(values)

    def value(self, value: str | None) -> str | None:
        """`***` for a value equal to a secret; any other value as it is."""
        return REDACTED if value is not None and value in self._values else value

    def text(self, text: str) -> str:
        """Free text with every secret of `MIN_IN_TEXT` characters or more in it replaced by `***`."""
        if text in self._values:
            return REDACTED
        if not self._lengths or len(text) < self._lengths[-1]:
            return text
        parts: list[str] = []
        start = position = 0
        while position < len(text):
            found = next((n for n in self._lengths if position + n <= len(text)
                          and text[position:position + n] in self._values), 0)
            if found:
                parts += [text[start:position], REDACTED]
                position = start = position + found
            else:
                position += 1
        return "".join(parts) + text[start:] if parts else text


NO_SECRETS = Redactor()
