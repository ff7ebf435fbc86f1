"""Limits: how much of anything a fleet repository may ask for, in one place.

Where it sits: every check that refuses hostile or accidental excess (a 50 MB file, an alias bomb,
a template that loops forever) reads its bound here, so the numbers are documented together
(docs/fleet-repository.md, "Limits") and a refusal always names the bound it hit.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.core.problems import Origin, Problem, error

MiB = 1024 * 1024

READ_BYTES = 32 * MiB  # the shell does not read a larger file into memory at all (only its blob id)
YAML_BYTES = 16 * MiB  # one YAML file; split a larger device list into several files
YAML_ITEMS = 1_500_000  # lines plus flow items of one YAML file (bounds the nodes libyaml would build)
YAML_DEPTH = 64  # nesting levels (libyaml's composer recurses in C)
YAML_EXPANDED_NODES = 2_000_000  # what aliases may expand a document to …
YAML_EXPANSION_RATIO = 50  # … and at most this many times the nodes written
TEMPLATE_BYTES = 1 * MiB  # one template file
PART_BYTES = 4 * MiB  # a configuration or certificate part of an update packet (firmware/containers: any)
PROBLEMS_PER_FILE = 500  # schema problems reported per file before "… and N more"


def size_message(size: int, limit: int, what: str) -> str:
    return f"{what} is {size:,} bytes; the limit is {limit:,} bytes"


def oversize_problem(path: str, data: bytes, unread: Mapping[str, int], limit: int) -> Problem | None:
    """`file-too-large` for the file at `path` if it exceeds `limit` (`unread`: files not read for their size)."""
    if path not in unread and len(data) <= limit:
        return None
    size = unread.get(path) or len(data)
    return error("file-too-large", size_message(size, limit, "the file"), Origin(path))
