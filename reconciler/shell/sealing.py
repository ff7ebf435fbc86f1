"""Sealed secrets: encrypt a value to the fleet's public key so it can live in git; unseal at apply time.

Where it sits: `reconciler secret seal` writes sealed values into `secrets/*.yaml`; the core only
fingerprints them (`core.secrets.SecretValue`); the drivers unseal right before they talk to a
router. Construction (an anonymous "sealed box"): an ephemeral X25519 key agreement with the fleet's
key, HKDF-SHA256 to a ChaCha20-Poly1305 key, the secret's name as associated data so a sealed value
cannot be moved to another name. Format: `rsb1:` + base64(ephemeral public key ‖ nonce ‖ ciphertext).
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from reconciler.errors import SecretError

PREFIX = "rsb1:"
_INFO = b"reconciler sealed secret v1"


def generate_key() -> tuple[str, str]:
    """A new key pair as (private, public), each base64 of the raw 32 bytes."""
    private = X25519PrivateKey.generate()
    return _b64(private.private_bytes_raw()), _b64(private.public_key().public_bytes_raw())


def public_key_of(private_b64: str) -> str:
    return _b64(_private(private_b64).public_key().public_bytes_raw())


def seal(public_b64: str, name: str, plaintext: str) -> str:
    recipient = _public(public_b64)
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    key = _derive(ephemeral.exchange(recipient), ephemeral_public, recipient.public_bytes_raw())
    nonce = os.urandom(12)
    ciphertext = ChaCha20Poly1305(key).encrypt(nonce, plaintext.encode(), name.encode())
    return PREFIX + _b64(ephemeral_public + nonce + ciphertext)


def unseal(private_b64: str, name: str, sealed: str) -> str:
    if not sealed.startswith(PREFIX):
        raise SecretError(f"secret {name!r}: not a sealed value (expected the prefix {PREFIX})")
    try:
        blob = base64.b64decode(sealed.removeprefix(PREFIX), validate=True)
    except ValueError:
        raise SecretError(f"secret {name!r}: sealed value is not valid base64") from None
    if len(blob) < 32 + 12 + 16:
        raise SecretError(f"secret {name!r}: sealed value is truncated")
    private = _private(private_b64)
    ephemeral_public, nonce, ciphertext = blob[:32], blob[32:44], blob[44:]
    shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
    key = _derive(shared, ephemeral_public, private.public_key().public_bytes_raw())
    try:
        return ChaCha20Poly1305(key).decrypt(nonce, ciphertext, name.encode()).decode()
    except InvalidTag:
        raise SecretError(f"secret {name!r}: cannot unseal (another key, another name, or altered)") from None


def _derive(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=ephemeral_public + recipient_public, info=_INFO).derive(shared)


def _private(value: str) -> X25519PrivateKey:
    try:
        return X25519PrivateKey.from_private_bytes(base64.b64decode(value.strip(), validate=True))
    except ValueError:
        raise SecretError("the sealing key is not a base64 X25519 private key") from None


def _public(value: str) -> X25519PublicKey:
    try:
        return X25519PublicKey.from_public_bytes(base64.b64decode(value.strip(), validate=True))
    except ValueError:
        raise SecretError("the fleet's sealing key is not a base64 X25519 public key") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
