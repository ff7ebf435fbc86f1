"""The audit chain: how a row of the audit log is hashed, and how a sequence of rows is checked.

Where it sits: `database` appends rows and reads them back; it hashes each new row with
`row_hash` over the row before it, and `verify_rows` walks the whole log for `audit --verify`.
`anchor` keeps the chain's head apart from the database, so a log cut short or replaced is
noticed too. Pure functions over rows: no SQL here.

Rows written since runs are linked (schema 3) carry the id of the run they report; that id is
part of their hash. Older rows, without it, keep the hash they were written with.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: str
    actor: str
    action: str
    devices: tuple[str, ...]
    revision: str | None
    outcome: str
    detail: str
    prev_hash: str
    hash: str
    run: int | None = None  # the run (journal) this row reports, if any

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at, "actor": self.actor, "action": self.action,
                "devices": list(self.devices), "revision": self.revision, "outcome": self.outcome,
                "detail": self.detail, "run": self.run, "hash": self.hash}


def row_hash(prev_hash: str, at: str, actor: str, action: str, devices: str, revision: str | None,
             outcome: str, detail: str, *, run: int | None) -> str:
    """The hash of one row; `devices` is the JSON list as stored."""
    fields: list[Any] = [prev_hash, at, actor, action, devices, revision, outcome, detail]
    if run is not None:
        fields.append(run)
    material = json.dumps(fields, ensure_ascii=False)
    return hashlib.sha256(material.encode()).hexdigest()


def verify_rows(rows: Iterable[AuditRow]) -> tuple[list[str], AuditRow | None]:
    """Every break in the chain (an edited row, a deleted one), and the newest row."""
    problems: list[str] = []
    expected_prev = GENESIS
    last: AuditRow | None = None
    for row in rows:
        if last is not None and row.id != last.id + 1:
            problems.append(f"rows {last.id + 1}–{row.id - 1} are missing (deleted?)")
        if row.prev_hash != expected_prev:
            problems.append(f"row {row.id}: does not follow the row before it (that row was changed or deleted)")
        devices = json.dumps(list(row.devices))
        if row_hash(row.prev_hash, row.at, row.actor, row.action, devices, row.revision, row.outcome, row.detail,
                    run=row.run) != row.hash:
            problems.append(f"row {row.id}: its content does not match its hash (edited)")
        expected_prev, last = row.hash, row
    return problems, last
