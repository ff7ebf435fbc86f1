"""The anchor: the audit chain's head, kept in a file apart from the database.

Where it sits: `database` advances the anchor after every audit row it commits and checks the
database against it when it opens; `audit --verify` reports what `check` finds, and
`audit --reset-anchor` (`database.Store.reset_anchor`) moves it on purpose after a restore.

The hash chain alone notices a row edited or deleted in the middle; it cannot notice a log cut
short at the end, a store replaced by a fresh one, or an old backup put back. The anchor can: it
names the store (a random id made with it), the newest row it has seen and that row's hash. A
database whose id differs, that ends before the anchored row, or whose anchored row has another
hash, is not the store the anchor saw.

Why it never flags a genuine store: the anchor is written after the database commits, so it
lags by at most the rows in flight (a kill -9 between the two leaves it one behind, which is
allowed: a database ahead of its anchor is fine); it only moves forward, under a lock, so two
writers (`token create` beside the daemon) cannot move it back; it is replaced atomically.
Where it does not help: someone who can write the data directory can delete or rewrite both
files. Keep the anchor elsewhere (`RECONCILER_AUDIT_ANCHOR`, e.g. on a volume the daemon may
only append to, or copied off-host by a backup job) when that matters.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from reconciler.errors import StoreError
from reconciler.shell.files import write_atomically

FILE_NAME = "audit-anchor.json"
ENVIRONMENT = "RECONCILER_AUDIT_ANCHOR"
_MAX_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Anchor:
    store: str  # the store's id (meta `store_id`)
    last_id: int  # the newest audit row the anchor has seen (0: none yet)
    last_hash: str
    at: str  # when it was written


def anchor_path(data_dir: Path) -> Path:
    """Where the anchor of the store in `data_dir` lives: `RECONCILER_AUDIT_ANCHOR`, or beside the store."""
    configured = os.environ.get(ENVIRONMENT)
    return Path(configured) if configured else data_dir / FILE_NAME


class AnchorFile:
    """One anchor file; every change happens under an exclusive lock on `<file>.lock`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> Anchor | None:
        """The anchor, or None if there is none (a damaged file is an error, never 'none')."""
        try:
            raw = self.path.read_bytes()[:_MAX_BYTES + 1]
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read the audit anchor {self.path}: {exc.strerror}") from exc
        try:
            data = json.loads(raw)
            return Anchor(str(data["store"]), int(data["last_id"]), str(data["last_hash"]), str(data["at"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"the audit anchor {self.path} is damaged ({exc}): see 'Restoring the store' "
                             "in docs/daemon.md") from None

    def advance(self, anchor: Anchor) -> None:
        """Move the anchor forward to `anchor` (never back, never onto another store's anchor)."""
        with self._locked():
            current = self.read()
            if current is not None and (current.store != anchor.store or current.last_id >= anchor.last_id):
                return
            self._write(anchor)

    def replace(self, anchor: Anchor) -> None:
        """Set the anchor whatever it was (the audited reset after a restore, and a store's first anchor)."""
        with self._locked():
            self._write(anchor)

    def _write(self, anchor: Anchor) -> None:
        write_atomically(self.path, json.dumps(asdict(anchor), indent=1).encode() + b"\n", 0o600)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        lock = self.path.with_name(self.path.name + ".lock")
        try:
            lock.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot lock the audit anchor {self.path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock


def mismatch(anchor: Anchor, store: str, newest: int, hash_of: dict[int, str]) -> str | None:
    """Why a database (its id, its newest row id, the hash of the anchored row) is not what the anchor saw."""
    if anchor.store != store:
        return (f"this store (id {store[:8]}) is not the one its anchor names ({anchor.store[:8]}): the database "
                "was replaced or wiped")
    if newest < anchor.last_id:
        return (f"the audit log ends at row {newest}, but its anchor has seen row {anchor.last_id}: rows were "
                "cut off the end, or an older copy of the store was put back")
    if anchor.last_id and hash_of.get(anchor.last_id) != anchor.last_hash:
        return (f"row {anchor.last_id} is not the row the anchor saw: the log was rewritten, or an older copy "
                "of the store was put back")
    return None
