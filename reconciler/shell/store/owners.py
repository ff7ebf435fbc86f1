"""Owners: which process a run in the journal belongs to, and whether that process still lives.

Where it sits: `database` stamps every run it starts with this process's `owner_token()`; when a
CLI command or the daemon opens the store, runs left open by a process that no longer lives
(`is_alive` is false) are closed as interrupted, while runs of a process still at work beside it
(the daemon, while `reconciler apply` starts) are left alone.

A token is `<boot id>:<pid>:<start time>`: a pid alone is reused after a restart, and the kernel's
boot id and the process's start time (in clock ticks since boot, from /proc) tell a reused pid
apart. Where /proc is missing, the token is `-:<pid>:-` and only the pid is checked. The SQLite
store belongs to one host (or container); replicas share a PostgreSQL store with leases instead.
"""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")


def owner_token() -> str:
    """This process, as the journal records it."""
    pid = os.getpid()
    return f"{_boot_id() or '-'}:{pid}:{_start_time(pid) or '-'}"


def is_alive(token: str | None) -> bool:
    """Whether the process a token names is still running (False for tokens that cannot be read)."""
    if not token:
        return False
    try:
        boot, pid_text, started = token.split(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if boot != "-" and boot != _boot_id():
        return False  # recorded before the last reboot
    if not _pid_exists(pid):
        return False
    return started == "-" or started == _start_time(pid)


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process of that pid: it exists
        return True
    return True


def _boot_id() -> str | None:
    try:
        return (_PROC / "sys/kernel/random/boot_id").read_text(encoding="ascii").strip() or None
    except OSError:
        return None


def _start_time(pid: int) -> str | None:
    try:
        stat = (_PROC / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its closing parenthesis
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None
