"""The SQLite store: what reconciler remembers between runs, in one file in the data directory.

Where it sits: the one way in for state (see the package's docstring for who reads and writes what).
`chain` hashes and checks the audit log's rows, `anchor` keeps its head apart from the database,
`owners` tells whether the process that started a run still lives.

Tables: `devices` (last applied revision, desired and configuration hashes, packets, last seen, last
outcome), `runs` and `run_steps` (the journal), `audit` and `audit_head` (the chain and its newest
link), `api_tokens`, `drift`; the rollout tables belong to `rollouts` (`Store.rollouts`). Each write
is its own transaction: a crash loses at most the step in flight.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reconciler.errors import StoreError
from reconciler.shell.clock import SYSTEM, Clock

from . import rollouts
from .anchor import Anchor, AnchorFile, anchor_path, mismatch
from .chain import GENESIS, AuditRow, row_hash, verify_rows
from .owners import is_alive, owner_token
from .records import ClosedRun, DeviceEvent, DeviceState, DriftRecord, RunRecord, TokenRecord

FILE_NAME = "state.sqlite3"
SCHEMA_VERSION = 4  # 2: API tokens, drift history; 3: runs name their process, audit rows their run; 4: rollouts

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
    packets text not null default 'null',  -- JSON; null: not known to this store
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
    owner text,
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
    hash text not null,
    run_id integer
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


def _device_state(row: Sequence[Any]) -> DeviceState:
    return DeviceState(row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]), row[7], row[8], row[9])


class Store:
    """The SQLite store of one data directory (created on first use)."""

    def __init__(self, data_dir: Path, clock: Clock = SYSTEM) -> None:
        self.path = data_dir / FILE_NAME
        self.clock = clock
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("pragma journal_mode=wal")
            self._db.execute("pragma synchronous=normal")
            self._db.execute("pragma foreign_keys=on")
            self._db.executescript(_SCHEMA + rollouts.SCHEMA)
            self._check_version()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot use the store {self.path}: {exc}") from exc
        except OSError as exc:
            raise StoreError(f"cannot create the data directory {data_dir}: {exc.strerror}") from exc
        self.anchor = AnchorFile(anchor_path(data_dir))
        self.id = self._identity()
        self.rollouts = rollouts.RolloutBook(self._db, self.transaction, self._now)

    def close(self) -> None:
        self._db.close()

    def _now(self) -> str:
        return self.clock.now().isoformat(timespec="milliseconds")

    def _check_version(self) -> None:
        row = self._db.execute("select value from meta where key = 'schema'").fetchone()
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer reconciler (schema {row[0]})")
        if row is None or int(row[0]) < SCHEMA_VERSION:
            with self.transaction() as db:
                self._migrate(db)
                db.execute("insert into meta values ('schema', ?)"
                           " on conflict(key) do update set value = excluded.value", (str(SCHEMA_VERSION),))

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        """Older schemas lack tables (made by _SCHEMA) and the columns of schema 3, added here."""
        for table, column in (("runs", "owner text"), ("audit", "run_id integer")):
            present = {row[1] for row in db.execute(f"pragma table_info({table})")}
            if column.split()[0] not in present:
                db.execute(f"alter table {table} add column {column}")
        # runs from here on have an audit row naming them; older ones were never linked
        first = db.execute("select coalesce(max(id), 0) + 1 from runs").fetchone()[0]
        db.execute("insert into meta values ('linked_from_run', ?) on conflict(key) do nothing", (str(first),))

    def _identity(self) -> str:
        """The store's id; a store seen for the first time gets its anchor (see `anchor`)."""
        with self.transaction() as db:
            db.execute("insert into meta values ('store_id', ?) on conflict(key) do nothing", (secrets.token_hex(16),))
        store_id = self.meta("store_id")
        assert store_id is not None
        if self.meta("anchored_from") is None and self.anchor.read() is None:
            head = self._head()
            self.anchor.replace(Anchor(store_id, head[0], head[1], self._now()))
            self.set_meta("anchored_from", str(head[0]))
        elif self.meta("anchored_from") is None:  # the anchor was written, the crash came before this
            self.set_meta("anchored_from", "0")
        return store_id

    def _head(self) -> tuple[int, str]:
        row = self._db.execute("select last_id, last_hash from audit_head where id = 1").fetchone()
        return (int(row[0]), str(row[1])) if row is not None else (0, GENESIS)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
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
        with self.transaction() as db:
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
        now = self._now()
        with self.transaction() as db:
            db.execute(
                "insert into devices (name, serial, packets, last_outcome, last_detail, updated_at)"
                " values (?, ?, 'null', ?, ?, ?)"
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
        now = self._now()
        with self.transaction() as db:
            db.executemany(
                "insert into devices (name, serial, revision, desired_hash, packets, last_seen, updated_at)"
                " values (?, ?, ?, ?, 'null', ?, ?) on conflict(name) do update set revision = excluded.revision,"
                " desired_hash = excluded.desired_hash, last_seen = excluded.last_seen,"
                " updated_at = excluded.updated_at",
                [(name, serial, revision, digest, now, now) for name, (serial, digest) in hashes.items()])

    def record_packets(self, name: str, serial: str, packets: Mapping[str, str]) -> None:
        """The packets now installed on a device (after a packet step)."""
        with self.transaction() as db:
            db.execute(
                "insert into devices (name, serial, packets, updated_at) values (?, ?, ?, ?)"
                " on conflict(name) do update set packets = excluded.packets, updated_at = excluded.updated_at",
                (name, serial, json.dumps(dict(packets)), self._now()),
            )

    # --- runs (the journal) ------------------------------------------------------------------------------

    def start_run(self, kind: str, actor: str, revision: str | None, content: str | None,
                  plan_digest: str | None = None) -> int:
        with self.transaction() as db:
            cursor = db.execute(
                "insert into runs (kind, actor, started_at, revision, content, plan_digest, status, owner)"
                " values (?, ?, ?, ?, ?, ?, 'running', ?)",
                (kind, actor, self._now(), revision, content, plan_digest, owner_token()),
            )
            return int(cursor.lastrowid or 0)

    def close_interrupted_runs(self) -> list[ClosedRun]:
        """Runs whose process died (kill -9, a crash) are closed as interrupted, each with its audit row.

        The row names every router the run changed or may have changed (a step had started), so the
        audit log misses nothing the journal holds. Runs of a process still at work are left alone.
        """
        open_runs = self._db.execute(
            "select id, kind, actor, revision, content, owner from runs where finished_at is null order by id"
        ).fetchall()
        closed = []
        for run_id, kind, actor, revision, content, owner in open_runs:
            if is_alive(owner):
                continue
            changed, tally = self._run_effects(run_id)
            self.finish_run(run_id, "interrupted", tally)
            self.audit(actor, kind, changed, revision or content, "interrupted",
                       f"run {run_id} stopped when its process ended; closed on the next start", run=run_id)
            closed.append(ClosedRun(run_id, kind, tuple(changed)))
        return closed

    def _run_effects(self, run_id: int) -> tuple[list[str], dict[str, int]]:
        """The routers a run changed or started to change, and its devices by last outcome."""
        rows = self._db.execute("select device, step, outcome from run_steps where run_id = ?", (run_id,)).fetchall()
        touched = {device for device, step, outcome in rows
                   if (step != "device" and outcome in ("started", "done"))
                   or (step == "device" and outcome in ("converged", "failed"))}
        outcomes = {device: outcome for device, step, outcome in rows if step == "device"}
        tally: dict[str, int] = {}
        for device in touched | set(outcomes):
            outcome = outcomes.get(device, "interrupted")
            tally[outcome] = tally.get(outcome, 0) + 1
        return sorted(touched), tally

    def record_step(self, run_id: int, device: str, step: str, outcome: str, detail: str = "") -> None:
        with self.transaction() as db:
            db.execute(
                "insert into run_steps (run_id, device, step, outcome, detail, at) values (?, ?, ?, ?, ?, ?)"
                " on conflict(run_id, device, step) do update set outcome = excluded.outcome,"
                " detail = excluded.detail, at = excluded.at",
                (run_id, device, step, outcome, detail, self._now()),
            )

    def finish_run(self, run_id: int, status: str, counts: Mapping[str, int]) -> None:
        with self.transaction() as db:
            db.execute("update runs set finished_at = ?, status = ?, counts = ? where id = ?",
                       (self._now(), status, json.dumps(dict(counts)), run_id))

    def finished_in_plan(self, plan_digest: str) -> set[str]:
        """Devices a saved plan was already applied to completely, in earlier runs of the same plan."""
        rows = self._db.execute(
            "select s.device from run_steps s join runs r on r.id = s.run_id"
            " where r.plan_digest = ? and s.step = 'device' and s.outcome = 'converged'",
            (plan_digest,),
        ).fetchall()
        return {row[0] for row in rows}

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The newest runs, newest first."""
        rows = self._db.execute(
            "select id, kind, actor, started_at, finished_at, revision, status, counts from runs"
            " order by id desc limit ?", (limit,)
        ).fetchall()
        return [RunRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7])) for r in rows]

    def device_events(self, name: str, limit: int = 20) -> list[DeviceEvent]:
        """The newest journal entries of one device (its steps in every run), newest first."""
        rows = self._db.execute(
            "select s.at, s.run_id, r.kind, s.step, s.outcome, s.detail from run_steps s join runs r on r.id = s.run_id"
            " where s.device = ? order by s.at desc limit ?", (name, limit)).fetchall()
        return [DeviceEvent(*row) for row in rows]

    # --- drift history -------------------------------------------------------------------------------------

    def record_drift(self, devices: Mapping[str, str], revision: str | None, action: str) -> None:
        """Drift found on `devices` (name → summary) at `revision`, and what was done: corrected or reported."""
        now = self._now()
        with self.transaction() as db:
            db.executemany("insert into drift (at, device, revision, summary, action) values (?, ?, ?, ?, ?)",
                           [(now, name, revision, summary, action) for name, summary in sorted(devices.items())])

    def drift_history(self, limit: int = 100, device: str | None = None) -> list[DriftRecord]:
        """Drift found, newest first (of one device, if given)."""
        query = "select at, device, revision, summary, action from drift"
        args: tuple[Any, ...] = ()
        if device is not None:
            query, args = query + " where device = ?", (device,)
        rows = self._db.execute(query + " order by id desc limit ?", (*args, limit)).fetchall()
        return [DriftRecord(*row) for row in rows]

    # --- API tokens (stored hashed) -------------------------------------------------------------------------

    def add_token(self, name: str, role: str, digest: str, created_by: str) -> bool:
        """A new token; False if a token of that name exists (revoked ones included: names are never reused)."""
        with self.transaction() as db:
            cursor = db.execute("insert into api_tokens (name, role, hash, created_at, created_by)"
                                " values (?, ?, ?, ?, ?) on conflict do nothing",
                                (name, role, digest, self._now(), created_by))
            return cursor.rowcount == 1

    def token_by_hash(self, digest: str) -> tuple[str, str] | None:
        """(name, role) of the live token with this hash."""
        row = self._db.execute("select name, role from api_tokens where hash = ? and revoked_at is null",
                               (digest,)).fetchone()
        return (row[0], row[1]) if row is not None else None

    def tokens(self) -> list[TokenRecord]:
        rows = self._db.execute("select name, role, created_at, created_by, revoked_at from api_tokens"
                                " order by created_at").fetchall()
        return [TokenRecord(*row) for row in rows]

    def revoke_token(self, name: str) -> bool:
        with self.transaction() as db:
            cursor = db.execute("update api_tokens set revoked_at = ? where name = ? and revoked_at is null",
                                (self._now(), name))
            return cursor.rowcount == 1

    # --- the audit log (D0.19) ---------------------------------------------------------------------------

    _AUDIT_COLUMNS = ("select id, at, actor, action, devices, revision, outcome, detail, prev_hash, hash, run_id"
                      " from audit")

    def audit(self, actor: str, action: str, devices: Sequence[str], revision: str | None, outcome: str,
              detail: str = "", run: int | None = None) -> AuditRow:
        """Append one row to the audit log, chained to the one before it; then advance the anchor."""
        at = self._now()
        names = json.dumps(sorted(devices))
        with self.transaction() as db:
            head = db.execute("select last_id, last_hash from audit_head where id = 1").fetchone()
            prev_hash = head[1] if head else GENESIS
            digest = row_hash(prev_hash, at, actor, action, names, revision, outcome, detail, run=run)
            cursor = db.execute(
                "insert into audit (at, actor, action, devices, revision, outcome, detail, prev_hash, hash, run_id)"
                " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (at, actor, action, names, revision, outcome, detail, prev_hash, digest, run),
            )
            row_id = int(cursor.lastrowid or 0)
            db.execute("insert into audit_head (id, last_id, last_hash) values (1, ?, ?)"
                       " on conflict(id) do update set last_id = excluded.last_id, last_hash = excluded.last_hash",
                       (row_id, digest))
        self.anchor.advance(Anchor(self.id, row_id, digest, at))  # after the commit: it may lag, never lead
        return AuditRow(row_id, at, actor, action, tuple(json.loads(names)), revision, outcome, detail, prev_hash,
                        digest, run)

    def audit_rows(self, limit: int | None = None, offset: int = 0) -> list[AuditRow]:
        query = self._AUDIT_COLUMNS + " order by id"
        if limit is not None:
            query += f" limit {int(limit)} offset {int(offset)}"
        return [_audit_row(row) for row in self._db.execute(query).fetchall()]

    def audit_count(self) -> int:
        return int(self._db.execute("select count(*) from audit").fetchone()[0])

    def verify_audit(self) -> list[str]:
        """Every break: an edited or deleted row, a changed head, a store its anchor does not know, a run
        that changed routers without an audit row. Empty if intact."""
        problems = self.chain_problems()
        anchor = self.anchor_problem()
        if anchor is not None:
            problems.append(anchor)
        problems.extend(self._unaudited_runs())
        return problems

    def chain_problems(self) -> list[str]:
        """Breaks in the hash chain itself: an edited or deleted row, a head that names another row."""
        problems, last = verify_rows(_audit_row(row) for row in self._db.execute(self._AUDIT_COLUMNS + " order by id"))
        return problems + self._check_head(last)

    def anchor_problem(self) -> str | None:
        """Why this store is not the one its anchor saw (wiped, replaced, cut short, rolled back), or None."""
        anchor = self.anchor.read()
        if anchor is None:
            return (f"the audit anchor {self.anchor.path} is missing: a store cut short or replaced cannot be told "
                    "from this one (if you restored a backup on purpose, run `reconciler audit --reset-anchor`)")
        newest = self._head()[0]
        row = self._db.execute("select hash from audit where id = ?", (anchor.last_id,)).fetchone()
        found = mismatch(anchor, self.id, newest, {anchor.last_id: row[0]} if row else {})
        return None if found is None else f"{found} (audit anchor {self.anchor.path})"

    def require_anchor(self) -> None:
        """Refuse to work on a store its anchor does not vouch for (the daemon and apply call this first)."""
        problem = self.anchor_problem()
        if problem is not None:
            raise StoreError(f"{self.path}: {problem}. Nothing was changed. If this store was restored from a "
                             "backup on purpose, run `reconciler audit --reset-anchor --reason TEXT` (see "
                             "'Restoring the store' in docs/daemon.md)")

    def reset_anchor(self, actor: str, reason: str) -> AuditRow:
        """After restoring a backup on purpose: record the old anchor in the log and anchor this store's head."""
        try:
            old = self.anchor.read()
        except StoreError as exc:
            old_text = str(exc)
        else:
            old_text = f"store {old.store[:8]} at row {old.last_id}" if old else "none"
        row = self.audit(actor, "anchor-reset", [], None, "done", f"{reason} (the anchor was: {old_text})")
        self.anchor.replace(Anchor(self.id, row.id, row.hash, row.at))
        return row

    def anchored_from(self) -> int:
        """The first row the anchor vouches for: rows written before a store had an anchor cannot be."""
        return int(self.meta("anchored_from") or 0)

    def _check_head(self, last: AuditRow | None) -> list[str]:
        head = self._db.execute("select last_id, last_hash from audit_head where id = 1").fetchone()
        if last is None:
            return [] if head is None else ["the log is empty but its head names a row (all rows deleted?)"]
        if head is None or head[0] != last.id or head[1] != last.hash:
            return [f"the newest row is {last.id}, but the head names row {head[0] if head else '-'} "
                    "(rows at the end deleted, or the head edited)"]
        return []

    def _unaudited_runs(self) -> list[str]:
        """Runs that hold journal entries but no audit row (linked runs only: older ones were never linked)."""
        rows = self._db.execute(
            "select r.id, r.kind, r.finished_at, r.owner, count(distinct s.device) from runs r"
            " join run_steps s on s.run_id = r.id where r.id >= ?"
            " and not exists (select 1 from audit a where a.run_id = r.id) group by r.id order by r.id",
            (int(self.meta("linked_from_run") or 1),)).fetchall()
        return [f"run {run_id} ({kind}) changed or touched {devices} routers but has no audit row"
                + ("" if finished else " (its process ended without closing it: the next apply or serve closes it)")
                for run_id, kind, finished, owner, devices in rows if finished or not is_alive(owner)]


def _audit_row(row: Sequence[Any]) -> AuditRow:
    return AuditRow(row[0], row[1], row[2], row[3], tuple(json.loads(row[4])), row[5], row[6], row[7], row[8], row[9],
                    row[10])
