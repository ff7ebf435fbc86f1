"""A saved plan or snapshot of another shape is refused with what is wrong and where, before anything uses it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.app.live import read_saved_plan
from reconciler.core.observed import SnapshotProblem, parse_snapshot
from reconciler.core.plans import FORMAT, Status, plan_from_data
from reconciler.errors import SavedPlanError

DEVICE = {"device": "ber-r01", "serial": "24130001", "status": "changes"}
SAVED = {"format": FORMAT, "fleet": "f", "created_at": "2026-11-21T12:00:00+01:00", "devices": [DEVICE],
         "source": "fleet-repo"}


def saved(**changes: Any) -> bytes:
    return json.dumps({**SAVED, **changes}).encode()


def test_a_minimal_saved_plan_is_read_with_its_defaults() -> None:
    """Keys a plan may leave out (model, actions, notes, counts …) read as empty, as before."""
    plan, source = read_saved_plan(saved(), "plan.json")
    assert source == "fleet-repo"
    assert plan.devices[0].status is Status.CHANGES
    assert (plan.devices[0].model, plan.devices[0].actions, plan.counts) == (None, (), {})


@pytest.mark.parametrize(("content", "message"), [
    (b"8", "plan.json is not a saved plan: not a saved plan (not a JSON object)"),
    (b"[]", "plan.json is not a saved plan: not a saved plan (not a JSON object)"),
    (saved(fleet=5), "plan.json is not a saved plan: .fleet: Input should be a valid string"),
    (saved(content=0), "plan.json is not a saved plan: .content: Input should be a valid string"),
    (saved(devices=[{**DEVICE, "groups": "a"}]), "plan.json is not a saved plan: .devices[0].groups: "
                                                 "Input should be a valid list"),
    (saved(devices=[{**DEVICE, "actions": [{"kind": "reboot", "summary": "s"}]}]),
     "plan.json is not a saved plan: .devices[0].actions[0].kind: Input should be 'firmware', 'packet' or "
     "'configuration'"),
    (saved(devices=[[]]), "plan.json is not a saved plan: .devices[0]: Input should be a valid dictionary"),
    (saved(created_at="yesterday"), "plan.json is not a saved plan: Invalid isoformat string: 'yesterday'"),
    (saved(source=["fleet-repo"]), "plan.json does not say which repository it was made from (source)"),
    (b"[" * 5000 + b"]" * 5000, "plan.json is not a saved plan: depth limit exceeded"),
])
def test_a_saved_plan_of_another_shape_is_a_saved_plan_error(content: bytes, message: str) -> None:
    """Wrong types, unknown kinds and deep nesting are a SavedPlanError naming the place, never a traceback."""
    with pytest.raises(SavedPlanError) as caught:
        read_saved_plan(content, "plan.json")
    assert str(caught.value).startswith(message)


def test_plan_from_data_refuses_data_that_is_not_a_mapping() -> None:
    """The core function itself says what it got instead of failing on `.get`."""
    with pytest.raises(ValueError, match="not a JSON object"):
        plan_from_data([SAVED])


def test_a_snapshot_naming_a_serial_twice_is_refused_with_the_serial() -> None:
    """Duplicate serials are found in one pass (counting each one again was quadratic in the devices)."""
    devices = [{"serial": str(n)} for n in range(5_000)] + [{"serial": "4999"}]
    raw = json.dumps({"format": "reconciler/observed-v1", "taken_at": "2026-11-21T09:30:00Z", "devices": devices})
    with pytest.raises(SnapshotProblem, match="serial '4999' appears twice"):
        parse_snapshot(raw.encode())
