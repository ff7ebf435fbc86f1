"""The application: what each command does, as functions from arguments to an `Outcome`.

Where it sits: `cli` parses arguments and prints outcomes; `offline` holds the commands that read
only the fleet repository (validate, render, diff, plan --observed, schema, secret), `live` those
that talk to routers or keep state (observe, plan --live, apply, audit). They wire the shell
(repositories, drivers, the store, the clock) to the pure core and return text and an exit code
instead of printing, so tests and the daemon can use them without a terminal.
"""

from reconciler.app.offline import (
    CHANGES,
    FAILED,
    OK,
    Outcome,
    diff,
    plan,
    render,
    schema,
    secret_keygen,
    secret_seal,
    validate,
)

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
