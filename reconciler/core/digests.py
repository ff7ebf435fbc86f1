"""Digests: deterministic JSON and content hashes of the fleet's parts (a packet's, a device's inputs).

Where it sits: `rendering` hashes a device's inputs with it, `building` a packet's content,
`memos` an environment; a saved plan and the store record these digests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from reconciler.core.fleets import SourceFile
from reconciler.core.models import PacketSpec
from reconciler.core.paths import join, part_file
from reconciler.core.secrets import SecretRef, SecretValue


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON of plain data (sorted keys; dates ISO; secrets by name and fingerprint)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, SecretValue | SecretRef):
        return str(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str)
    raise TypeError(type(value).__name__)


def digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\x00")
    return h.hexdigest()




def packet_digest(spec: PacketSpec, directory: str, files: Mapping[str, SourceFile]) -> str:
    """A packet changes when its declaration or any part file changes."""
    blobs = []
    for part in spec.parts:
        file = part_file(part)
        source = files.get(join(directory, file)) if file else None
        blobs.append(source.blob if source else "-")
    return digest(canonical_json(spec.model_dump(mode="json")), *blobs)
