"""Presenting the PBX rental ledger (`reconciler costs`): text and JSON data.

Where it sits: `app.entitlements.costs` hands a `rentals.Ledger` (and an optional month) here.
Credits are shown to 4 decimal places; times in UTC.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any

from reconciler.core.entitlements.rentals import SECONDS_PER_MONTH, Ledger

Window = tuple[dt.datetime, dt.datetime]


def credits(value: Fraction) -> str:
    return f"{float(value):,.4f}"


def rental_data(ledger: Ledger, month: Window | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "at": ledger.at.isoformat(), "account": ledger.account, "topped_up": credits(ledger.topped_up),
        "consumed": credits(ledger.consumed), "balance": credits(ledger.balance),
        "monthly_consumption": credits(ledger.monthly), "seconds_per_month": SECONDS_PER_MONTH,
        "runs_out": ledger.runs_out.isoformat() if ledger.runs_out else None,
        "stopped_since": ledger.stopped_since.isoformat() if ledger.stopped_since else None,
        "pbx": [{"pbx": rent.pbx, "configured_at": rent.configured_at.isoformat(), "revision": rent.revision,
                 "monthly": credits(rent.monthly),
                 "articles": [{"article": line.article, "name": line.name, "quantity": line.quantity,
                               "credits_per_month": str(line.credits_per_month)} for line in rent.lines]}
                for rent in ledger.rents],
    }
    if month is not None:
        data["month"] = {"from": month[0].isoformat(), "until": month[1].isoformat(),
                         "consumed": credits(ledger.consumed_between(*month))}
    return data


def rental_text(ledger: Ledger, month: Window | None = None) -> str:
    lines = [f"account {ledger.account} on {ledger.at.isoformat(timespec='minutes')}: balance "
             f"{credits(ledger.balance)} iSC (topped up {credits(ledger.topped_up)}, consumed "
             f"{credits(ledger.consumed)})"]
    state = (f"stopped since {ledger.stopped_since.isoformat(timespec='minutes')}: no credit (D1.11)"
             if ledger.stopped_since else
             f"runs out {ledger.runs_out.isoformat(timespec='minutes')}" if ledger.runs_out else "nothing rented")
    lines.append(f"monthly consumption {credits(ledger.monthly)} iSC (a month = {SECONDS_PER_MONTH:,} s); {state}")
    for rent in ledger.rents:
        revision = f", commit {rent.revision[:10]}" if rent.revision else ""
        lines.append(f"  {rent.pbx}: {credits(rent.monthly)} iSC/month, configured "
                     f"{rent.configured_at.isoformat(timespec='seconds')}{revision}")
        lines += [f"    {line.quantity} × {line.article} {line.name} at {line.credits_per_month} iSC/month"
                  for line in rent.lines]
    if month is not None:
        lines.append(f"consumed {month[0]:%Y-%m}: {credits(ledger.consumed_between(*month))} iSC")
    return "\n".join(lines) + "\n"
