"""Gates: a wave's results so far against its strategy's thresholds: continue, wait, pause or abort.

Where it sits: the rollout engine counts the outcomes of each wave's devices (a `Tally` per
strategy) and asks `judge_wave` after every outcome; `judge_strategies` combines the strategies
of one global wave. The thresholds come from `models.rollouts` (`success`, `failure`), in the
manner of managed IoT job services' abort configurations: a failure rate only counts once a
minimum number of devices has finished, and a threshold per failure type replaces the general
one for failures of that type.

Order of judgement: a tripped failure threshold stops the wave at once (abort over pause), even
while devices are still running; otherwise the wave waits until every device has finished; then
the success gate decides between continuing and pausing. Devices the engine skips (superseded by
a newer revision, say) are not part of the tally's size.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import IntEnum

from reconciler.core.models.rollouts import (
    FailureAction,
    FailureGate,
    FailureType,
    Percent,
    RolloutsFile,
    StrategySpec,
    SuccessGate,
)


class Verdict(IntEnum):
    """What the engine does next; a larger value is the stronger verdict (`judge_strategies` keeps it)."""

    CONTINUE = 0  # the wave passed its gates: the next wave may start (after soak and approval)
    WAIT = 1  # devices are still running and nothing tripped yet
    PAUSE = 2  # stop starting devices until an operator resumes
    ABORT = 3  # stop the rollout for good

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Tally:
    """Outcomes of one wave's devices (of one strategy) so far."""

    size: int  # devices in the wave
    succeeded: int = 0
    failed: Mapping[FailureType, int] = field(default_factory=dict)

    @property
    def failures(self) -> int:
        return sum(self.failed.values())

    @property
    def finished(self) -> int:
        return self.succeeded + self.failures


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    reason: str


def judge_wave(tally: Tally, strategy: StrategySpec) -> Decision:
    """A purely computational function: what the wave's results so far call for."""
    tripped = max(_tripped(tally, strategy.failure), default=None, key=lambda d: d.verdict)
    if tripped is not None:
        return tripped
    if tally.finished < tally.size:
        return Decision(Verdict.WAIT, f"{tally.finished} of {tally.size} devices finished")
    return _judge_success(tally, strategy.success)


def judge_strategies(tallies: Mapping[str, Tally], policy: RolloutsFile) -> Decision:
    """One global wave: each strategy's part judged by its own gates; the strongest verdict wins.

    Among equal verdicts the first strategy's reason is kept; every reason names its strategy.
    """
    decisions = [(name, judge_wave(tally, policy.strategies[name])) for name, tally in tallies.items()]
    if not decisions:
        return Decision(Verdict.CONTINUE, "no devices in this wave")
    name, strongest = max(decisions, key=lambda pair: pair[1].verdict)  # max keeps the first of equals
    return Decision(strongest.verdict, f"strategy {name!r}: {strongest.reason}")


def _tripped(tally: Tally, gate: FailureGate | None) -> Iterator[Decision]:
    if gate is None:
        return
    finished = tally.finished
    for failure_type, rule in gate.by_type.items():
        count = tally.failed.get(failure_type, 0)
        minimum = rule.min_devices or gate.min_devices
        if finished >= minimum and rule.max_rate.exceeded_by(count, finished):
            yield _stop(rule.action or gate.action, f" ({failure_type})", count, finished, rule.max_rate)
    if gate.max_rate is not None and finished >= gate.min_devices:
        # failures of a type with its own threshold are judged by that threshold only
        count = sum(n for failure_type, n in tally.failed.items() if failure_type not in gate.by_type)
        if gate.max_rate.exceeded_by(count, finished):
            yield _stop(gate.action, "", count, finished, gate.max_rate)


def _stop(action: FailureAction, kind: str, count: int, finished: int, limit: Percent) -> Decision:
    verdict = Verdict.ABORT if action is FailureAction.ABORT else Verdict.PAUSE
    return Decision(verdict, f"{count} of {finished} finished devices failed{kind}: {_share(count, finished)}, "
                             f"more than {limit}")


def _judge_success(tally: Tally, gate: SuccessGate | None) -> Decision:
    done = f"{tally.succeeded} of {tally.size} devices succeeded"
    if gate is None or tally.size == 0:
        return Decision(Verdict.CONTINUE, done)
    needed = min(gate.min_devices, tally.size)  # a wave smaller than min_devices needs all of its devices
    if tally.succeeded < needed:
        return Decision(Verdict.PAUSE, f"{done}; {needed} needed")
    if not gate.min_rate.reached_by(tally.succeeded, tally.finished):
        return Decision(Verdict.PAUSE, f"{done} ({_share(tally.succeeded, tally.finished)}); "
                                       f"{gate.min_rate} needed")
    return Decision(Verdict.CONTINUE, done)


def _share(part: int, whole: int) -> str:
    return f"{part * 100 / whole:.3g}%" if whole else "0%"
