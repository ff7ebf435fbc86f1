"""The rollout book: staged rollouts, each device's place and state in them, and each router's last good state.

Where it sits: part of the store (`Store.rollouts`); the rollout engine (`shell.rolling`) writes
it as waves run, the reconcile use case (`app.rollouts`) starts, supersedes and resumes rollouts
from it, the CLI's `rollout` commands and the daemon's API read and steer it. Wave membership is
written once, when a rollout is created (a function of the revision, the policy and the devices
that change), so a restarted process continues at the same wave with the same devices and never
applies a device twice. A router's *good state* is what it last ran and passed its health checks
with: the rendered configuration (secret markers, never plaintext) and firmware a revert restores.

Tables: `rollouts`, `rollout_devices`, `good_states`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum

SCHEMA = """
create table if not exists rollouts (
    id integer primary key,
    revision text,
    content text,
    state text not null,
    wave integer not null default 0,
    waves integer not null,
    reason text not null default '',
    target text,
    created_at text not null,
    updated_at text not null,
    approved text not null default '[]',
    superseded_by integer
);
create table if not exists rollout_devices (
    rollout_id integer not null references rollouts(id),
    device text not null,
    wave integer not null,
    strategy text not null,
    state text not null,
    failure text,
    attempts integer not null default 0,
    detail text not null default '',
    updated_at text not null,
    primary key (rollout_id, device)
);
create index if not exists rollout_devices_by_device on rollout_devices(device);
create table if not exists good_states (
    name text primary key,
    serial text not null,
    revision text,
    content text,
    firmware text,
    config_text text,
    config_mode text not null,
    desired_hash text,
    at text not null
);
"""


class RolloutState(StrEnum):
    PENDING = "pending"  # created, not started
    AWAITING_APPROVAL = "awaiting-approval"  # an approval gate (before start, after the canary) holds it
    RUNNING = "running"
    WAITING_FOR_WINDOW = "waiting-for-window"  # the current wave's devices wait for their windows
    PAUSED = "paused"  # a failure threshold, or an operator, paused it
    SUCCEEDED = "succeeded"
    ABORTED = "aborted"  # a failure threshold, or an operator, aborted it: what was done stays
    FAILED = "failed"  # it ended with devices that failed
    SUPERSEDED = "superseded"  # a newer revision took over the devices that had not started

    @property
    def finished(self) -> bool:
        return self in _FINISHED


_FINISHED = frozenset({RolloutState.SUCCEEDED, RolloutState.ABORTED, RolloutState.FAILED, RolloutState.SUPERSEDED})


class RolloutDeviceState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # converged and healthy
    FAILED = "failed"
    REVERTED = "reverted"  # failed its health checks and was put back to its good state
    SUPERSEDED = "superseded"  # a newer revision's rollout took it over before it started
    SKIPPED = "skipped"  # nothing to do after all, or left out by an abort

    @property
    def finished(self) -> bool:
        return self is not RolloutDeviceState.PENDING and self is not RolloutDeviceState.RUNNING


@dataclass(frozen=True, slots=True)
class Approval:
    point: str  # "before-start" or "after-canary"
    by: str
    at: str


@dataclass(frozen=True, slots=True)
class RolloutRecord:
    id: int
    revision: str | None
    content: str | None
    state: RolloutState
    wave: int  # the global wave it is at (1-based; 0 before it starts)
    waves: int
    reason: str  # why it is in its state (paused by a threshold, waiting for a window, …)
    target: str | None  # the devices it was limited to (--device, --group, --selector), None for the fleet
    created_at: str
    updated_at: str
    approvals: tuple[Approval, ...]
    superseded_by: int | None

    def approved(self, point: str) -> bool:
        return any(approval.point == point for approval in self.approvals)


@dataclass(frozen=True, slots=True)
class RolloutDevice:
    rollout: int
    device: str
    wave: int
    strategy: str
    state: RolloutDeviceState
    failure: str | None  # a failure type (rejected, health, timeout, unreachable, busy) when it failed
    attempts: int
    detail: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class DeviceUpdate:
    """A device's new state in a rollout, as the engine batches them."""

    device: str
    state: RolloutDeviceState
    failure: str | None = None
    detail: str = ""
    attempts: int = 0  # attempts made since the last update


@dataclass(frozen=True, slots=True)
class GoodState:
    """What a router last ran and passed its health checks with: what a revert puts back."""

    name: str
    serial: str
    revision: str | None
    content: str | None
    firmware: str | None
    config_text: str | None  # rendered, with secret markers (unsealed only when applied)
    config_mode: str
    desired_hash: str | None
    at: str


Transaction = Callable[[], AbstractContextManager[sqlite3.Connection]]


