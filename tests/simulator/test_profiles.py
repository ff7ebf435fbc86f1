"""Behaviour profiles: the knobs, rejection globs and the per-router random streams."""

from __future__ import annotations

import statistics

import pytest

from reconciler.simulator.profiles import Rejection, Stream, behaviour


def test_perfect_has_no_latency_offline_busy_or_rejections_and_two_second_reboots() -> None:
    """The perfect profile is deterministic without any draws."""
    perfect = behaviour("perfect")
    assert (perfect.latency_median, perfect.offline_share, perfect.busy_share) == (0, 0, 0)
    assert (perfect.reboot_seconds, perfect.rejections, perfect.draws_per_call) == ((2.0, 2.0), (), False)


def test_realistic_has_the_documented_knobs_and_each_can_be_overridden() -> None:
    """30 ms median latency, 2 % offline, 2 % busy, 20–60 s reboots, one MRO-L200 rejection; knobs replace them."""
    realistic = behaviour("realistic")
    assert (realistic.latency_median, realistic.offline_share, realistic.busy_share) == (0.030, 0.02, 0.02)
    assert realistic.reboot_seconds == (20.0, 60.0)
    assert realistic.rejects("MRO-L200", "interfaces.wwan1.lte_network_mode")
    tuned = behaviour("realistic", latency_ms=5, offline_share=0.5, busy_share=0, reboot_seconds=3, rejections=())
    assert (tuned.latency_median, tuned.offline_share, tuned.busy_share) == (0.005, 0.5, 0)
    assert (tuned.reboot_seconds, tuned.rejections) == ((3.0, 3.0), ())


@pytest.mark.parametrize("knobs", [{"busy_share": 1.5}, {"offline_share": -0.1}, {"latency_ms": -1},
                                   {"reboot_seconds": float("nan")}])
def test_out_of_range_knobs_are_refused(knobs: dict[str, float]) -> None:
    """Shares outside 0–1 and negative or non-finite durations raise ValueError naming the option."""
    with pytest.raises(ValueError, match="--"):
        behaviour("perfect", **knobs)  # type: ignore[arg-type]


def test_rejection_globs_match_whole_keys_with_literal_brackets() -> None:
    """`*` matches any text; `[1]` in a glob is the index, not a character class; other models are unaffected."""
    rules = behaviour("perfect", rejections=(Rejection.parse("MRX5 LTE=netfilter.rule[1].*"),
                                            Rejection.parse("MRX5 LTE=*.band_lock")))
    assert rules.rejects("MRX5 LTE", "netfilter.rule[1].port")
    assert rules.rejects("MRX5 LTE", "interfaces.wwan1.band_lock")
    assert not rules.rejects("MRX5 LTE", "netfilter.rule1.port")
    assert not rules.rejects("MRX5 LTE", "interfaces.wwan1.band_lock_x")
    assert not rules.rejects("MRX3 LTE", "netfilter.rule[1].port")
    with pytest.raises(ValueError, match="MODEL=KEYGLOB"):
        Rejection.parse("MRX5 LTE")


def test_a_stream_depends_only_on_seed_serial_and_purpose() -> None:
    """Two streams with the same seed, serial and purpose draw the same numbers; others differ."""
    def draws(seed: int, serial: str, purpose: str = "calls") -> list[float]:
        stream = Stream(seed, serial, purpose)
        return [stream.random() for _ in range(5)]

    assert draws(1, "24130101") == draws(1, "24130101")
    assert len({tuple(draws(*args)) for args in ((1, "a"), (2, "a"), (1, "b"), (1, "a", "offline"))}) == 4
    assert all(0 <= value < 1 for value in draws(3, "c"))


def test_latency_is_lognormal_around_the_median_and_clipped() -> None:
    """10,000 draws have a median near 30 ms, a long tail, and none above the 2 s cap."""
    realistic = behaviour("realistic")
    stream = Stream(1, "24130101", "calls")
    samples = [stream.latency(realistic) for _ in range(10_000)]
    assert 0.028 < statistics.median(samples) < 0.032
    assert max(samples) <= 2.0
    assert statistics.mean(samples) > statistics.median(samples)


def test_busy_draws_hit_the_share() -> None:
    """About 2 % of calls are busy in the realistic profile."""
    realistic = behaviour("realistic")
    stream = Stream(1, "24130101", "calls")
    share = sum(stream.busy(realistic) for _ in range(20_000)) / 20_000
    assert 0.015 < share < 0.025


def test_reboot_times_are_uniform_between_the_bounds() -> None:
    """Realistic reboots take 20–60 s; a fixed --reboot-seconds is exact."""
    stream = Stream(1, "s", "calls")
    times = [stream.reboot_seconds(behaviour("realistic")) for _ in range(1000)]
    assert min(times) >= 20
    assert max(times) < 60
    assert stream.reboot_seconds(behaviour("realistic", reboot_seconds=0.2)) == 0.2
