"""Credentials on a virtual router: stored and reported only as `$6$salt$digest`, never in plain text.

Where it sits: `routers.py` hands `stored_value` to the configuration applier (every value set by
ASCII configuration or by hand passes through it) and asks `verify` when someone logs in. The text
looks like a sha512-crypt hash, as icom OS reports credentials; it is a single salted SHA-512, which
is all a simulator needs: the point is that no answer ever carries the plain text.

The salt is derived from the router, the key and the password, so setting the same password twice
stores the same text and a converged router reads back unchanged. A value that already looks like a
hash is stored as it is (a configuration read back from a router can be applied again).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

_CREDENTIAL_NAME = re.compile(r"(?:^|_)(?:password|passwd|psk|pre_shared_key|passphrase|secret|private_key|pin|puk)$")
_HASHED = re.compile(r"\$6\$[A-Za-z0-9./]{1,16}\$[A-Za-z0-9./]{20,}")


def is_credential(key: str) -> bool:
    """Whether a canonical key holds a credential (its last name is password, psk, private_key, pin, ...)."""
    last = key.rsplit(".", 1)[-1].split("[", 1)[0]
    return _CREDENTIAL_NAME.search(last) is not None


def stored_value(serial: str, key: str, value: str) -> str:
    """What the router keeps for `key=value`: the value itself, or the hash of a credential."""
    if not value or not is_credential(key) or _HASHED.fullmatch(value):
        return value
    salt = _encode(hashlib.sha256(f"{serial}\0{key}\0{value}".encode()).digest())[:16]
    return hash_with(salt, value)


def hash_with(salt: str, password: str) -> str:
    """The `$6$salt$digest` text of `password` with `salt`."""
    return f"$6${salt}${_encode(hashlib.sha512(f'{salt}{password}'.encode()).digest())}"


def verify(stored: str, password: str) -> bool:
    """Whether `password` matches the stored hash (a stored value that is no hash matches nothing)."""
    if not _HASHED.fullmatch(stored):
        return False
    salt = stored.split("$")[2]
    return hmac.compare_digest(hash_with(salt, password), stored)


def _encode(digest: bytes) -> str:
    return base64.b64encode(digest, altchars=b"./").decode().rstrip("=")
