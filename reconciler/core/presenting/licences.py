"""Presenting licence reports (`reconciler licences`): a text table, markdown, and JSON data.

Where it sits: `app.entitlements` hands a `licences.LicenceReport` here and prints the result.
Every output names a term's last valid day (D0.32: on the day after it the licence is invalid),
never the exclusive end the core computes with.
"""

from __future__ import annotations

from typing import Any

from reconciler.core.entitlements.licences import Licence, LicenceReport

_COLUMNS = ("key", "article", "role", "routers", "activated", "valid from", "last day", "state")


def licence_data(report: LicenceReport) -> dict[str, Any]:
    return {
        "at": report.at.isoformat(), "variant": report.variant, "managed": report.managed,
        "capacity": report.capacity, "registered": report.registered, "api_licence": report.api,
        "api_last_day": _day(report.api_last_day),
        "warnings": list(report.warnings),
        "licences": [_licence_data(lic) for lic in report.licences],
    }


def _licence_data(lic: Licence) -> dict[str, Any]:
    return {"file": lic.file, "key": lic.key, "article": lic.article, "name": lic.name, "role": lic.role,
            "quantity": lic.quantity, "routers": lic.routers, "purchased": lic.purchased.isoformat(),
            "activated": _day(lic.activated), "start": _day(lic.start), "last_day": _day(lic.last_day),
            "state": lic.state.value, "reason": lic.reason}


def _day(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _row(lic: Licence) -> tuple[str, ...]:
    return (lic.key, f"{lic.article} {lic.name}" + (f" ×{lic.quantity}" if lic.quantity > 1 else ""), lic.role,
            str(lic.routers or ""), _day(lic.activated) or "-", _day(lic.start) or "-",
            _day(lic.last_day) or ("-" if lic.start is None else "(no end)"), lic.state.value)


def _headline(report: LicenceReport) -> str:
    if not report.managed:
        return f"no licence files in this repository (licences/*.licence): nothing is enforced on {report.at}"
    api = f"valid until the end of {report.api_last_day}" if report.api and report.api_last_day else \
        "none valid (D0.23)"
    return (f"licences on {report.at} ({report.variant}): {report.capacity} router licences for "
            f"{report.registered} registered routers; API licence: {api}")


def licence_text(report: LicenceReport) -> str:
    rows = [_COLUMNS, *(_row(lic) for lic in report.licences)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    lines = [_headline(report), ""] if report.managed else [_headline(report)]
    if report.managed:
        lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                  for row in rows]
        lines += [f"  {lic.key}: {lic.reason}" for lic in report.licences if lic.reason]
    lines += [f"warning: {note}" for note in report.warnings]
    return "\n".join(lines) + "\n"


def licence_markdown(report: LicenceReport) -> str:
    lines = [f"**{_headline(report)}**", ""]
    if report.managed:
        lines += ["| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
        lines += ["| " + " | ".join(cell.replace("|", "\\\\|") for cell in _row(lic)) + " |"
                  for lic in report.licences]
    lines += [f"- ⚠ {note}" for note in report.warnings]
    return "\n".join(lines) + "\n"
