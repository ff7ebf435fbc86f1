"""Previews: what a rollout of a revision would do, wave by wave, before it starts.

Where it sits: the rollout engine's preview (CLI, API) calls `preview_rollout` with the devices
the revision changes and `now`, and shows `preview_json` or its own table of the value. It puts
together `waves` (membership, exactly what an apply does) and `timing` (an estimate).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.core.fleets import Device
from reconciler.core.models.rollouts import RolloutsFile
from reconciler.core.rollouts.timing import Pace, WaveTiming, schedule_waves
from reconciler.core.rollouts.waves import Wave, plan_waves

NO_SITE = "(no site)"


@dataclass(frozen=True, slots=True)
class WavePreview:
    """One wave of a preview: who, following which strategy, what mix, and when (estimated)."""

    index: int
    devices: tuple[str, ...]  # in the order they are meant to start
    strategies: Mapping[str, str]  # device → strategy
    models: Mapping[str, int]  # model → devices
    sites: Mapping[str, int]  # site → devices (NO_SITE for devices without one)
    timing: WaveTiming

    @property
    def starts_at(self) -> dt.datetime | None:
        return self.timing.starts_at

    @property
    def first_window(self) -> dt.datetime | None:
        return self.timing.first_window


@dataclass(frozen=True, slots=True)
class Preview:
    revision: str
    waves: tuple[WavePreview, ...]  # in the order they start
    eta: dt.datetime | None  # when the last wave is done; None: more than a year away


def preview_rollout(changing: Iterable[Device], policy: RolloutsFile, revision: str, now: dt.datetime,
                    pace: Pace) -> Preview:
    """A purely computational function: the preview of rolling `revision` out to the devices that change."""
    devices = {device.name: device for device in changing}
    waves = plan_waves(devices.values(), policy, revision)
    timeline = schedule_waves(waves, devices, policy, now, pace)
    previews = tuple(_wave_preview(wave, devices, timing) for wave, timing in zip(waves, timeline.waves, strict=True))
    return Preview(revision, previews, timeline.eta)


def _wave_preview(wave: Wave, devices: Mapping[str, Device], timing: WaveTiming) -> WavePreview:
    members = [devices[name] for name in wave.devices]
    models = Counter(device.model for device in members)
    sites = Counter(device.site.name if device.site is not None else NO_SITE for device in members)
    return WavePreview(wave.index, wave.devices, wave.strategies(), dict(sorted(models.items())),
                       dict(sorted(sites.items())), timing)


def preview_json(preview: Preview) -> dict[str, Any]:
    """The preview as JSON-ready data; times in UTC, ISO 8601 (null: more than a year away, or no window)."""
    return {
        "revision": preview.revision,
        "waves": [
            {
                "index": wave.index,
                "devices": list(wave.devices),
                "strategies": dict(wave.strategies),
                "models": dict(wave.models),
                "sites": dict(wave.sites),
                "ready_at": _time(wave.timing.ready_at),
                "first_window": _time(wave.first_window),
                "starts_at": _time(wave.starts_at),
                "ends_at": _time(wave.timing.ends_at),
                "approval": wave.timing.approval,
            }
            for wave in preview.waves
        ],
        "eta": _time(preview.eta),
    }


def _time(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value is not None else None
