"""The application: what each command does, as functions from arguments to an `Outcome`.

Where it sits: `cli` parses arguments and prints outcomes; `offline` holds the commands that read
only the fleet repository (validate, render, diff, plan --observed, schema, secret), `live` those
that talk to routers or keep state (observe, plan --live, apply, audit), `entitlements` the
commercial ones. The use cases they share live beside them: `verdicts` (may a revision be
applied), `planning` and `reconciling` (observe, plan, apply as a journaled run), `sessions` (how
to reach the routers); the daemon calls the same use cases. Commands return an `Outcome`
(`outcomes`) instead of printing, so tests and the daemon can use them without a terminal.
"""

from reconciler.app.offline import (
    diff,
    plan,
    render,
    schema,
    secret_keygen,
    secret_seal,
    validate,
)
from reconciler.app.outcomes import CHANGES, FAILED, OK, Outcome

__all__ = [
    "CHANGES",
    "FAILED",
    "OK",
    "Outcome",
    "diff",
    "plan",
    "render",
    "schema",
    "secret_keygen",
    "secret_seal",
    "validate",
]
