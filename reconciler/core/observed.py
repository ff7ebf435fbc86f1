"""Observed state: what the routers report, as a snapshot (format `reconciler/observed-v1`).

Where it sits: `reconciler plan --observed FILE` reads a snapshot written by hand, by a script or
(later) by `reconciler observe`; the shell hands its bytes to `parse_snapshot`, and `plans`
compares each `ObservedDevice` with the device's `DesiredState`. Devices are matched by serial
number: a router keeps its serial when the repository renames it.

```json
{"format": "reconciler/observed-v1",
 "taken_at": "2026-11-21T09:30:00Z",
 "devices": [{"serial": "24130001", "name": "ber-plant-r01", "model": "MRX5 LTE", "firmware": "10.4",
              "online": true, "last_seen": "2026-11-21T09:29:58Z",
              "packets": {"vpn-ca-2026": "<content digest>"},
              "config": {"administration.hostnames.hostname": "ber-plant-r01", "...": "..."}}]}
```
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reconciler.core.digests import canonical_json, digest

FORMAT = "reconciler/observed-v1"


class ObservedDevice(BaseModel):
    """One router as last seen."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    serial: Annotated[str, Field(min_length=1)]
    name: str | None = Field(default=None, description="the name the observer knew it by (informational)")
    model: str | None = None
    firmware: str | None = None
    online: bool = True
    busy: bool = Field(default=False, description="it answered, but busy (503) after every retry: not offline")
    last_seen: dt.datetime | None = None
    packets: dict[str, str] | None = Field(
        default={}, description="installed update packets: name → content digest; null: not known (routers cannot "
                                "report them, and the observer had no record of what was installed)")
    config: dict[str, str] = Field(default={}, description="the running configuration: key → value")
    metrics: dict[str, float] = Field(default={}, description="link metrics, e.g. delay_ms, jitter_ms, loss_percent")
    unreachable: str | None = Field(default=None, description="why the observer could not reach it (when offline)")

    def state_hash(self, volatile: Callable[[str], bool] | None = None) -> str:
        """What a saved plan records to notice that the router changed since: not online, last seen or
        the `volatile` keys (an uptime counter would make every saved plan stale)."""
        config = self.config if volatile is None else {k: v for k, v in self.config.items() if not volatile(k)}
        return digest(self.model or "-", self.firmware or "-", canonical_json(self.packets), canonical_json(config))


class ObservedSnapshot(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["reconciler/observed-v1"]
    taken_at: dt.datetime
    devices: list[ObservedDevice]

    def by_serial(self) -> dict[str, ObservedDevice]:
        return {device.serial: device for device in self.devices}


class SnapshotProblem(ValueError):
    """A snapshot that cannot be used; the message says where (JSON path) and what."""


def parse_snapshot(raw: bytes) -> ObservedSnapshot:
    """A purely computational function: JSON bytes in, a validated snapshot out (or SnapshotProblem)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise SnapshotProblem(f"not valid JSON: {exc}") from None
    try:
        snapshot = ObservedSnapshot.model_validate(data)
    except ValidationError as exc:
        raise SnapshotProblem(first_error(exc)) from None
    seen: set[str] = set()
    for device in snapshot.devices:  # one pass: counting each serial again was quadratic in the devices
        if device.serial in seen:
            raise SnapshotProblem(f"serial {device.serial!r} appears twice")
        seen.add(device.serial)
    return snapshot


def first_error(exc: ValidationError) -> str:
    """The first thing wrong in JSON data, where (`.devices[3].serial`) and what, and how many more."""
    first = exc.errors(include_url=False)[0]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"]) or "(top)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def snapshot_json(snapshot: ObservedSnapshot) -> bytes:
    return orjson.dumps(snapshot.model_dump(mode="json"), option=orjson.OPT_INDENT_2)
