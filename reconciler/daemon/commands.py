"""The daemon's commands as functions: `serve` (returns an exit code) and `token create|list|revoke`.

Where it sits: `cli` parses the arguments and calls these; they read the configuration
(`config`) and the store, and return an `Outcome` like every other command.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

from reconciler.app import OK, Outcome
from reconciler.errors import UsageError
from reconciler.shell import clock
from reconciler.shell.store import Store

from . import licensing, tokens
from .config import load_config
from .service import serve


def serve_command(config_file: Path | None, overrides: dict[str, Any]) -> Outcome:
    config = load_config(config_file, overrides)
    return Outcome("", serve(config))


def token_create(data_dir: Path, role: str, name: str | None) -> Outcome:
    store = Store(data_dir)
    store.require_anchor()
    revision = licensing.followed_revision(data_dir, store)
    refused = licensing.api_licence_problem(revision, clock.now())
    if refused is not None:
        raise UsageError(f"no token created: {refused}")
    made, secret = tokens.create(store, role, name, _user())
    store.audit(_user(), "token-create", [], None, f"{made} ({role})")
    return Outcome(secret + "\n", OK, [f"token {made!r} ({role}) created; it is shown only this once"])


def token_list(data_dir: Path) -> Outcome:
    rows = Store(data_dir).tokens()
    lines = [f"{row.name:<24} {row.role:<9} created {row.created_at} by {row.created_by}"
             + (f"  REVOKED {row.revoked_at}" if row.revoked_at else "") for row in rows]
    return Outcome("\n".join(lines) + "\n" if lines else "no tokens\n")


def token_revoke(data_dir: Path, name: str) -> Outcome:
    store = Store(data_dir)
    if not store.revoke_token(name):
        raise UsageError(f"no live token named {name!r} (reconciler token list)")
    store.audit(_user(), "token-revoke", [], None, name)
    return Outcome("", OK, [f"token {name!r} revoked"])


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
