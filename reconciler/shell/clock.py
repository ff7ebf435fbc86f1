"""The clock: the one place the application asks what time it is.

Where it sits: commands that judge something against a date (licences, costs, windows) call
`now()` and hand the result to the core, which never reads a clock itself. `RECONCILER_NOW`
(an ISO 8601 time, e.g. `2026-11-21T10:00:00+01:00`) pins it: for tests, and to ask "what would
validation say on that day" in CI.
"""

from __future__ import annotations

import datetime as dt
import os

from reconciler.errors import UsageError

ENVIRONMENT = "RECONCILER_NOW"


def now() -> dt.datetime:
    pinned = os.environ.get(ENVIRONMENT)
    if not pinned:
        return dt.datetime.now(dt.UTC)
    return parse_time(pinned, ENVIRONMENT)


def parse_time(text: str, what: str) -> dt.datetime:
    """An ISO date or time; a date means its midnight, a time without a zone means UTC."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{what}: expected an ISO date or time such as 2026-11-21 or 2026-11-21T10:00:00+01:00, "
                         f"not {text!r}") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
