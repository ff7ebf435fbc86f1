"""Redaction of router values: a snapshot or a plan with every value equal to a known secret as `***`.

Where it sits: between what the shell observed or planned and every output that carries router
values: the snapshot `observe` writes, the plans `plan --live` and `apply` show and save, the plan
and device views of the daemon's API. The shell builds the `Redactor` from the secrets it unsealed
(`shell.targets.redactor`). Planning itself works on the values as reported (a router value that
merely equals a secret, a port equal to a PIN, must still compare right); only what leaves is
redacted. The usual redaction (markers, credential keys: `secrets.redact_change`) happens on top,
when a plan is presented.
"""

from __future__ import annotations

from dataclasses import replace

from reconciler.core.config_diffs import KeyChange
from reconciler.core.observed import ObservedDevice, ObservedSnapshot
from reconciler.core.plans import Action, DevicePlan, Plan
from reconciler.core.secrets import Redactor


def redact_snapshot(snapshot: ObservedSnapshot, redactor: Redactor) -> ObservedSnapshot:
    """The snapshot with every configuration value equal to a secret, and every secret in an error text, hidden."""
    if not redactor:
        return snapshot
    devices = [_device(device, redactor) for device in snapshot.devices]
    return snapshot.model_copy(update={"devices": devices})


def _device(device: ObservedDevice, redactor: Redactor) -> ObservedDevice:
    update: dict[str, object] = {}
    if redactor.any_hidden(device.config.values()):
        update["config"] = {key: redactor.value(value) for key, value in device.config.items()}
    if device.unreachable and redactor.text(device.unreachable) != device.unreachable:
        update["unreachable"] = redactor.text(device.unreachable)
    return device.model_copy(update=update) if update else device


def redact_plan(plan: Plan, redactor: Redactor) -> Plan:
    """The plan with every key change value equal to a secret, and every secret in its notes, hidden.

    Apply reads only names, statuses and hashes from a plan (it plans each device afresh), so a
    redacted plan applies exactly as the original would.
    """
    if not redactor:
        return plan
    return replace(plan, devices=tuple(_plan(device, redactor) for device in plan.devices))


def _plan(device: DevicePlan, redactor: Redactor) -> DevicePlan:
    notes = tuple(redactor.text(note) for note in device.notes)
    actions = tuple(_action(action, redactor) for action in device.actions)
    if notes == device.notes and all(new is old for new, old in zip(actions, device.actions, strict=True)):
        return device
    return replace(device, notes=notes, actions=actions)


def _action(action: Action, redactor: Redactor) -> Action:
    # Summaries and reasons name keys, versions and packets, never values: only the changes need a look.
    values = [value for change in action.changes for value in (change.old, change.new) if value is not None]
    if not redactor.any_hidden(values):
        return action
    changes = tuple(KeyChange(c.key, redactor.value(c.old), redactor.value(c.new)) for c in action.changes)
    return replace(action, changes=changes)
