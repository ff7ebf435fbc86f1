"""JSON-ready data for every output: the same fields the text and markdown forms show."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconciler.core.config_diffs import KeyChange
from reconciler.core.plans import Plan, plan_to_data
from reconciler.core.problems import Problem
from reconciler.core.rendering import DesiredState
from reconciler.core.revision_diffs import DeviceChange, RevisionDiff
from reconciler.core.secrets import redact, redact_change


def problems_data(problems: Sequence[Problem], label: str) -> dict[str, Any]:
    errors = sum(1 for p in problems if p.is_error)
    return {
        "revision": label,
        "valid": errors == 0,
        "errors": errors,
        "warnings": len(problems) - errors,
        "problems": [p.as_dict() for p in problems],
    }


def desired_data(state: DesiredState, label: str) -> dict[str, Any]:
    return {
        "revision": label,
        "device": state.device,
        "serial": state.serial,
        "model": state.model,
        "template": state.template,
        "config_mode": state.config_mode.value,
        "firmware": state.firmware,
        "packets": [{"name": name, "digest": digest} for name, digest in state.packets],
        "configuration": redact(state.config_text) if state.config_text is not None else None,
        "input_hash": state.input_hash,
    }


def key_changes_data(changes: Sequence[KeyChange]) -> list[dict[str, Any]]:
    return [
        dict(zip(("key", "kind", "old", "new"), (c.key, c.kind, *redact_change(c.key, c.old, c.new)), strict=True))
        for c in changes
    ]


def change_data(change: DeviceChange) -> dict[str, Any]:
    return {
        "device": change.device,
        "kind": change.kind.value,
        "model": change.model,
        "groups": list(change.groups),
        "template": change.template,
        "attributes": [{"name": n, "old": o, "new": v} for n, o, v in change.attributes],
        "template_change": list(change.template_change) if change.template_change else None,
        "firmware_change": list(change.firmware_change) if change.firmware_change else None,
        "mode_change": list(change.mode_change) if change.mode_change else None,
        "packets": {"added": list(change.packets_added), "removed": list(change.packets_removed),
                    "updated": list(change.packets_updated)},
        "config": key_changes_data(change.config),
        "lists": {"claimed": list(change.lists_claimed), "released": list(change.lists_released)},
        "errors": [str(error) for error in change.errors],
    }


def diff_data(diff: RevisionDiff) -> dict[str, Any]:
    return {
        "base": diff.base,
        "head": diff.head,
        "changed_devices": len(diff.changes),
        "unchanged_devices": diff.unchanged,
        "renders": diff.rendered,
        "summary": {by: diff.summary(by) for by in ("group", "model", "template")},
        "devices": [change_data(c) for c in diff.changes],
    }


def plan_data(plan: Plan) -> dict[str, Any]:
    return plan_to_data(plan)
