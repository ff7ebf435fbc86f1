"""Schedules: cron expressions of rollout windows, as a sequence of naive wall-clock times.

Where it sits: `models.rollouts` checks each window's `schedule` with `schedule_problem`;
`windows` walks a schedule with `next_start`/`previous_start` in local wall-clock time and maps the
times to instants itself, so the DST rule lives in one place (`windows.local_instant`). croniter
does the calendar work (ranges, steps, `2#1` for "first Tuesday", `L` for "last day"); it is
always given a start time, never the clock, and only naive datetimes, so it never consults a time zone.
"""

from __future__ import annotations

import datetime as dt

from croniter import CroniterBadDateError, CroniterError, croniter

MACROS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
MAX_LENGTH = 120
# A fixed reference to check that a schedule ever fires (croniter searches up to 50 years ahead).
_REFERENCE = dt.datetime(2000, 1, 1)  # wall-clock time, like every time here


def schedule_problem(expression: str) -> str | None:
    """Why `expression` is not a usable schedule (five cron fields or a macro), or None if it is."""
    if len(expression) > MAX_LENGTH:
        return f"at most {MAX_LENGTH} characters"
    fields = expression.split()
    if not (len(fields) == 5 or (len(fields) == 1 and fields[0].lower() in MACROS)):
        return "expected five cron fields (minute hour day-of-month month day-of-week) or a macro such as @daily"
    if not croniter.is_valid(expression):
        return "not a valid cron expression"
    if next_start(expression, _REFERENCE) is None:
        return "never fires (no date matches)"
    return None


def next_start(expression: str, after: dt.datetime) -> dt.datetime | None:
    """The first wall-clock time strictly after `after` (naive) that `expression` matches, if any."""
    return _step(expression, after, backwards=False)


def previous_start(expression: str, before: dt.datetime) -> dt.datetime | None:
    """The last wall-clock time strictly before `before` (naive) that `expression` matches, if any."""
    return _step(expression, before, backwards=True)


def _step(expression: str, start: dt.datetime, *, backwards: bool) -> dt.datetime | None:
    assert start.tzinfo is None, "schedules run on naive wall-clock times"
    try:
        schedule = croniter(expression, start, ret_type=dt.datetime)
        found = schedule.get_prev() if backwards else schedule.get_next()
    except (CroniterBadDateError, CroniterError, OverflowError, ValueError):
        return None  # no match within croniter's search horizon, or beyond the calendar
    assert isinstance(found, dt.datetime)
    return found
