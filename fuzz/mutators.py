"""A structure-aware mutator for the JSON targets (saved plans, snapshots, webhook bodies).

Where it sits: `runner` hands it to atheris for the targets that read JSON. Their parsing and
validation run in compiled code (orjson, pydantic-core) that atheris does not instrument, so
byte-level mutations get almost no coverage feedback and nearly all of them only produce invalid
JSON. This mutator parses the input and changes one node: another type or an edge value in its
place, a key removed, an element repeated, deeper nesting (now and then past Python's recursion
limit). One time in four, and whenever the input is not JSON, it leaves the bytes to libFuzzer's
own mutations. `seed` makes every choice repeatable.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

Mutate = Callable[[bytes, int], bytes]

EDGE_VALUES: tuple[Any, ...] = (
    None, True, False, 0, -1, 1.5, 2**63, -(2**63) - 1, 1e308, "", "x" * 300, "in-sync", "changes",
    "configuration", "firmware", "2026-11-21T09:30:00Z", "2026-13-45", "refs/heads/main", "refs/tags/v1",
    "reconciler/plan-v1", "reconciler/observed-v1", [], {}, [None], {"": None},
)


def json_mutator(byte_mutate: Mutate) -> Callable[[bytes, int, int], bytes]:
    """The mutator atheris calls as `(data, max_size, seed)`; `byte_mutate` is libFuzzer's own."""

    def mutate(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)  # noqa: S311 (repeatable choices, nothing secret)
        try:
            document = json.loads(data)
            if rng.random() < 0.25:
                return byte_mutate(data, max_size)
            out = json.dumps(_changed(document, rng)).encode()
        except (ValueError, RecursionError):  # not JSON, or nested deeper than json can write
            return byte_mutate(data, max_size)
        if rng.random() < 0.05:  # past Python's recursion limit: built as text, json.dumps cannot
            depth = rng.choice((1_001, 3_000))
            out = b"[" * depth + out + b"]" * depth
        return out if len(out) <= max_size else byte_mutate(data, max_size)

    return mutate


def _changed(document: Any, rng: random.Random) -> Any:
    """`document` with one node changed; the top itself may be replaced."""
    nodes: list[tuple[Any, Any, Any]] = [(None, None, document)]  # (parent, key in it, node)
    stack = [document]
    while stack and len(nodes) < 10_000:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            nodes.append((node, key, child))
            stack.append(child)
    parent, key, node = rng.choice(nodes)
    new = _replacement(node, rng)
    if parent is None:
        return None if new is _DELETE else new
    if new is _DELETE:
        del parent[key]
    else:
        parent[key] = new
    return document


_DELETE = object()


def _replacement(node: Any, rng: random.Random) -> Any:
    choice = rng.randrange(6)
    if choice == 0:
        return rng.choice(EDGE_VALUES)
    if choice == 1:
        return _DELETE if rng.random() < 0.5 else None
    if choice == 2 and isinstance(node, list) and node:
        return node + [rng.choice(node)] * rng.randint(1, 3)
    if choice == 3:
        return [node] if rng.random() < 0.5 else {"k": node}
    if choice == 4:
        for _ in range(rng.choice((2, 64))):
            node = [node]
        return node
    return rng.choice(EDGE_VALUES) if not isinstance(node, str) else node + rng.choice(("", "\u0000", "é", "\ud800"))
