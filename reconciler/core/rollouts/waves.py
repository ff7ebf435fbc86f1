"""Waves: which wave each device that changes is in, with balanced canaries.

Where it sits: the rollout engine (and its preview) calls `plan_waves` with the devices a
revision changes; `timing` and `previews` take the waves from here. Membership is a function of
the revision, the policy and the set of devices that change, nothing else: never of the clock,
of open windows or of the order devices come in, so a preview is exactly what an apply does.

Each strategy splits its own devices (`split_waves`); wave k of every strategy together is the
global wave k, so wave 1 is the canary phase of the whole change. Devices are ordered by a hash
of (revision, name) rather than at random: the same revision always gives the same waves, and
another revision reshuffles them. Within a strategy, devices fall into combinations along its
`balance_by` dimensions (model × site by default); a canary takes the first device of every
combination, and every wave then takes from each combination in proportion to what it has left
(largest remainders, ties in the combinations' hash order).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from reconciler.core.fleets import Device
from reconciler.core.models.rollouts import Canary, Dimension, Percent, RolloutsFile, StrategySpec, WaveStep
from reconciler.core.rollouts.assigning import strategy_of

Combination = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Member:
    """A device of a wave and the strategy it follows."""

    device: str
    strategy: str


@dataclass(frozen=True, slots=True)
class Wave:
    """Global wave `index` (1-based): its devices in the order they are meant to start."""

    index: int
    members: tuple[Member, ...]

    @property
    def devices(self) -> tuple[str, ...]:
        return tuple(member.device for member in self.members)

    def strategies(self) -> dict[str, str]:
        """Device name → the strategy it follows."""
        return {member.device: member.strategy for member in self.members}


def plan_waves(devices: Iterable[Device], policy: RolloutsFile, revision: str) -> tuple[Wave, ...]:
    """A purely computational function: the global waves of the devices that change in `revision`.

    Every device is in exactly one wave; waves with no device at all (every strategy ran out) are
    left out, so the last wave has devices.
    """
    by_strategy: dict[str, list[Device]] = {}
    for device in devices:
        name, _ = strategy_of(device, policy)
        by_strategy.setdefault(name, []).append(device)
    columns = {name: split_waves(members, policy.strategies[name], revision) for name, members in by_strategy.items()}
    depth = max((len(waves) for waves in columns.values()), default=0)
    result = []
    for index in range(depth):
        members = [Member(device.name, name) for name, waves in columns.items()
                   if index < len(waves) for device in waves[index]]
        if members:
            members.sort(key=lambda m: rank(revision, m.device))
            result.append(Wave(index + 1, tuple(members)))
    return tuple(result)


def split_waves(devices: Sequence[Device], strategy: StrategySpec, revision: str) -> list[tuple[Device, ...]]:
    """One strategy's devices, wave by wave (as many waves as the strategy has steps; the last takes the rest)."""
    pools = _pools(devices, strategy.balance_by, revision)
    sizes = wave_sizes(len(devices), strategy.waves, len(pools), canary=strategy.has_canary)
    waves = []
    for index, size in enumerate(sizes):
        taken: list[Device] = []
        if index == 0 and strategy.has_canary:
            taken = [pool.pop(0) for pool in pools.values()]  # one of every combination first
        taken.extend(_proportional(pools, size - len(taken)))
        waves.append(tuple(sorted(taken, key=lambda d: rank(revision, d.name))))
    return waves


def wave_sizes(count: int, steps: Sequence[WaveStep], combinations: int, *, canary: bool) -> list[int]:
    """How many of `count` devices each step takes.

    A count is absolute, a percentage is of `count` rounded up; either takes at least one device
    while some are left and never more than are left. The last step takes the rest. A canary
    step takes one device of each of the `combinations`; with `canary`, the first wave takes at
    least that many whatever its step says.
    """
    sizes, left = [], count
    for index, step in enumerate(steps):
        if index == len(steps) - 1:
            size = left
        elif isinstance(step, Canary):
            size = combinations
        elif isinstance(step, Percent):
            size = step.of(count)
        else:
            size = step
        if index == 0 and canary:
            size = max(size, combinations)
        size = min(size, left)
        sizes.append(size)
        left -= size
    return sizes


def combination(device: Device, dimensions: Sequence[Dimension]) -> Combination:
    """The device's value along each dimension ('' where it has none: no site, no template)."""
    values = {
        Dimension.MODEL: device.model,
        Dimension.SITE: device.site.name if device.site is not None else "",
        Dimension.TEMPLATE: device.template or "",
        Dimension.FIRMWARE: device.firmware or "",
    }
    return tuple(values[dimension] for dimension in dimensions)


def rank(revision: str, name: str) -> tuple[bytes, str]:
    """Where a device stands in the revision's order: a stable hash, the same in every process."""
    return hashlib.sha256(f"{revision}\x00{name}".encode()).digest()[:16], name


def _pools(devices: Sequence[Device], dimensions: Sequence[Dimension],
           revision: str) -> dict[Combination, list[Device]]:
    """The devices of each combination in rank order; the combinations themselves in hash order."""
    pools: dict[Combination, list[Device]] = {}
    for device in sorted(devices, key=lambda d: rank(revision, d.name)):
        pools.setdefault(combination(device, dimensions), []).append(device)
    order = sorted(pools, key=lambda key: rank(revision, "\x1f".join(key)))
    return {key: pools[key] for key in order}


def _proportional(pools: Mapping[Combination, list[Device]], size: int) -> list[Device]:
    """Take `size` devices from the pools in proportion to what each has left (largest remainders)."""
    left = sum(len(pool) for pool in pools.values())
    if size <= 0 or left == 0:
        return []
    shares = {key: divmod(size * len(pool), left) for key, pool in pools.items()}
    spare = size - sum(whole for whole, _ in shares.values())
    order = sorted(pools, key=lambda key: -shares[key][1])  # stable: ties keep the combinations' order
    extra = set(order[:spare])
    taken: list[Device] = []
    for key, pool in pools.items():
        count = shares[key][0] + (key in extra)
        taken.extend(pool[:count])
        del pool[:count]
    return taken
