"""Strategy per device: the first `assign` rule that matches (by group, site or tag, in file order) names it,
else `default`; a fleet without rollouts.yaml, or a file without strategies, goes out in one ungated wave."""

from __future__ import annotations

import pytest

from reconciler.core.fleets import Device
from reconciler.core.models.rollouts import DEFAULT_POLICY, FULL, FailureType
from reconciler.core.rollouts.assigning import strategy_of
from reconciler.core.rollouts.gates import Tally, Verdict, judge_wave
from reconciler.core.rollouts.waves import plan_waves
from tests.core.rollouts.fleetparts import device, policy

RULES = policy("""\
strategies:
  default: {}
  lab: {}
  cranes: {}
  newark: {}
assign:
  - {groups: [lab], strategy: lab}
  - {tags: [crane], strategy: cranes}
  - {sites: [newark], strategy: newark}
""")


@pytest.mark.parametrize(("router", "expected"), [
    (device("a"), "default"),
    (device("b", groups=("europe", "lab")), "lab"),
    (device("c", tags=("crane",)), "cranes"),
    (device("d", site_name="newark"), "newark"),
    (device("e", site_name="newark", tags=("crane",), groups=("lab",)), "lab"),  # the first rule wins
    (device("f", site_name="newark", tags=("crane",)), "cranes"),
    (device("g", site_name=None), "default"),
])
def test_the_first_matching_rule_names_the_strategy(router: Device, expected: str) -> None:
    """Rules match by any of their groups, sites or tags; the first one in file order wins; else default."""
    name, spec = strategy_of(router, RULES)
    assert name == expected and spec is RULES.strategies[expected]


def test_a_policy_that_did_not_pass_validation_is_refused_rather_than_guessed() -> None:
    """Without `default` and without a matching rule there is no strategy: a ValueError, never a silent one."""
    partial = policy("strategies:\n  lab: {}\nassign: [{groups: [lab], strategy: lab}]\n")
    with pytest.raises(ValueError, match="'outside': no strategy"):
        strategy_of(device("outside"), partial)


def test_without_rollouts_yaml_every_device_goes_out_in_one_ungated_wave() -> None:
    """The default policy: one wave of every device that changes, no windows, no gate that stops it."""
    devices = [device(f"r{i}", model=["MRX5 LTE", "MRX6 DSL"][i % 2], site_name=["berlin", "dubai"][i % 2])
               for i in range(25)]
    (wave,) = plan_waves(devices, DEFAULT_POLICY, "rev")
    assert sorted(wave.devices) == sorted(d.name for d in devices)
    strategy = DEFAULT_POLICY.strategies["default"]
    assert (strategy.waves, strategy.has_canary, DEFAULT_POLICY.windows) == ([FULL], False, [])
    assert judge_wave(Tally(size=25, succeeded=5, failed={}), strategy).verdict is Verdict.WAIT
    assert judge_wave(Tally(size=1, succeeded=0, failed={FailureType.REJECTED: 1}), strategy).verdict \
        is Verdict.CONTINUE


def test_a_file_with_only_windows_keeps_the_default_strategy() -> None:
    """rollouts.yaml with windows and no strategies: devices follow the built-in one-wave default."""
    windows_only = policy("windows:\n  - {name: night, schedule: \"0 1 * * *\", duration: 4h}\n")
    assert windows_only.strategies == DEFAULT_POLICY.strategies
    assert strategy_of(device("a"), windows_only)[0] == "default"


def test_retries_come_from_the_strategy_else_from_the_fleets_management_settings() -> None:
    """`retries: {busy: 5}` gives busy 5; unreachable keeps management.retries; other types none by default."""
    strategy = policy("strategies:\n  default: {retries: {busy: 5, rejected: 1}}\n").strategies["default"]
    assert strategy.retries_for(FailureType.BUSY, 4) == 5
    assert strategy.retries_for(FailureType.UNREACHABLE, 4) == 4
    assert strategy.retries_for(FailureType.REJECTED, 4) == 1
    assert strategy.retries_for(FailureType.TIMEOUT, 4) == 0