class RolloutBook:
    """The rollout tables of one store (its connection, its transactions, its clock's timestamps)."""

    def __init__(self, db: sqlite3.Connection, transaction: Transaction, now: Callable[[], str]) -> None:
        self._db, self._transaction, self._now = db, transaction, now

    # --- rollouts --------------------------------------------------------------------------------------------

    def create(self, revision: str | None, content: str | None, members: Iterable[tuple[str, int, str]],
               target: str | None = None, state: RolloutState = RolloutState.PENDING) -> int:
        """A new rollout of `members` (device, wave, strategy); its waves are fixed from now on."""
        chosen = list(members)
        now = self._now()
        with self._transaction() as db:
            cursor = db.execute(
                "insert into rollouts (revision, content, state, waves, target, created_at, updated_at)"
                " values (?, ?, ?, ?, ?, ?, ?)",
                (revision, content, state.value, max((wave for _, wave, _ in chosen), default=0), target, now, now))
            rollout = int(cursor.lastrowid or 0)
            db.executemany(
                "insert into rollout_devices (rollout_id, device, wave, strategy, state, updated_at)"
                " values (?, ?, ?, ?, 'pending', ?)",
                [(rollout, device, wave, strategy, now) for device, wave, strategy in chosen])
        return rollout

    def get(self, rollout: int) -> RolloutRecord | None:
        row = self._db.execute(_ROLLOUT_COLUMNS + " where id = ?", (rollout,)).fetchone()
        return _rollout(row) if row is not None else None

    def active(self) -> RolloutRecord | None:
        """The newest rollout that has not finished, if any."""
        finished = tuple(state.value for state in _FINISHED)
        row = self._db.execute(_ROLLOUT_COLUMNS + f" where state not in ({', '.join('?' * len(finished))})"
                               " order by id desc limit 1", finished).fetchone()
        return _rollout(row) if row is not None else None

    def recent(self, limit: int = 20) -> list[RolloutRecord]:
        """The newest rollouts, newest first."""
        return [_rollout(row) for row in self._db.execute(_ROLLOUT_COLUMNS + " order by id desc limit ?", (limit,))]

    def set_state(self, rollout: int, state: RolloutState, wave: int | None = None, reason: str = "") -> None:
        with self._transaction() as db:
            db.execute("update rollouts set state = ?, wave = coalesce(?, wave), reason = ?, updated_at = ?"
                       " where id = ?", (state.value, wave, reason, self._now(), rollout))

    def abort(self, rollout: int, reason: str) -> None:
        """Stop for good: the devices not started are skipped, what was done stays done."""
        now = self._now()
        with self._transaction() as db:
            db.execute("update rollout_devices set state = 'skipped', detail = 'aborted', updated_at = ?"
                       " where rollout_id = ? and state = 'pending'", (now, rollout))
            db.execute("update rollouts set state = 'aborted', reason = ?, updated_at = ? where id = ?",
                       (reason, now, rollout))

    def approve(self, rollout: int, point: str, by: str) -> None:
        """Record an approval (before the start, after the canary wave)."""
        with self._transaction() as db:
            row = db.execute("select approved from rollouts where id = ?", (rollout,)).fetchone()
            approvals = json.loads(row[0]) if row is not None else []
            approvals.append({"point": point, "by": by, "at": self._now()})
            db.execute("update rollouts set approved = ?, updated_at = ? where id = ?",
                       (json.dumps(approvals), self._now(), rollout))

    def supersede(self, old: int, new: int) -> list[str]:
        """A newer rollout takes over: the old one's devices that have not started are superseded (returned)."""
        now = self._now()
        with self._transaction() as db:
            pending = [row[0] for row in db.execute(
                "select device from rollout_devices where rollout_id = ? and state = 'pending'", (old,))]
            db.execute("update rollout_devices set state = 'superseded', updated_at = ?"
                       " where rollout_id = ? and state = 'pending'", (now, old))
            db.execute("update rollouts set state = 'superseded', superseded_by = ?, reason = ?, updated_at = ?"
                       " where id = ?", (new, f"superseded by rollout {new}", now, old))
        return pending

    # --- devices in a rollout -----------------------------------------------------------------------------

    def devices(self, rollout: int, wave: int | None = None) -> list[RolloutDevice]:
        query = _DEVICE_COLUMNS + " where rollout_id = ?"
        args: tuple[int, ...] = (rollout,)
        if wave is not None:
            query, args = query + " and wave = ?", (rollout, wave)
        return [_device(row) for row in self._db.execute(query + " order by wave, device", args)]

    def set_device(self, rollout: int, device: str, state: RolloutDeviceState, failure: str | None = None,
                   detail: str = "", attempt: bool = False) -> None:
        with self._transaction() as db:
            db.execute("update rollout_devices set state = ?, failure = ?, detail = ?, updated_at = ?,"
                       " attempts = attempts + ? where rollout_id = ? and device = ?",
                       (state.value, failure, detail, self._now(), int(attempt), rollout, device))

    def set_devices(self, rollout: int, updates: Sequence[DeviceUpdate]) -> None:
        """Many devices' states in one transaction (the engine writes them in batches)."""
        now = self._now()
        with self._transaction() as db:
            db.executemany("update rollout_devices set state = ?, failure = ?, detail = ?, updated_at = ?,"
                           " attempts = attempts + ? where rollout_id = ? and device = ?",
                           [(u.state.value, u.failure, u.detail, now, u.attempts, rollout, u.device) for u in updates])

    def retry_failed(self, rollout: int, wave: int | None = None) -> list[str]:
        """Failed (and reverted) devices, of one wave or all, go back to pending; which ones."""
        args = (rollout, wave, wave)
        with self._transaction() as db:
            names = [row[0] for row in db.execute(
                "select device from rollout_devices where rollout_id = ? and state in ('failed', 'reverted')"
                " and (? is null or wave = ?)", args)]
            db.execute("update rollout_devices set state = 'pending', failure = null, updated_at = ?"
                       " where rollout_id = ? and state in ('failed', 'reverted') and (? is null or wave = ?)",
                       (self._now(), *args))
        return names

    def counts(self, rollout: int) -> dict[RolloutDeviceState, int]:
        rows = self._db.execute("select state, count(*) from rollout_devices where rollout_id = ? group by state",
                                (rollout,)).fetchall()
        return {RolloutDeviceState(state): int(count) for state, count in rows}

    def reached(self, device: str) -> str | None:
        """The revision the newest rollout that reached this device (started it) was of, if any."""
        row = self._db.execute(
            "select r.revision from rollout_devices d join rollouts r on r.id = d.rollout_id"
            " where d.device = ? and d.state not in ('pending', 'superseded') order by r.id desc limit 1",
            (device,)).fetchone()
        return str(row[0]) if row is not None and row[0] is not None else None

    # --- good states (what a revert restores) -------------------------------------------------------------

    def record_good(self, *states: GoodState) -> None:
        with self._transaction() as db:
            db.executemany(
                "insert into good_states (name, serial, revision, content, firmware, config_text, config_mode,"
                " desired_hash, at) values (?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict(name) do update set"
                " serial = excluded.serial, revision = excluded.revision, content = excluded.content,"
                " firmware = excluded.firmware, config_text = excluded.config_text,"
                " config_mode = excluded.config_mode, desired_hash = excluded.desired_hash, at = excluded.at",
                [(state.name, state.serial, state.revision, state.content, state.firmware, state.config_text,
                  state.config_mode, state.desired_hash, state.at) for state in states])

    def good_state(self, name: str) -> GoodState | None:
        row = self._db.execute("select name, serial, revision, content, firmware, config_text, config_mode,"
                               " desired_hash, at from good_states where name = ?", (name,)).fetchone()
        return GoodState(*row) if row is not None else None

    def good_states(self) -> Mapping[str, GoodState]:
        rows = self._db.execute("select name, serial, revision, content, firmware, config_text, config_mode,"
                                " desired_hash, at from good_states").fetchall()
        return {row[0]: GoodState(*row) for row in rows}


_ROLLOUT_COLUMNS = ("select id, revision, content, state, wave, waves, reason, target, created_at, updated_at,"
                    " approved, superseded_by from rollouts")
_DEVICE_COLUMNS = ("select rollout_id, device, wave, strategy, state, failure, attempts, detail, updated_at"
                   " from rollout_devices")


def _rollout(row: tuple[object, ...]) -> RolloutRecord:
    approvals = tuple(Approval(a["point"], a["by"], a["at"]) for a in json.loads(str(row[10])))
    return RolloutRecord(int(str(row[0])), _text(row[1]), _text(row[2]), RolloutState(str(row[3])), int(str(row[4])),
                         int(str(row[5])), str(row[6]), _text(row[7]), str(row[8]), str(row[9]), approvals,
                         int(str(row[11])) if row[11] is not None else None)


def _device(row: tuple[object, ...]) -> RolloutDevice:
    return RolloutDevice(int(str(row[0])), str(row[1]), int(str(row[2])), str(row[3]), RolloutDeviceState(str(row[4])),
                         _text(row[5]), int(str(row[6])), str(row[7]), str(row[8]))


def _text(value: object) -> str | None:
    return None if value is None else str(value)
