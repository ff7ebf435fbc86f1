"""The errors `reconciler` raises, one tree, each with the exit code the CLI maps it to.

    ReconcilerError                 anything the user should see as a message, not a traceback
    ├── UsageError                  bad arguments or options                          (exit 2)
    ├── ConfigError                 the daemon's configuration file is wrong          (exit 2)
    ├── SourceError                 the fleet repository cannot be read               (exit 1)
    │   ├── NotAFleetRepository     no fleet.yaml at the path / revision              (exit 2)
    │   ├── RevisionNotFound        a --rev/--base/--head git does not know           (exit 1)
    │   └── GitUnavailable          git cannot run: not installed, no descriptors left (exit 1)
    ├── UnknownDevice               `render` of a device the fleet does not have      (exit 1)
    ├── SnapshotError               an observed-state snapshot cannot be used         (exit 1)
    ├── SecretError                 a secret cannot be sealed or unsealed             (exit 1)
    ├── OutputError                 a result cannot be written (plan --out, schema)   (exit 1)
    ├── StoreError                  the data directory's store cannot be used          (exit 1)
    ├── SavedPlanError              a saved plan does not fit (format, fleet, revision) (exit 1)
    ├── Interrupted                 Ctrl-C or SIGTERM stopped an apply (recorded)      (exit 130)
    └── DriverError                 one router could not be talked to; never escapes: it becomes
        │                           that device's outcome, the other routers carry on
        ├── TemporaryError          worth retrying later: busy (503), timeouts, refused or reset
        │   │                       connections, a router rebooting
        │   └── BusyError           it answered 503: reachable, busy (not offline)
        └── PermanentError          retrying will not help: wrong credentials, a rejected key,
                                    an answer that does not fit the API

Anything else that escapes is a bug: the CLI prints one line (a traceback with `--debug`) and
exits 1, never 2, which `--detailed-exitcode` reserves for "changes".

Per-device outcomes (a device that fails to render, a router that is offline) are values, not
exceptions: they live in results and plans. Lower-level exceptions (git, OS, JSON) are translated
where they enter, `raise SourceError(...) from exc`, so a message always says what and where.
"""

from __future__ import annotations


class ReconcilerError(Exception):
    exit_code = 1


class UsageError(ReconcilerError):
    exit_code = 2


class ConfigError(ReconcilerError):
    exit_code = 2


class SourceError(ReconcilerError):
    pass


class NotAFleetRepository(SourceError):
    exit_code = 2


class RevisionNotFound(SourceError):
    pass


class GitUnavailable(SourceError):
    """Nothing is wrong with the repository: git itself could not run; trying again later may work."""


class UnknownDevice(ReconcilerError):
    pass


class SnapshotError(ReconcilerError):
    pass


class SecretError(ReconcilerError):
    pass


class OutputError(ReconcilerError):
    pass


class StoreError(ReconcilerError):
    pass


class SavedPlanError(ReconcilerError):
    pass


class Interrupted(ReconcilerError):
    exit_code = 130


class DriverError(ReconcilerError):
    """Talking to one router failed; `device` names it, the message never carries a credential."""

    def __init__(self, message: str, device: str | None = None) -> None:
        super().__init__(message)
        self.device = device


class TemporaryError(DriverError):
    """Retrying may help (after `delay` seconds, if the router said how long)."""

    def __init__(self, message: str, device: str | None = None, delay: float | None = None) -> None:
        super().__init__(message, device)
        self.delay = delay


class BusyError(TemporaryError):
    """The router answered, but is busy (503): reachable, just not now."""


class PermanentError(DriverError):
    pass
