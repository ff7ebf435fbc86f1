"""Gates: a wave's outcomes against its success and failure thresholds (minimum device counts, per-type
thresholds over the general one, abort over pause), with a reason that says why."""

from __future__ import annotations

from reconciler.core.models.rollouts import DEFAULT_POLICY, FailureType, StrategySpec
from reconciler.core.rollouts.gates import Tally, Verdict, judge_strategies, judge_wave
from tests.core.rollouts.fleetparts import policy

HEALTH, TIMEOUT, BUSY, REJECTED = FailureType.HEALTH, FailureType.TIMEOUT, FailureType.BUSY, FailureType.REJECTED
UNREACHABLE = FailureType.UNREACHABLE

GUARDED = StrategySpec.model_validate({
    "waves": ["canary", "100%"],
    "success": {"min_devices": 5, "min_rate": "95%"},
    "failure": {"max_rate": "10%", "min_devices": 10, "action": "pause",
                "by_type": {"health": {"max_rate": "0%", "action": "abort"},
                            "busy": {"max_rate": "50%", "min_devices": 4}}},
})


def test_a_wave_waits_until_its_devices_have_finished() -> None:
    """7 of 20 finished without tripping anything: wait, and say how many finished."""
    decision = judge_wave(Tally(size=20, succeeded=7), GUARDED)
    assert (decision.verdict, decision.reason) == (Verdict.WAIT, "7 of 20 devices finished")


def test_the_failure_rate_counts_only_once_enough_devices_finished() -> None:
    """2 timeouts of 5 finished (40 %) wait for min_devices 10; at 10 finished, 2 of 10 (20 %) pause."""
    assert judge_wave(Tally(size=40, succeeded=3, failed={TIMEOUT: 2}), GUARDED).verdict is Verdict.WAIT
    decision = judge_wave(Tally(size=40, succeeded=8, failed={TIMEOUT: 2}), GUARDED)
    assert decision.verdict is Verdict.PAUSE
    assert decision.reason == "2 of 10 finished devices failed: 20%, more than 10%"


def test_a_threshold_per_failure_type_overrides_the_general_one() -> None:
    """Health failures abort past their own 0 % once the general min_devices (10) finished; busy failures
    count against busy's own 50 % (min_devices 4) and never against the general 10 %."""
    early = judge_wave(Tally(size=40, succeeded=2, failed={HEALTH: 1}), GUARDED)
    assert early.verdict is Verdict.WAIT
    late = judge_wave(Tally(size=40, succeeded=9, failed={HEALTH: 1}), GUARDED)
    assert (late.verdict, late.reason) == (Verdict.ABORT, "1 of 10 finished devices failed (health): 10%, more than 0%")
    busy = judge_wave(Tally(size=40, succeeded=8, failed={BUSY: 3}), GUARDED)
    assert busy.verdict is Verdict.WAIT  # 3 of 11 busy: 27 %, under busy's 50 %; the general rate ignores busy
    too_busy = judge_wave(Tally(size=40, succeeded=2, failed={BUSY: 3}), GUARDED)
    assert too_busy.verdict is Verdict.PAUSE  # 3 of 5, over 50 %, with busy's own min_devices of 4


def test_abort_wins_over_pause_when_both_trip() -> None:
    """A wave that trips a pause threshold and an abort threshold aborts."""
    decision = judge_wave(Tally(size=20, succeeded=6, failed={HEALTH: 2, REJECTED: 3}), GUARDED)
    assert decision.verdict is Verdict.ABORT


def test_a_finished_wave_continues_only_past_its_success_gate() -> None:
    """All finished: 19 of 20 (95 %) continue; 3 of 3 continue although min_devices is 5; 18 of 20 pause."""
    assert judge_wave(Tally(size=20, succeeded=19, failed={REJECTED: 1}), _no_failure_gate()).verdict \
        is Verdict.CONTINUE
    assert judge_wave(Tally(size=3, succeeded=3), GUARDED).verdict is Verdict.CONTINUE
    short = judge_wave(Tally(size=20, succeeded=18, failed={REJECTED: 2}), _no_failure_gate())
    assert (short.verdict, short.reason) == (Verdict.PAUSE, "18 of 20 devices succeeded (90%); 95% needed")
    few = judge_wave(Tally(size=8, succeeded=4, failed={TIMEOUT: 4}), _no_failure_gate(min_rate="0%"))
    assert (few.verdict, few.reason) == (Verdict.PAUSE, "4 of 8 devices succeeded; 5 needed")


def test_the_first_failed_canary_pauses_with_max_rate_and_one_device() -> None:
    """`max_rate: 0%, min_devices: 1, action: pause`: the first failure pauses the canary wave."""
    strategy = StrategySpec.model_validate({"waves": ["canary", "100%"],
                                            "failure": {"max_rate": "0%", "min_devices": 1, "action": "pause"}})
    assert judge_wave(Tally(size=12, succeeded=5), strategy).verdict is Verdict.WAIT
    assert judge_wave(Tally(size=12, succeeded=5, failed={REJECTED: 1}), strategy).verdict is Verdict.PAUSE


def test_without_gates_a_wave_continues_whatever_failed() -> None:
    """The default policy has no gates: a finished wave continues even with failures (as applying did)."""
    strategy = DEFAULT_POLICY.strategies["default"]
    assert judge_wave(Tally(size=10, succeeded=1, failed={UNREACHABLE: 9}), strategy).verdict is Verdict.CONTINUE
    assert judge_wave(Tally(size=0), GUARDED).verdict is Verdict.CONTINUE


def test_a_global_wave_takes_the_strongest_verdict_of_its_strategies() -> None:
    """One strategy still running and one paused: the wave pauses, and the reason names the strategy."""
    both = policy("""\
strategies:
  default: {failure: {max_rate: 0%}}
  lab: {}
assign: [{groups: [lab], strategy: lab}]
""")
    decision = judge_strategies({"lab": Tally(size=5, succeeded=1), "default": Tally(size=9, failed={BUSY: 1})},
                                both)
    assert (decision.verdict, decision.reason) == (
        Verdict.PAUSE, "strategy 'default': 1 of 1 finished devices failed: 100%, more than 0%")
    assert judge_strategies({}, both).verdict is Verdict.CONTINUE


def _no_failure_gate(min_rate: str = "95%") -> StrategySpec:
    return StrategySpec.model_validate({"success": {"min_devices": 5, "min_rate": min_rate}})

