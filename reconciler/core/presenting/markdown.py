"""Markdown for pull-request comments: a summary table first, then each device in a `<details>` block.

GitHub refuses comments over 65,536 characters. The comment is built device by device and stops
before the block that would not fit, ending with a line that says how many devices were left out;
a device is never cut in the middle (one device's own key list is capped, saying how many keys
it did not list).
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.core.plans import DevicePlan, Plan
from reconciler.core.presenting.text import (
    change_details,
    diff_headline,
    key_change_lines,
    plan_headline,
    problems_summary,
    summary_rows,
    unknown_lines,
)
from reconciler.core.problems import Problem
from reconciler.core.revision_diffs import DeviceChange, RevisionDiff

COMMENT_LIMIT = 65_536
KEYS_PER_DEVICE = 200
_FOOTER_RESERVE = 400


def diff_markdown(diff: RevisionDiff, limit: int = COMMENT_LIMIT) -> str:
    head = [f"### reconciler diff: {diff_headline(diff)}", "", f"`{diff.base}` → `{diff.head}`", ""]
    if not diff.changes:
        return "\n".join([*head, "No device changes."]) + "\n"
    for by in ("group", "model", "template"):
        head.extend(_summary_table(by, summary_rows(diff, by)))
    blocks = [_change_block(c) for c in diff.changes]
    return _fit("\n".join(head), blocks, limit, "reconciler diff")


def plan_markdown(plan: Plan, limit: int = COMMENT_LIMIT) -> str:
    head = [f"### reconciler plan: {plan_headline(plan)}", "",
            f"fleet `{plan.fleet}` at `{plan.revision or 'working tree'}`", ""]
    head.extend(["| status | devices |", "|---|---:|"])
    head.extend(f"| {status.value} | {count} |" for status, count in sorted(plan.counts.items()))
    head.append("")
    unknown = unknown_lines(plan)
    if unknown:
        head.extend([unknown[0], "", *(f"- {_html(item.strip())}" for item in unknown[1:]), ""])
    blocks = [_plan_block(d) for d in plan.devices if d.actions or d.notes]
    if not blocks:
        return "\n".join([*head, "Every device is in sync."]) + "\n"
    return _fit("\n".join(head), blocks, limit, "reconciler plan")


def problems_markdown(problems: Sequence[Problem], label: str, limit: int = COMMENT_LIMIT) -> str:
    """An invalid revision as a comment: its problems in a code block, as many as fit, then their count.

    `problems` are all that `validate` reports (render failures included), so the comment and the
    command agree; the count covers them all, also those the size limit leaves out.
    """
    head = f"### reconciler: `{label}` is invalid\n\n```\n"
    lines: list[str] = []
    used = len(head) + _FOOTER_RESERVE
    for problem in problems:
        line = str(problem) + "\n"
        if used + len(line) > limit:
            break
        lines.append(line)
        used += len(line)
    left = len(problems) - len(lines)
    more = f"\n_… and {left} more problems; run `reconciler validate` locally for all of them._\n" if left else ""
    summary = f"\n{problems_summary(problems, f'`{label}`', None)}\n"
    return head + "".join(lines) + "```\n" + summary + more


def _summary_table(by: str, rows: Sequence[tuple[str, int, int, int]]) -> list[str]:
    lines = [f"| {by} | added | removed | changed |", "|---|---:|---:|---:|"]
    lines.extend(f"| {_cell(name)} | {a} | {r} | {c} |" for name, a, r, c in rows)
    return [*lines, ""]


def _change_block(change: DeviceChange) -> str:
    details = change_details(change)
    keys = key_change_lines(change.config, indent="", limit=KEYS_PER_DEVICE)
    summary = f"<code>{_html(change.device)}</code> {change.kind.value} ({_html(change.model)}"
    summary += f", template {_html(change.template)})" if change.template else ")"
    if change.config:
        summary += f": {len(change.config)} key{'s' * (len(change.config) != 1)}"
    body = "\n".join(details)
    if keys:
        body += ("\n\n" if body else "") + "```diff\n" + "\n".join(_diff_line(k) for k in keys) + "\n```"
    return f"<details><summary>{summary}</summary>\n\n{body or '(metadata only)'}\n\n</details>\n"


def _plan_block(device: DevicePlan) -> str:
    summary = f"<code>{_html(device.device)}</code> {device.status.value}"
    lines = [f"note: {note}" for note in device.notes]
    for number, action in enumerate(device.actions, 1):
        lines.append(f"{number}. {_html(action.summary)} ({_html(action.reason)})")
        keys = key_change_lines(action.changes, indent="", limit=KEYS_PER_DEVICE)
        if keys:
            lines.append("```diff\n" + "\n".join(_diff_line(k) for k in keys) + "\n```")
    return f"<details><summary>{summary}</summary>\n\n" + "\n".join(lines) + "\n\n</details>\n"


def _fit(head: str, blocks: Sequence[str], limit: int, tool: str) -> str:
    parts = [head, ""]
    used = len(head) + 1
    shown = 0
    for block in blocks:
        if used + len(block) + 1 > limit - _FOOTER_RESERVE:
            break
        parts.append(block)
        used += len(block) + 1
        shown += 1
    left = len(blocks) - shown
    if left:
        parts.append(f"_… and {left} more device{'s' * (left != 1)} not shown (the comment size limit); "
                     f"run `{tool}` locally for all of them._\n")
    return "\n".join(parts)


def _diff_line(line: str) -> str:
    # `~ key: old -> new` has no diff colour; show it as a change marker GitHub colours (`!`).
    return "!" + line[1:] if line.startswith("~") else line


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
