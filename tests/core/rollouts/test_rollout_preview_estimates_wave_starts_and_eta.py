"""The preview: waves in start order with their mix and estimated times (rate, parallelism, soak, windows,
approvals), membership independent of `now`, and its JSON form."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from reconciler.core.fleets import Device
from reconciler.core.models.rollouts import DEFAULT_POLICY
from reconciler.core.rollouts.previews import preview_json, preview_rollout
from reconciler.core.rollouts.timing import Pace, schedule_waves
from reconciler.core.rollouts.waves import plan_waves
from tests.core.rollouts.fleetparts import device, policy

UTC, DUBAI = dt.UTC, ZoneInfo("Asia/Dubai")
NOW = dt.datetime(2026, 11, 21, 11, 0, tzinfo=UTC)  # 15:00 in Dubai
MINUTE = dt.timedelta(minutes=1)


def berlin_routers(count: int, prefix: str = "r") -> list[Device]:
    return [device(f"{prefix}{i:02d}") for i in range(count)]


def test_rate_and_parallelism_pace_one_wave() -> None:
    """6 routers at 1/min, 2 at once, 2 min each: starts at 0,1,2,3,4,5 min, done after 7 min."""
    paced = policy("strategies:\n  default: {rate: 1/min, max_parallel: 2}\n")
    preview = preview_rollout(berlin_routers(6), paced, "rev", NOW, Pace(per_device=2 * MINUTE))
    (wave,) = preview.waves
    assert (wave.starts_at, wave.timing.ends_at, preview.eta) == (NOW, NOW + 7 * MINUTE, NOW + 7 * MINUTE)
    slower = preview_rollout(berlin_routers(6), paced, "rev", NOW, Pace(per_device=5 * MINUTE))
    assert slower.eta == NOW + 16 * MINUTE  # parallelism, not the rate, limits: starts at 0,1,5,6,10,11 min
    fast = preview_rollout(berlin_routers(6), policy("strategies:\n  default: {rate: 60/min}\n"), "rev", NOW,
                           Pace(per_device=2 * MINUTE, max_parallel=20))
    assert fast.eta == NOW + 2 * MINUTE + 5 * dt.timedelta(seconds=1)  # one start a second


def test_the_next_wave_starts_after_the_last_one_finished_and_soaked() -> None:
    """Wave 2 is ready when wave 1 is done plus the soak; the ETA adds its own run."""
    soaked = policy("strategies:\n  default: {waves: [2, 100%], soak: 10m}\n")
    preview = preview_rollout(berlin_routers(5), soaked, "rev", NOW, Pace(per_device=3 * MINUTE, max_parallel=10))
    first, second = preview.waves
    assert (first.starts_at, first.timing.ends_at) == (NOW, NOW + 3 * MINUTE)
    assert second.timing.ready_at == second.starts_at == NOW + 13 * MINUTE
    assert preview.eta == NOW + 16 * MINUTE


def test_routers_with_a_window_wait_for_it_without_holding_up_the_others() -> None:
    """Dubai's routers wait for 02:00 Dubai time; Berlin's go now; the wave ends when Dubai's are done."""
    nightly = policy("""\
windows:
  - {name: dubai-night, schedule: "0 2 * * *", duration: 1h, applies_to: {sites: [dubai]}}
""")
    routers = berlin_routers(3) + [device(f"dxb{i}", site_name="dubai") for i in range(2)]
    preview = preview_rollout(routers, nightly, "rev", NOW, Pace(per_device=MINUTE))
    (wave,) = preview.waves
    two_am = dt.datetime(2026, 11, 22, 2, tzinfo=DUBAI)
    assert (wave.starts_at, wave.first_window, preview.eta) == (NOW, two_am, two_am + MINUTE)
    assert wave.sites == {"berlin": 3, "dubai": 2}


def test_routers_left_when_a_window_closes_wait_for_the_next_one() -> None:
    """90 routers at 1/min in a one-hour window: 60 tonight, 30 the next night."""
    nightly = policy("""\
strategies:
  default: {rate: 1/min, max_parallel: 100}
windows:
  - {name: dubai-night, schedule: "0 2 * * *", duration: 1h}
""")
    routers = [device(f"dxb{i:02d}", site_name="dubai") for i in range(90)]
    preview = preview_rollout(routers, nightly, "rev", NOW, Pace(per_device=MINUTE))
    assert preview.eta == dt.datetime(2026, 11, 23, 2, 30, tzinfo=DUBAI)


