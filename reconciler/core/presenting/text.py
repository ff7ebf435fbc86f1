"""Plain-text output for terminals and logs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from reconciler.core.config_diffs import KeyChange
from reconciler.core.plans import DevicePlan, Plan, Status
from reconciler.core.problems import Problem
from reconciler.core.rendering import DesiredState
from reconciler.core.revision_diffs import ChangeKind, DeviceChange, RevisionDiff
from reconciler.core.secrets import redact, redact_change

_MARK = {ChangeKind.ADDED: "+", ChangeKind.REMOVED: "-", ChangeKind.CHANGED: "~"}


def problems_text(problems: Sequence[Problem]) -> list[str]:
    return [str(p) for p in problems]


def problems_summary(problems: Sequence[Problem], label: str, devices: int | None) -> str:
    errors = sum(1 for p in problems if p.is_error)
    warnings = len(problems) - errors
    counts = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    size = f", {devices:,} devices" if devices is not None else ""
    verdict = "invalid" if errors else "valid"
    return f"{verdict} ({label}{size}): {counts}"


def desired_text(state: DesiredState, label: str, groups: Iterable[str]) -> str:
    lines = [
        f"# device {state.device} (serial {state.serial}, {state.model}) at {label}",
        f"# template {state.template or '-'}, mode {state.config_mode.value}, groups: {', '.join(groups) or '-'}",
        f"# firmware: {state.firmware or '(not managed)'}",
        "# packets: " + (", ".join(f"{name} ({digest[:12]})" for name, digest in state.packets) or "-"),
    ]
    if state.config_text is None:
        lines.append("# configuration: (not managed: no template)")
        return "\n".join(lines) + "\n"
    lines.append("# configuration:")
    return "\n".join(lines) + "\n" + redact(state.config_text).rstrip("\n") + "\n"


def key_change_lines(changes: Sequence[KeyChange], indent: str = "    ", limit: int | None = None) -> list[str]:
    shown = changes if limit is None else changes[:limit]
    lines = [indent + key_change_line(c) for c in shown]
    if limit is not None and len(changes) > limit:
        lines.append(f"{indent}… {len(changes) - limit} more keys")
    return lines


def key_change_line(change: KeyChange) -> str:
    old, new = redact_change(change.key, change.old, change.new)
    if change.old is None:
        return f"+ {change.key}={_one_line(new)}"
    if change.new is None:
        return f"- {change.key} (was {_one_line(old)})"
    return f"~ {change.key}: {_one_line(old)} -> {_one_line(new)}"


def _one_line(value: str | None) -> str:
    if value is None:
        return ""
    if "\n" in value:
        first = value.split("\n", 1)[0]
        return f"{first} … ({value.count(chr(10)) + 1} lines)"
    return value


def change_headline(change: DeviceChange) -> str:
    template = f", template {change.template}" if change.template else ""
    return f"{_MARK[change.kind]} {change.device} ({change.model}{template})"


def change_details(change: DeviceChange) -> list[str]:
    lines = [f"{name}: {old} -> {new}" for name, old, new in change.attributes]
    if change.template_change:
        lines.append("template {} -> {}".format(*(v or "-" for v in change.template_change)))
    if change.firmware_change:
        lines.append("firmware {} -> {}".format(*(v or "-" for v in change.firmware_change)))
    if change.mode_change:
        lines.append("config mode {} -> {}".format(*change.mode_change))
    lines.extend(f"packet {p}: added" for p in change.packets_added)
    lines.extend(f"packet {p}: removed" for p in change.packets_removed)
    lines.extend(f"packet {p}: content changed" for p in change.packets_updated)
    lines.extend(f"now owns the list {path}: router items beyond the rendered ones are removed"
                 for path in change.lists_claimed)
    lines.extend(f"no longer owns the list {path}: router items are left alone" for path in change.lists_released)
    lines.extend(f"error {e}" for e in change.errors)
    return lines


def summary_rows(diff: RevisionDiff, by: str) -> list[tuple[str, int, int, int]]:
    return [(key, row["added"], row["removed"], row["changed"]) for key, row in diff.summary(by).items()]


def diff_headline(diff: RevisionDiff) -> str:
    counts = {kind: sum(1 for c in diff.changes if c.kind is kind) for kind in ChangeKind}
    return (f"{len(diff.changes)} device{'s' * (len(diff.changes) != 1)} change "
            f"({counts[ChangeKind.ADDED]} added, {counts[ChangeKind.REMOVED]} removed, "
            f"{counts[ChangeKind.CHANGED]} changed), {diff.unchanged} unchanged")


def diff_text(diff: RevisionDiff, key_limit: int | None = None) -> str:
    lines = [f"diff {diff.base} -> {diff.head}: {diff_headline(diff)}"]
    if not diff.changes:
        return lines[0] + "\n"
    for by in ("group", "model", "template"):
        lines.append("")
        lines.extend(_table(by, summary_rows(diff, by)))
    for change in diff.changes:
        lines.append("")
        lines.append(change_headline(change))
        lines.extend("    " + line for line in change_details(change))
        lines.extend(key_change_lines(change.config, limit=key_limit))
    return "\n".join(lines) + "\n"


def _table(by: str, rows: list[tuple[str, int, int, int]]) -> list[str]:
    width = max([len(by), *(len(r[0]) for r in rows)])
    head = f"{'by ' + by:<{width + 3}}  added  removed  changed"
    return [head] + [f"{name:<{width + 3}}  {a:>5}  {r:>7}  {c:>7}" for name, a, r, c in rows]


def plan_headline(plan: Plan) -> str:
    counts = plan.counts
    parts = [f"{counts[status]} {status.value}" for status in Status if counts.get(status)]
    unknown = len(plan.unknown)
    tail = f"; {unknown} with packets unknown to this store" if unknown else ""
    return (f"{len(plan.pending)} device{'s' * (len(plan.pending) != 1)} to change "
            f"({', '.join(parts) or 'empty'}){tail}")


def unknown_lines(plan: Plan) -> list[str]:
    """What a plan could not know, apart from its changes: counted by item, with how to know it."""
    found: dict[str, int] = {}
    for device in plan.unknown:
        for item in device.unknown:
            found[item] = found.get(item, 0) + 1
    if not found:
        return []
    items = [f"  {item} on {count} device{'s' * (count != 1)}" for item, count in sorted(found.items())]
    return [f"not known, so not counted as changes ({len(plan.unknown)} devices): routers cannot report their "
            "packets and this store has no record of them; plan with the store of whoever applies to these "
            "routers (the daemon's data directory) to know", *items]


def plan_text(plan: Plan, key_limit: int | None = None, show_in_sync: bool = False) -> str:
    observed = plan.observed_at.isoformat() if plan.observed_at else "-"
    lines = [f"plan for fleet {plan.fleet} at {plan.revision or 'working tree'} against the state observed at "
             f"{observed}: {plan_headline(plan)}"]
    for device in plan.devices:
        if device.status is Status.IN_SYNC and not show_in_sync:
            continue
        lines.append("")
        lines.extend(device_plan_lines(device, key_limit))
    unknown = unknown_lines(plan)
    if unknown:
        lines.extend(["", *unknown])
    return "\n".join(lines) + "\n"


def device_plan_lines(device: DevicePlan, key_limit: int | None = None) -> list[str]:
    lines = [f"{'~' if device.actions else ' '} {device.device} [{device.status.value}] ({device.model or '?'}, "
             f"serial {device.serial})"]
    lines.extend(f"    note: {note}" for note in device.notes)
    lines.extend(f"    {item}" for item in device.unknown)
    for number, action in enumerate(device.actions, 1):
        lines.append(f"    {number}. {action.summary}  ({action.reason})")
        lines.extend(key_change_lines(action.changes, indent="         ", limit=key_limit))
    return lines
