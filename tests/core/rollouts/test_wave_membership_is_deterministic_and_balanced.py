"""Wave membership: every changing device in exactly one wave, sizes as the policy says, canaries covering
every combination, later waves in proportion, independent of input order and of anything but the revision."""

from __future__ import annotations

import math
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.core.fleets import Device
from reconciler.core.models.rollouts import Canary, Dimension, Percent, StrategySpec
from reconciler.core.rollouts.waves import combination, plan_waves, split_waves, wave_sizes
from tests.core.rollouts.fleetparts import device, policy

MODELS = ["MRX5 LTE", "MRX6 DSL", "MRX3 LTE", "SCR LTE"]
SITES = ["berlin", "hamburg", "newark", "dubai"]

CANARY_POLICY = policy("""\
strategies:
  default:
    waves: [canary, 10%, 3, 50%, 100%]
""")


@st.composite
def fleets(draw: st.DrawFn) -> list[Device]:
    """Up to 120 devices with distinct names over a few models and sites."""
    count = draw(st.integers(min_value=0, max_value=120))
    models = draw(st.lists(st.sampled_from(MODELS), min_size=1, max_size=4, unique=True))
    sites = draw(st.lists(st.sampled_from(SITES), min_size=1, max_size=4, unique=True))
    return [device(f"r{index:03d}", model=draw(st.sampled_from(models)), site_name=draw(st.sampled_from(sites)))
            for index in range(count)]


def expected_sizes(count: int, steps: list[str | int], combinations: int) -> list[int]:
    """The wave sizes docs/rollouts.md describes, computed the long way round."""
    sizes, left = [], count
    for index, step in enumerate(steps):
        if index == len(steps) - 1:
            want = left
        elif step == "canary":
            want = combinations
        elif isinstance(step, str):
            want = math.ceil(count * float(step.rstrip("%")) / 100)
        else:
            want = step
        sizes.append(min(want, left))
        left -= sizes[-1]
    return sizes


@settings(max_examples=150, deadline=None)
@given(fleets(), st.text(min_size=1, max_size=12))
def test_every_device_is_in_exactly_one_wave_of_the_planned_size(devices: list[Device], revision: str) -> None:
    """The waves partition the devices, with the sizes of canary, 10 %, 3, 50 % and the rest."""
    waves = plan_waves(devices, CANARY_POLICY, revision)
    names = [name for wave in waves for name in wave.devices]
    assert sorted(names) == sorted(d.name for d in devices)
    combos = len({(d.model, d.site.name if d.site else "") for d in devices})
    sizes = [s for s in expected_sizes(len(devices), ["canary", "10%", 3, "50%", "100%"], combos) if s]
    assert [len(wave.devices) for wave in waves] == sizes
    assert [wave.index for wave in waves] == list(range(1, len(waves) + 1))


@settings(max_examples=150, deadline=None)
@given(fleets(), st.text(min_size=1, max_size=12))
def test_the_canary_holds_a_device_of_every_model_and_site_that_changes(devices: list[Device], revision: str) -> None:
    """Wave 1 has at least one device of every model × site combination among the devices that change."""
    waves = plan_waves(devices, CANARY_POLICY, revision)
    by_name = {d.name: d for d in devices}
    everything = {combination(d, [Dimension.MODEL, Dimension.SITE]) for d in devices}
    canary = {combination(by_name[name], [Dimension.MODEL, Dimension.SITE]) for name in waves[0].devices} \
        if waves else set()
    assert canary == everything


@settings(max_examples=100, deadline=None)
@given(fleets(), st.randoms(use_true_random=False), st.text(min_size=1, max_size=12))
def test_membership_does_not_depend_on_the_order_devices_come_in(devices: list[Device], shuffler: object,
                                                                 revision: str) -> None:
    """Shuffling the input changes nothing: the same waves, the same order within them."""
    shuffled = list(devices)
    shuffler.shuffle(shuffled)  # type: ignore[attr-defined]
    assert plan_waves(shuffled, CANARY_POLICY, revision) == plan_waves(devices, CANARY_POLICY, revision)


