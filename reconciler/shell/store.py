"""The store: what reconciler remembers between runs, in one SQLite file in the data directory.

Where it sits: the one way in for state. `observing` reads each device's last applied packets
(routers cannot report them); `applying` journals every step of every run as it happens, so an
interrupted apply resumes where it stopped and a saved plan is never applied twice to a device;
every user action lands in the audit log (D0.19), whose rows each carry the hash of the row
before them, so `audit --verify` notices a row edited or deleted.

Tables: `devices` (last applied revision, desired and configuration hashes, packets, last seen,
last outcome), `runs` and `run_steps` (the journal), `audit` and `audit_head` (the chain and its
newest link). Each write is its own transaction: a crash loses at most the step in flight.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.errors import StoreError

FILE_NAME = "state.sqlite3"
SCHEMA_VERSION = 2  # 2: API tokens and drift history (tables added, nothing changed)
GENESIS = "0" * 64

_SCHEMA = """
create table if not exists meta (key text primary key, value text not null);
create table if not exists devices (
    name text primary key,
    serial text not null,
    revision text,
    content text,
    desired_hash text,
    config_hash text,
    firmware text,
    packets text not null default '{}',
    last_seen text,
    last_outcome text,
    last_detail text,
    updated_at text not null
);
create table if not exists runs (
    id integer primary key,
    kind text not null,
    actor text not null,
    started_at text not null,
    finished_at text,
    revision text,
    content text,
    plan_digest text,
    status text not null,
    counts text not null default '{}'
);
create table if not exists run_steps (
    run_id integer not null references runs(id),
    device text not null,
    step text not null,
    outcome text not null,
    detail text not null default '',
    at text not null,
    primary key (run_id, device, step)
);
create index if not exists run_steps_by_device on run_steps(device);
create table if not exists audit (
    id integer primary key,
    at text not null,
    actor text not null,
    action text not null,
    devices text not null,
    revision text,
    outcome text not null,
    detail text not null,
    prev_hash text not null,
    hash text not null
);
create table if not exists api_tokens (
    name text primary key,
    role text not null,
    hash text not null unique,
    created_at text not null,
    created_by text not null,
    revoked_at text
);
create table if not exists drift (
    id integer primary key,
    at text not null,
    device text not null,
    revision text,
    summary text not null,
    action text not null
);
create index if not exists drift_by_device on drift(device);
create table if not exists audit_head (
    id integer primary key check (id = 1),
    last_id integer not null,
    last_hash text not null
);
"""


@dataclass(frozen=True, slots=True)
class DeviceState:
    name: str
    serial: str
    revision: str | None
    desired_hash: str | None
    config_hash: str | None
    firmware: str | None
    packets: Mapping[str, str]
    last_seen: str | None
    last_outcome: str | None
    last_detail: str | None


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

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at, "actor": self.actor, "action": self.action,
                "devices": list(self.devices), "revision": self.revision, "outcome": self.outcome,
                "detail": self.detail, "hash": self.hash}


def _device_state(row: Sequence[Any]) -> DeviceState:
    return DeviceState(row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]), row[7], row[8], row[9])


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def _row_hash(prev_hash: str, at: str, actor: str, action: str, devices: str, revision: str | None,
              outcome: str, detail: str) -> str:
    material = json.dumps([prev_hash, at, actor, action, devices, revision, outcome, detail], ensure_ascii=False)
    return hashlib.sha256(material.encode()).hexdigest()


class Store:
    """The SQLite store of one data directory (created on first use)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("pragma journal_mode=wal")
            self._db.execute("pragma synchronous=normal")
            self._db.execute("pragma foreign_keys=on")
            self._db.executescript(_SCHEMA)
            self._check_version()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot use the store {self.path}: {exc}") from exc
        except OSError as exc:
            raise StoreError(f"cannot create the data directory {data_dir}: {exc.strerror}") from exc

    def close(self) -> None:
        self._db.close()

    def _check_version(self) -> None:
        row = self._db.execute("select value from meta where key = 'schema'").fetchone()
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer reconciler (schema {row[0]})")
        if row is None or int(row[0]) < SCHEMA_VERSION:  # older schemas only lack tables, made above
            self._db.execute("insert into meta values ('schema', ?)"
                             " on conflict(key) do update set value = excluded.value", (str(SCHEMA_VERSION),))

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("begin immediate")
            try:
                yield self._db
            except BaseException:
                self._db.execute("rollback")
                raise
            self._db.execute("commit")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the store {self.path}: {exc}") from exc

    def meta(self, key: str) -> str | None:
        row = self._db.execute("select value from meta where key = ?", (key,)).fetchone()
        return str(row[0]) if row is not None else None

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as db:
            db.execute("insert into meta values (?, ?) on conflict(key) do update set value = excluded.value",
                       (key, value))

    # --- devices ------------------------------------------------------------------------------------

    _DEVICE_COLUMNS = ("select name, serial, revision, desired_hash, config_hash, firmware, packets, last_seen,"
                       " last_outcome, last_detail from devices")

    def device_states(self) -> dict[str, DeviceState]:
        rows = self._db.execute(self._DEVICE_COLUMNS).fetchall()
        return {row[0]: _device_state(row) for row in rows}

    def device_state(self, name: str) -> DeviceState | None:
        row = self._db.execute(self._DEVICE_COLUMNS + " where name = ?", (name,)).fetchone()
        return _device_state(row) if row is not None else None

    def record_device(self, name: str, serial: str, outcome: str, detail: str = "", *,
                      applied: Mapping[str, Any] | None = None, seen: bool = False) -> None:
        """Remember a device's last outcome; with `applied`, also what is now on it (revision, hashes, packets)."""
        now = _now()
        with self._transaction() as db:
            db.execute(
                "insert into devices (name, serial, last_outcome, last_detail, updated_at) values (?, ?, ?, ?, ?)"
                " on conflict(name) do update set serial = excluded.serial, last_outcome = excluded.last_outcome,"
                " last_detail = excluded.last_detail, updated_at = excluded.updated_at",
                (name, serial, outcome, detail, now),
            )
            if seen:
                db.execute("update devices set last_seen = ? where name = ?", (now, name))
            if applied is not None:
                db.execute(
                    "update devices set revision = ?, content = ?, desired_hash = ?, config_hash = ?, firmware = ?,"
                    " packets = ? where name = ?",
                    (applied.get("revision"), applied.get("content"), applied.get("desired_hash"),
                     applied.get("config_hash"), applied.get("firmware"),
                     json.dumps(dict(applied.get("packets", {}))), name),
                )

    def record_matching(self, hashes: Mapping[str, tuple[str, str]], revision: str | None) -> None:
        """Devices found in sync: name → (serial, desired hash) they match; later differences are drift."""
        now = _now()
        with self._transaction() as db:
            db.executemany(
                "insert into devices (name, serial, revision, desired_hash, last_seen, updated_at)"
                " values (?, ?, ?, ?, ?, ?) on conflict(name) do update set revision = excluded.revision,"
                " desired_hash = excluded.desired_hash, last_seen = excluded.last_seen,"
                " updated_at = excluded.updated_at",
                [(name, serial, revision, digest, now, now) for name, (serial, digest) in hashes.items()])

    def record_packets(self, name: str, serial: str, packets: Mapping[str, str]) -> None:
        """The packets now installed on a device (after a packet step)."""
        with self._transaction() as db:
            db.execute(
                "insert into devices (name, serial, packets, updated_at) values (?, ?, ?, ?)"
                " on conflict(name) do update set packets = excluded.packets, updated_at = excluded.updated_at",
                (name, serial, json.dumps(dict(packets)), _now()),
            )

    # --- runs (the journal) ------------------------------------------------------------------------------

    def start_run(self, kind: str, actor: str, revision: str | None, content: str | None,
                  plan_digest: str | None = None) -> int:
        with self._transaction() as db:
            cursor = db.execute(
                "insert into runs (kind, actor, started_at, revision, content, plan_digest, status)"
                " values (?, ?, ?, ?, ?, ?, 'running')",
                (kind, actor, _now(), revision, content, plan_digest),
            )
            return int(cursor.lastrowid or 0)

    def close_dangling_runs(self) -> int:
        """Runs a killed process left open are marked interrupted (the devices' own states say what happened)."""
        with self._transaction() as db:
            cursor = db.execute("update runs set status = 'interrupted', finished_at = ? where finished_at is null",
                                (_now(),))
            return cursor.rowcount

    def record_step(self, run_id: int, device: str, step: str, outcome: str, detail: str = "") -> None:
        with self._transaction() as db:
            db.execute(
                "insert into run_steps (run_id, device, step, outcome, detail, at) values (?, ?, ?, ?, ?, ?)"
                " on conflict(run_id, device, step) do update set outcome = excluded.outcome,"
                " detail = excluded.detail, at = excluded.at",
                (run_id, device, step, outcome, detail, _now()),
            )

    def finish_run(self, run_id: int, status: str, counts: Mapping[str, int]) -> None:
        with self._transaction() as db:
            db.execute("update runs set finished_at = ?, status = ?, counts = ? where id = ?",
                       (_now(), status, json.dumps(dict(counts)), run_id))

    def finished_in_plan(self, plan_digest: str) -> set[str]:
        """Devices a saved plan was already applied to completely, in earlier runs of the same plan."""
        rows = self._db.execute(
            "select s.device from run_steps s join runs r on r.id = s.run_id"
            " where r.plan_digest = ? and s.step = 'device' and s.outcome = 'converged'",
            (plan_digest,),
        ).fetchall()
        return {row[0] for row in rows}

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "select id, kind, actor, started_at, finished_at, revision, status, counts from runs"
            " order by id desc limit ?", (limit,)
        ).fetchall()
        return [{"id": r[0], "kind": r[1], "actor": r[2], "started_at": r[3], "finished_at": r[4],
                 "revision": r[5], "status": r[6], "counts": json.loads(r[7])} for r in rows]

    def device_events(self, name: str, limit: int = 20) -> list[dict[str, Any]]:
        """The newest journal entries of one device (its steps in every run), newest first."""
        rows = self._db.execute(
            "select s.at, s.run_id, r.kind, s.step, s.outcome, s.detail from run_steps s join runs r on r.id = s.run_id"
            " where s.device = ? order by s.at desc limit ?", (name, limit)).fetchall()
        return [{"at": r[0], "run": r[1], "kind": r[2], "step": r[3], "outcome": r[4], "detail": r[5]} for r in rows]

    # --- drift history -------------------------------------------------------------------------------------

    def record_drift(self, devices: Mapping[str, str], revision: str | None, action: str) -> None:
        """Drift found on `devices` (name → summary) at `revision`, and what was done: corrected or reported."""
        now = _now()
        with self._transaction() as db:
            db.executemany("insert into drift (at, device, revision, summary, action) values (?, ?, ?, ?, ?)",
                           [(now, name, revision, summary, action) for name, summary in sorted(devices.items())])

    def drift_history(self, limit: int = 100, device: str | None = None) -> list[dict[str, Any]]:
        query = "select at, device, revision, summary, action from drift"
        args: tuple[Any, ...] = ()
        if device is not None:
            query, args = query + " where device = ?", (device,)
        rows = self._db.execute(query + " order by id desc limit ?", (*args, limit)).fetchall()
        return [{"at": r[0], "device": r[1], "revision": r[2], "summary": r[3], "action": r[4]} for r in rows]

    # --- API tokens (stored hashed) -------------------------------------------------------------------------

    def add_token(self, name: str, role: str, digest: str, created_by: str) -> bool:
        """A new token; False if a token of that name exists (revoked ones included: names are never reused)."""
        with self._transaction() as db:
            cursor = db.execute("insert into api_tokens (name, role, hash, created_at, created_by)"
                                " values (?, ?, ?, ?, ?) on conflict do nothing",
                                (name, role, digest, _now(), created_by))
            return cursor.rowcount == 1

    def token_by_hash(self, digest: str) -> tuple[str, str] | None:
        """(name, role) of the live token with this hash."""
        row = self._db.execute("select name, role from api_tokens where hash = ? and revoked_at is null",
                               (digest,)).fetchone()
        return (row[0], row[1]) if row is not None else None

    def tokens(self) -> list[dict[str, Any]]:
        rows = self._db.execute("select name, role, created_at, created_by, revoked_at from api_tokens"
                                " order by created_at").fetchall()
        return [{"name": r[0], "role": r[1], "created_at": r[2], "created_by": r[3], "revoked_at": r[4]}
                for r in rows]

    def revoke_token(self, name: str) -> bool:
        with self._transaction() as db:
            cursor = db.execute("update api_tokens set revoked_at = ? where name = ? and revoked_at is null",
                                (_now(), name))
            return cursor.rowcount == 1

    # --- the audit log (D0.19) ---------------------------------------------------------------------------

    def audit(self, actor: str, action: str, devices: Sequence[str], revision: str | None, outcome: str,
              detail: str = "") -> AuditRow:
        """Append one row to the audit log, chained to the one before it."""
        at = _now()
        names = json.dumps(sorted(devices))
        with self._transaction() as db:
            head = db.execute("select last_id, last_hash from audit_head where id = 1").fetchone()
            prev_hash = head[1] if head else GENESIS
            digest = _row_hash(prev_hash, at, actor, action, names, revision, outcome, detail)
            cursor = db.execute(
                "insert into audit (at, actor, action, devices, revision, outcome, detail, prev_hash, hash)"
                " values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (at, actor, action, names, revision, outcome, detail, prev_hash, digest),
            )
            row_id = int(cursor.lastrowid or 0)
            db.execute("insert into audit_head (id, last_id, last_hash) values (1, ?, ?)"
                       " on conflict(id) do update set last_id = excluded.last_id, last_hash = excluded.last_hash",
                       (row_id, digest))
        return AuditRow(row_id, at, actor, action, tuple(json.loads(names)), revision, outcome, detail, prev_hash,
                        digest)

    def audit_rows(self, limit: int | None = None, offset: int = 0) -> list[AuditRow]:
        query = ("select id, at, actor, action, devices, revision, outcome, detail, prev_hash, hash from audit"
                 " order by id")
        if limit is not None:
            query += f" limit {int(limit)} offset {int(offset)}"
        return [AuditRow(r[0], r[1], r[2], r[3], tuple(json.loads(r[4])), r[5], r[6], r[7], r[8], r[9])
                for r in self._db.execute(query).fetchall()]

    def audit_count(self) -> int:
        return int(self._db.execute("select count(*) from audit").fetchone()[0])

    def verify_audit(self) -> list[str]:
        """Every break in the chain: an edited row, a deleted row, a changed head. Empty if intact."""
        problems: list[str] = []
        expected_prev = GENESIS
        last: tuple[int, str] | None = None  # (id, hash) of the row before
        rows = self._db.execute(
            "select id, at, actor, action, devices, revision, outcome, detail, prev_hash, hash from audit order by id"
        )
        for row_id, at, actor, action, devices, revision, outcome, detail, prev_hash, digest in rows:
            if last is not None and row_id != last[0] + 1:
                problems.append(f"rows {last[0] + 1}–{row_id - 1} are missing (deleted?)")
            if prev_hash != expected_prev:
                problems.append(f"row {row_id}: does not follow the row before it (that row was changed or deleted)")
            if _row_hash(prev_hash, at, actor, action, devices, revision, outcome, detail) != digest:
                problems.append(f"row {row_id}: its content does not match its hash (edited)")
            expected_prev, last = digest, (row_id, digest)
        problems.extend(self._check_head(last))
        return problems

    def _check_head(self, last: tuple[int, str] | None) -> list[str]:
        head = self._db.execute("select last_id, last_hash from audit_head where id = 1").fetchone()
        if last is None:
            return [] if head is None else ["the log is empty but its head names a row (all rows deleted?)"]
        if head is None or head[0] != last[0] or head[1] != last[1]:
            return [f"the newest row is {last[0]}, but the head names row {head[0] if head else '-'} "
                    "(rows at the end deleted, or the head edited)"]
        return []
