"""Secret references, the markers that stand for them in rendered text, and redaction.

Where it sits: `documents` turns a YAML `!secret name` into a `SecretRef`; `fleets` resolves each
reference against `secrets/*.yaml` into a `SecretValue` (name + fingerprint of the sealed value,
never the plaintext, which the core never sees); `rendering` writes a `SecretValue` into a
configuration as a marker; every output path (`redact`) turns markers into `***`. Only the
apply step (a later layer) is to put the decrypted value in place of a marker, at the moment it
talks to a router.

The fingerprint is a hash of the sealed (encrypted) value, so it changes when the secret is
re-sealed with a new value; that is how a revision diff notices a changed secret without the core
ever knowing the secret itself.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

REDACTED = "***"

SECRET_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
_MARKER = re.compile(r"⟦secret:(" + SECRET_NAME_PATTERN + r")@([0-9a-f]{12})⟧")
_MARKER_START = "⟦secret:"

# Key names whose values are redacted even when they do not come from a `!secret` (defence in
# depth for values a router reports back: a SIM PIN, a pre-shared key, an SNMP community).
_SENSITIVE_KEY = re.compile(
    r"(password|passwd|secret|psk|pre_?shared|token|passphrase|credential|community|private|"
    r"(^|[._])pin($|[._])|_key$|(^|[._])key$)",
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
    return _MARKER_START in text and _MARKER.search(text) is not None


def substitute(text: str, plaintexts: Mapping[str, str]) -> str:
    """Markers replaced by plaintext values: only the shell calls this, right before a router gets the text."""
    if _MARKER_START not in text:
        return text
    return _MARKER.sub(lambda match: plaintexts[match.group(1)], text)


def secret_names(text: str) -> set[str]:
    """The names of the secrets a rendered text carries markers of."""
    return {match.group(1) for match in _MARKER.finditer(text)} if _MARKER_START in text else set()


def redact(text: str) -> str:
    """Replace every secret marker in `text` by `***`."""
    if _MARKER_START not in text:
        return text
    return _MARKER.sub(REDACTED, text)


def is_sensitive_key(key: str) -> bool:
    """Whether a configuration key names a credential (its values are always shown as `***`)."""
    return _SENSITIVE_KEY.search(key) is not None


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