def test_the_estimate_gives_up_beyond_a_year() -> None:
    """One router a year (a one-minute window on New Year's night) for three routers: the first starts on
    New Year's night, the end and the ETA are None."""
    yearly = policy("""\
strategies:
  default: {rate: 1/min}
windows:
  - {name: new-year, schedule: "0 1 1 1 *", duration: 1m}
""")
    preview = preview_rollout(berlin_routers(3), yearly, "rev", NOW, Pace(per_device=MINUTE))
    (wave,) = preview.waves
    new_year = dt.datetime(2027, 1, 1, 0, tzinfo=UTC)  # 01:00 in Berlin
    assert (wave.first_window, wave.starts_at, wave.timing.ends_at, preview.eta) == (new_year, new_year, None, None)


def test_waves_that_wait_for_an_approval_say_so() -> None:
    """before-start marks wave 1, after-canary wave 2 (of the strategies in that wave)."""
    approvals = policy("""\
strategies:
  default: {waves: [canary, 100%], approval: after-canary}
  lab: {waves: [1, 100%], approval: before-start}
assign: [{groups: [lab], strategy: lab}]
""")
    routers = berlin_routers(6) + [device(f"lab{i}", groups=("lab",)) for i in range(3)]
    preview = preview_rollout(routers, approvals, "rev", NOW, Pace(per_device=MINUTE))
    assert [wave.timing.approval for wave in preview.waves] == [True, True]
    alone = preview_rollout(berlin_routers(6), approvals, "rev", NOW, Pace(per_device=MINUTE))
    assert [wave.timing.approval for wave in alone.waves] == [False, True]


def test_membership_in_a_preview_does_not_depend_on_now_or_open_windows() -> None:
    """A preview at noon and one at 02:00 Dubai list the same waves, equal to plan_waves, in start order."""
    canaried = policy("""\
strategies:
  default: {waves: [canary, 30%, 100%]}
windows:
  - {name: dubai-night, schedule: "0 2 * * *", duration: 1h, applies_to: {sites: [dubai]}}
""")
    routers = berlin_routers(10) + [device(f"dxb{i}", site_name="dubai", model="SCR LTE") for i in range(5)]
    at_noon = preview_rollout(routers, canaried, "rev", NOW, Pace(per_device=MINUTE))
    at_night = preview_rollout(routers, canaried, "rev", dt.datetime(2026, 11, 22, 2, 5, tzinfo=DUBAI),
                               Pace(per_device=MINUTE))
    planned = [wave.devices for wave in plan_waves(routers, canaried, "rev")]
    assert [w.devices for w in at_noon.waves] == [w.devices for w in at_night.waves] == planned
    assert [w.index for w in at_noon.waves] == [1, 2, 3]
    assert at_noon.waves[0].models == {"MRX5 LTE": 1, "SCR LTE": 1}


def test_the_preview_as_json() -> None:
    """JSON-ready: waves with index, devices, strategies, mix and UTC times, and the ETA."""
    preview = preview_rollout(berlin_routers(2), DEFAULT_POLICY, "abc123", NOW, Pace(per_device=MINUTE))
    data = json.loads(json.dumps(preview_json(preview)))
    assert data == {
        "revision": "abc123",
        "waves": [{"index": 1, "devices": list(preview.waves[0].devices),
                   "strategies": {"r00": "default", "r01": "default"}, "models": {"MRX5 LTE": 2},
                   "sites": {"berlin": 2}, "ready_at": "2026-11-21T11:00:00Z", "first_window": None,
                   "starts_at": "2026-11-21T11:00:00Z", "ends_at": "2026-11-21T11:01:00Z", "approval": False}],
        "eta": "2026-11-21T11:01:00Z",
    }


def test_nothing_to_change_is_done_now() -> None:
    """No device changes: no waves, and the ETA is now."""
    timeline = schedule_waves((), {}, DEFAULT_POLICY, NOW, Pace(per_device=MINUTE))
    assert (timeline.waves, timeline.eta) == ((), NOW)
