"""The example fleet's rollouts.yaml: a canary of every model at every site, the lab on its own strategy,
and Jebel Ali's routers waiting for their night window (what the demo shows at most hours of the day)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from reconciler.core.fleets import Fleet
from reconciler.core.models.rollouts import FailureType
from reconciler.core.rollouts.gates import Tally, Verdict, judge_wave
from reconciler.core.rollouts.previews import preview_rollout
from reconciler.core.rollouts.timing import Pace
from reconciler.core.rollouts.waves import plan_waves
from reconciler.core.rollouts.windows import in_window
from reconciler.shell.revisions import FleetLoader
from tests.conftest import EXAMPLE

DUBAI = ZoneInfo("Asia/Dubai")


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    built = FleetLoader().load(EXAMPLE).build
    assert built.ok and built.fleet is not None
    return built.fleet


def test_the_canary_covers_every_model_at_every_site_outside_the_lab(fleet: Fleet) -> None:
    """Wave 1 holds one router of each model × site among the default strategy's routers, plus the lab."""
    waves = plan_waves(fleet.devices.values(), fleet.rollouts, "0123abcd")
    lab = set(fleet.devices_of_group("lab"))
    others = [d for d in fleet.devices.values() if d.name not in lab]
    canary = [fleet.devices[name] for name, strategy in waves[0].strategies().items() if strategy == "default"]
    assert {(d.model, d.site) for d in canary} == {(d.model, d.site) for d in others}
    assert len(canary) == len({(d.model, d.site) for d in others})
    assert {name for name, strategy in waves[0].strategies().items() if strategy == "lab"} == lab
    assert sum(len(w.devices) for w in waves) == len(fleet.devices) and len(waves) == 3


def test_the_first_failed_canary_pauses_the_rollout(fleet: Fleet) -> None:
    """One rejected change among the canary's first finished routers pauses; the lab's single failure does not."""
    default, lab = fleet.rollouts.strategies["default"], fleet.rollouts.strategies["lab"]
    assert judge_wave(Tally(size=17, succeeded=3, failed={FailureType.REJECTED: 1}), default).verdict is Verdict.PAUSE
    assert judge_wave(Tally(size=7, succeeded=5, failed={FailureType.HEALTH: 1}), lab).verdict is Verdict.WAIT
    assert judge_wave(Tally(size=7, succeeded=5, failed={FailureType.HEALTH: 2}), lab).verdict is Verdict.ABORT


def test_jebel_ali_waits_for_its_night_window_most_of_the_day(fleet: Fleet) -> None:
    """region-middle-east may change only 02:00–03:00 Dubai time: closed for 23 of 24 hours, others always open."""
    windows = fleet.rollouts.windows
    dubai = [fleet.devices[name] for name in fleet.devices_of_group("region-middle-east")]
    day = dt.datetime(2026, 11, 21, tzinfo=DUBAI)
    open_hours = [hour for hour in range(24) if in_window(dubai[0], windows, day + dt.timedelta(hours=hour))]
    assert open_hours == [2]
    assert all(in_window(d, windows, day) for d in fleet.devices.values() if d not in dubai)


def test_a_preview_at_noon_shows_jebel_ali_starting_at_night(fleet: Fleet) -> None:
    """At noon in Berlin every wave holding Jebel Ali routers waits for 02:00 Dubai; the rest start at once."""
    noon = dt.datetime(2026, 11, 21, 12, tzinfo=ZoneInfo("Europe/Berlin"))
    preview = preview_rollout(fleet.devices.values(), fleet.rollouts, "0123abcd", noon, Pace(per_device=dt.timedelta(
        minutes=2), max_parallel=fleet.spec.management.max_parallel))
    first = preview.waves[0]
    assert first.starts_at == noon and first.sites["jebel-ali-hub"] >= 1
    assert first.first_window == dt.datetime(2026, 11, 22, 2, tzinfo=DUBAI)
    assert first.timing.ends_at == dt.datetime(2026, 11, 22, 2, 2, tzinfo=DUBAI)