@settings(max_examples=100, deadline=None)
@given(fleets(), st.integers(min_value=1, max_value=60), st.text(min_size=1, max_size=12))
def test_later_waves_take_each_combination_in_proportion(devices: list[Device], percent: int, revision: str) -> None:
    """A non-canary wave takes from each combination within one device of its exact share of what is left."""
    strategy = StrategySpec.model_validate({"waves": [f"{percent}%", "100%"]})
    first, _ = split_waves(devices, strategy, revision)
    left = Counter(combination(d, strategy.balance_by) for d in devices)
    taken = Counter(combination(d, strategy.balance_by) for d in first)
    for key, count in left.items():
        exact = len(first) * count / len(devices)
        assert abs(taken[key] - exact) < 1


def test_another_revision_reshuffles_the_waves_but_keeps_their_shape() -> None:
    """Two revisions put different devices in the canary; both canaries cover every combination, same sizes."""
    devices = [device(f"r{i:02d}", model=MODELS[i % 2], site_name=SITES[i % 3]) for i in range(60)]
    one, two = plan_waves(devices, CANARY_POLICY, "rev-a"), plan_waves(devices, CANARY_POLICY, "rev-b")
    assert [len(w.devices) for w in one] == [len(w.devices) for w in two] == [6, 6, 3, 30, 15]
    assert set(one[0].devices) != set(two[0].devices)
    by_name = {d.name: d for d in devices}
    for canary in (one[0], two[0]):
        assert {(by_name[n].model, by_name[n].site) for n in canary.devices} == {(d.model, d.site) for d in devices}
    assert one == plan_waves(devices, CANARY_POLICY, "rev-a")


def test_wave_sizes_round_percentages_up_and_give_the_last_wave_the_rest() -> None:
    """5 % of 30 is 2 (rounded up), a count is absolute, a step never takes more than is left, the last the rest."""
    steps = [Percent(500), 10, Percent(5000), Percent(10_000)]
    assert wave_sizes(30, steps, 4, canary=False) == [2, 10, 15, 3]
    assert wave_sizes(3, steps, 1, canary=False) == [1, 2, 0, 0]
    assert wave_sizes(0, steps, 0, canary=False) == [0, 0, 0, 0]


def test_a_canary_grows_to_the_size_of_its_step() -> None:
    """With a `canary:` block and a first step of 20 %, wave 1 covers every combination, then takes 20 %."""
    strategy = StrategySpec.model_validate({"waves": ["20%", "100%"], "canary": {"balance_by": ["model"]}})
    devices = [device(f"r{i:02d}", model="MRX6 DSL" if i == 7 else "MRX5 LTE") for i in range(40)]
    first, rest = split_waves(devices, strategy, "rev")
    assert len(first) == 8 and len(rest) == 32
    assert {d.model for d in first} == {"MRX5 LTE", "MRX6 DSL"}
    assert wave_sizes(40, [Canary(), Percent(10_000)], 50, canary=True) == [40, 0]


def test_a_canary_balances_by_template_and_firmware_when_asked() -> None:
    """`balance_by: [template, firmware]` puts one device of each template × firmware pair in the canary."""
    strategy = StrategySpec.model_validate({"waves": ["canary", "100%"],
                                            "canary": {"balance_by": ["template", "firmware"]}})
    devices = [device(f"r{i:02d}", template=["base", "lte"][i % 2], firmware=["10.4", "10.6", None][i % 3])
               for i in range(30)]
    first, _ = split_waves(devices, strategy, "rev")
    assert len(first) == 6
    assert {(d.template, d.firmware) for d in first} == {(d.template, d.firmware) for d in devices}


def test_waves_of_different_strategies_run_together() -> None:
    """Wave k of each strategy is global wave k: the canary phase holds both strategies' canaries."""
    both = policy("""\
strategies:
  default: {waves: [canary, 100%]}
  lab: {waves: [2, 2, 100%]}
assign:
  - {groups: [lab], strategy: lab}
""")
    devices = [device(f"p{i}", site_name=SITES[i % 2]) for i in range(10)]
    devices += [device(f"l{i}", groups=("lab",)) for i in range(7)]
    waves = plan_waves(devices, both, "rev")
    strategies = [Counter(wave.strategies().values()) for wave in waves]
    assert strategies == [Counter(default=2, lab=2), Counter(default=8, lab=2), Counter(lab=3)]
