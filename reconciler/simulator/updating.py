"""What a router does with the entries of a performed update packet, and with `activate_profile`.

Where it sits: the API's `upload/perform` (`api.py`) hands each requested entry of an analyzed
packet (`packets.Entry`) to `perform_entry`, `operation` hands a profile name to `activate`. Each
entry is atomic: an ASCII Configuration is applied to a copy that replaces the running
configuration (or becomes a stored profile) only when every statement was accepted; a failure is
the entry's `error` text and leaves the router unchanged. Later entries still run. Whenever the
running configuration is replaced, the `Simulator` hears of it (`replaced`: the confirm timer).
"""

from __future__ import annotations

from reconciler.simulator.configuration import Configuration, ConfigurationError, apply_text
from reconciler.simulator.packets import Entry
from reconciler.simulator.routers import Router, Simulator

ACTIONS = ("apply", "store")
ASCII_CONFIGURATION = "ASCII Configuration"
RUNNING = "running"


def perform_entry(simulator: Simulator, router: Router, entry: Entry, action: str, profile: str) -> str | None:
    """Run one entry with `action` ("apply" or "store"); the error text, or None when done."""
    if entry.error is not None:
        return entry.error
    if action not in ACTIONS:
        return f"unknown action {action!r} (expected apply or store)"
    if entry.filetype == ASCII_CONFIGURATION:
        return _configure(simulator, router, entry, action, profile)
    files = router.files if router.files is not None else {}
    files.setdefault(entry.filetype, {})[entry.filename] = entry.md5
    router.files = files
    return None


def activate(simulator: Simulator, router: Router, profile: str) -> str | None:
    """Make a stored profile the running configuration (replacing it); the error text, or None."""
    stored = (router.profiles or {}).get(profile)
    if stored is None:
        return f"no stored profile named {profile!r}"
    _run(simulator, router, stored.copy())
    return None


def _run(simulator: Simulator, router: Router, configuration: Configuration) -> None:
    before, router.config = router.config, configuration
    simulator.replaced(router, before)


def _configure(simulator: Simulator, router: Router, entry: Entry, action: str, profile: str) -> str | None:
    try:
        text = entry.data.decode("utf-8")
    except UnicodeDecodeError:
        return f"{entry.filename} is not UTF-8 text"
    if action == "store" and (not profile or profile == RUNNING):
        return "'store' needs the name of a profile to store into"
    base = router.config if action == "apply" else Configuration()
    try:
        changed = apply_text(base, text, simulator.hasher(router), simulator.rejects(router), router.model)
    except ConfigurationError as error:
        return str(error)
    if action == "apply":
        _run(simulator, router, changed)
    else:
        router.profiles = {**(router.profiles or {}), profile: changed}
    return None
