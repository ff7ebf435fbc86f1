"""The store: what reconciler remembers between runs (SQLite in the data directory).

Where it sits: the one way in for state. `observing` reads each device's last applied packets
(routers cannot report them); `applying` journals every step of every run as it happens, so an
interrupted apply resumes where it stopped and a saved plan is never applied twice to a device;
every user action lands in the audit log (D0.19), whose rows each carry the hash of the row before
them, and whose head is anchored in a file apart from the database (`anchor`), so `audit --verify`
notices a row edited or deleted and a log cut short, replaced or rolled back. A run a killed process
left open is closed, with its audit row, on the next start.

Modules: `database` (the SQLite store), `chain` (hashing and checking the audit rows), `anchor` (the
head kept apart), `owners` (is a run's process still alive), `records` (what it hands back),
`rollouts` (staged rollouts and good states).
"""

from .anchor import FILE_NAME as ANCHOR_FILE_NAME
from .chain import AuditRow
from .database import FILE_NAME, Store
from .records import ClosedRun, DeviceEvent, DeviceState, DriftRecord, RunRecord, TokenRecord
from .rollouts import DeviceUpdate, GoodState, RolloutDevice, RolloutDeviceState, RolloutRecord, RolloutState

__all__ = [
           "ANCHOR_FILE_NAME",
           "FILE_NAME",
           "AuditRow",
           "ClosedRun",
           "DeviceEvent",
           "DeviceState",
           "DeviceUpdate",
           "DriftRecord",
           "GoodState",
           "RolloutDevice",
           "RolloutDeviceState",
           "RolloutRecord",
           "RolloutState",
           "RunRecord",
           "Store",
           "TokenRecord",
]
