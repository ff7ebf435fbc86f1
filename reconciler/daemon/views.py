"""What the API answers: the daemon's status, devices, groups and drift as JSON-ready dicts.

Where it sits: `api` handlers call these with what the reconciler knows (`DaemonStatus`, the
last good revision's fleet, the last plan) and what the store keeps (device states, events);
the shapes are the schemas of `openapi.py`. No secret is ever part of them: fields are not shown,
only names, places, versions, outcomes and summaries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.core.fleets import Device, Fleet
from reconciler.core.plans import DevicePlan, Plan
from reconciler.shell.store import DeviceEvent, DeviceState, DriftRecord

from .status import DaemonStatus, RouterStatus

UNKNOWN = "unknown"  # a device no cycle has planned yet
# a device's status in the API: the plan's, or what applying found (`reconciling`), or not planned yet
DEVICE_STATUSES = (*(status.value for status in RouterStatus), UNKNOWN)


def status_view(status: DaemonStatus) -> dict[str, Any]:
    cycle = status.last_cycle
    return {
        "state": status.state,
        "degraded": status.degraded,
        "source": status.source,
        "revision": {"desired": status.desired, "last_good": status.last_good, "applied": status.applied},
        "problems": status.problems,
        "counts": status.counts,
        "drifted": len(status.drift),
        "self_heal": status.self_heal,
        "reconciling": status.reconciling,
        "cycles": status.cycles,
        "entitlements": list(status.entitlements),
        "incidents": [incident.as_dict() for _, incident in sorted(status.incidents.items())],
        "last_cycle": None if cycle is None else {
            "reason": cycle.reason, "revision": cycle.revision, "started_at": cycle.started_at,
            "finished_at": cycle.finished_at, "seconds": cycle.seconds, "plan": cycle.plan,
            "outcomes": cycle.outcomes, "drifted": cycle.drifted, "interrupted": cycle.interrupted},
    }


def plan_index(plan: Plan | None) -> dict[str, DevicePlan]:
    return {d.device: d for d in plan.devices} if plan is not None else {}


def device_summary(device: Device, current: str | None, state: DeviceState | None,
                   drift: Mapping[str, str]) -> dict[str, Any]:
    return {
        "name": device.name,
        "serial": device.serial,
        "model": device.model,
        "groups": list(device.groups),
        "site": device.site.name if device.site else None,
        "status": current or UNKNOWN,
        "drifted": device.name in drift,
        "firmware": {"desired": device.firmware, "applied": state.firmware if state else None},
        "last_seen": state.last_seen if state else None,
        "last_outcome": state.last_outcome if state else None,
    }


def device_detail(device: Device, current: str | None, planned: DevicePlan | None, state: DeviceState | None,
                  drift: Mapping[str, str], events: Sequence[DeviceEvent],
                  drift_history: Sequence[DriftRecord]) -> dict[str, Any]:
    """D0.8/D0.9: serial, model, firmware, location, last connection, last outcome, recent events.

    `actions` are what the last plan found to do (done since, if the status is in-sync)."""
    site = device.site
    return {
        **device_summary(device, current, state, drift),
        "description": device.description,
        "template": device.template,
        "packets": {"desired": list(device.packets),
                    "applied": dict(state.packets) if state and state.packets is not None else None},
        "location": None if site is None else {"site": site.name, "description": site.description,
                                               "lat": site.lat, "lon": site.lon, "timezone": str(site.timezone),
                                               "country": site.country},
        "last_connection": state.last_seen if state else None,
        "last_detail": state.last_detail if state else None,
        "applied_revision": state.revision if state else None,
        "actions": [{"kind": a.kind.value, "summary": a.summary, "reason": a.reason}
                    for a in (planned.actions if planned else ())],
        "notes": list(planned.notes) if planned else [],
        "drift": drift.get(device.name),
        "events": [event.as_dict() for event in events],
        "drift_history": [record.as_dict() for record in drift_history],
    }


def matches(summary: Mapping[str, Any], query: Mapping[str, str]) -> bool:
    """The device list's filters: group, model, site, status (exact; several = all must hold)."""
    if "group" in query and query["group"] not in summary["groups"]:
        return False
    return all(summary.get(key) == query[key] for key in ("model", "site", "status") if key in query)


def group_views(fleet: Fleet, statuses: Mapping[str, str]) -> list[dict[str, Any]]:
    groups = []
    for name, spec in fleet.groups.items():
        members = fleet.devices_of_group(name)
        counted: dict[str, int] = {}
        for member in members:
            key = statuses.get(member, UNKNOWN)
            counted[key] = counted.get(key, 0) + 1
        groups.append({"name": name, "description": spec.description, "devices": len(members),
                       "statuses": counted})
    return groups
