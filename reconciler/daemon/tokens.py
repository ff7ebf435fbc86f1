"""API tokens: bearer secrets with a role, stored hashed, shown once, revocable.

Where it sits: `reconciler token create|list|revoke` (through `cli`) and the API's admin
endpoints manage them in the store; `api` calls `authenticate` on every request under
`/api/v1` and `allows` to check the role. A token is 32 random bytes; only its SHA-256 is kept
(a high-entropy secret needs no slow hash), so a stolen store does not give working tokens.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

from reconciler.errors import UsageError
from reconciler.shell.store import Store

PREFIX = "rcl_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class Role(StrEnum):
    VIEWER = "viewer"  # reads everything the API shows
    OPERATOR = "operator"  # and may trigger a sync
    ADMIN = "admin"  # and manages tokens

    @property
    def rank(self) -> int:
        return list(Role).index(self)


@dataclass(frozen=True)
class Principal:
    """Who made a request: the token's name (what the audit log records) and role."""

    name: str
    role: Role

    def allows(self, needed: Role) -> bool:
        return self.role.rank >= needed.rank


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(store: Store, role: str, name: str | None, created_by: str) -> tuple[str, str]:
    """A new token for `role`: (its name, the secret, to be shown once). Raises UsageError."""
    try:
        chosen = Role(role)
    except ValueError:
        raise UsageError(f"unknown role {role!r}: viewer, operator or admin") from None
    name = name or f"{chosen.value}-{secrets.token_hex(3)}"
    if not _NAME.match(name):
        raise UsageError(f"token name {name!r}: letters, digits and . _ @ - only, at most 64")
    token = PREFIX + secrets.token_urlsafe(32)
    if not store.add_token(name, chosen.value, digest(token), created_by):
        raise UsageError(f"a token named {name!r} exists already (names are never reused, even after revoking)")
    return name, token


def authenticate(store: Store, header: str | None) -> Principal | None:
    """The principal of an `Authorization: Bearer <token>` header (the scheme in any case, RFC 7235),
    or None for a missing or unknown token."""
    scheme, _, credentials = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    found = store.token_by_hash(digest(credentials.strip()))
    return Principal(found[0], Role(found[1])) if found else None
