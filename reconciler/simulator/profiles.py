"""Behaviour profiles: how slow, flaky and picky the simulated fleet is, reproducible for a seed.

Where it sits: `command.py` builds a `Behaviour` from `--profile` and the knobs that override it;
`routers.py` gives every router its own `Stream`s seeded from (seed, serial) and the server draws
from them per API call (latency, 503) and per reboot (its duration). Because each router draws
only from its own streams, the order in which concurrent clients reach routers cannot change
what any router does: the same seed gives the same offline set and the same 503 sequence.

    perfect    no latency, nothing offline, no 503, reboots take `--reboot-seconds` (default 2 s)
    realistic  latency lognormal around 30 ms (at most 2 s), 2 % of routers offline at start,
               2 % of API calls busy, reboots 20–60 s, MRO-L200 rejects interfaces.wwan1.lte_network_mode

Neither profile breaks a router (`rules.Break`, `--break`) or reverts a change by itself
(`revert_seconds`, `--revert-seconds`): both are knobs only.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field, replace
from statistics import NormalDist

from reconciler.simulator.rules import Break, glob_regex

PROFILES = ("perfect", "realistic")
_MASK = (1 << 64) - 1
_STANDARD_NORMAL = NormalDist()


@dataclass(frozen=True)
class Rejection:
    """A model refusing the keys a glob matches (`*` is any text; everything else literal)."""

    model: str
    glob: str

    @classmethod
    def parse(cls, text: str) -> Rejection:
        """`MODEL=KEYGLOB` as given to `--reject`; raises ValueError."""
        model, equals, glob = text.partition("=")
        if not equals or not model.strip() or not glob.strip():
            raise ValueError(f"expected MODEL=KEYGLOB, got {text!r}")
        return cls(model.strip(), glob.strip())

    def pattern(self) -> str:
        """Regular expression text of the glob (`*` any text; brackets are literal: keys carry `[n]`)."""
        return glob_regex(self.glob)


@dataclass(frozen=True)
class Behaviour:
    """The knobs of a profile; seconds throughout."""

    name: str = "perfect"
    latency_median: float = 0.0
    latency_sigma: float = 0.6
    latency_cap: float = 2.0
    offline_share: float = 0.0
    busy_share: float = 0.0
    reboot_seconds: tuple[float, float] = (2.0, 2.0)
    rejections: tuple[Rejection, ...] = ()
    breaks: tuple[Break, ...] = ()
    # A change through the API that takes a router's WAN down is undone after this long if the WAN is
    # still down (a confirm timer nobody confirmed, as NAPALM's `revert_in`); None: never.
    revert_seconds: float | None = None
    _matchers: dict[str, re.Pattern[str]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_model: dict[str, list[str]] = {}
        for rejection in self.rejections:
            by_model.setdefault(rejection.model, []).append(rejection.pattern())
        self._matchers.update({model: re.compile("|".join(parts)) for model, parts in by_model.items()})

    def rejects(self, model: str, key: str) -> bool:
        """Whether a router of `model` refuses the canonical `key`."""
        matcher = self._matchers.get(model)
        return matcher is not None and matcher.fullmatch(key) is not None

    @property
    def draws_per_call(self) -> bool:
        """Whether an API call needs random draws at all (not in the perfect profile)."""
        return self.latency_median > 0 or self.busy_share > 0


def behaviour(
    profile: str,
    *,
    latency_ms: float | None = None,
    offline_share: float | None = None,
    busy_share: float | None = None,
    reboot_seconds: float | None = None,
    rejections: tuple[Rejection, ...] | None = None,
    breaks: tuple[Break, ...] | None = None,
    revert_seconds: float | None = None,
) -> Behaviour:
    """The named profile with the given knobs overriding it; raises ValueError for a bad value."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r} (choose {' or '.join(PROFILES)})")
    base = _realistic() if profile == "realistic" else Behaviour()
    reboot = base.reboot_seconds
    if reboot_seconds is not None:
        seconds = _at_least_zero("--reboot-seconds", reboot_seconds)
        reboot = (seconds, seconds)
    return replace(
        base,
        latency_median=base.latency_median if latency_ms is None else _at_least_zero("--latency-ms", latency_ms) / 1000,
        offline_share=base.offline_share if offline_share is None else _share("--offline-share", offline_share),
        busy_share=base.busy_share if busy_share is None else _share("--busy-share", busy_share),
        reboot_seconds=reboot,
        rejections=base.rejections if rejections is None else rejections,
        breaks=base.breaks if breaks is None else breaks,
        revert_seconds=None if revert_seconds is None else _at_least_zero("--revert-seconds", revert_seconds),
    )


def _realistic() -> Behaviour:
    return Behaviour(
        name="realistic",
        latency_median=0.030,
        offline_share=0.02,
        busy_share=0.02,
        reboot_seconds=(20.0, 60.0),
        rejections=(Rejection("MRO-L200", "interfaces.wwan1.lte_network_mode"),),
    )


def _share(option: str, value: float) -> float:
    if not 0 <= value <= 1:
        raise ValueError(f"{option} must be between 0 and 1, got {value}")
    return value


def _at_least_zero(option: str, value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{option} must be a number of at least 0, got {value}")
    return value


class Stream:
    """A router's own random numbers (SplitMix64): small, and seeded from (seed, serial, purpose)."""

    __slots__ = ("state",)

    def __init__(self, seed: int, serial: str, purpose: str) -> None:
        digest = hashlib.sha256(f"{seed}\0{serial}\0{purpose}".encode()).digest()
        self.state = int.from_bytes(digest[:8], "big")

    def random(self) -> float:
        """The next number in [0, 1)."""
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return ((z ^ (z >> 31)) >> 11) / (1 << 53)

    def latency(self, behaviour: Behaviour) -> float:
        """One request's latency: lognormal around the median, clipped at the cap."""
        if behaviour.latency_median <= 0:
            return 0.0
        # inv_cdf needs (0, 1): shift the draw off zero by half a step.
        normal = _STANDARD_NORMAL.inv_cdf(self.random() + 2.0**-54)
        return min(behaviour.latency_cap, behaviour.latency_median * math.exp(behaviour.latency_sigma * normal))

    def busy(self, behaviour: Behaviour) -> bool:
        """Whether this call answers 503."""
        return behaviour.busy_share > 0 and self.random() < behaviour.busy_share

    def reboot_seconds(self, behaviour: Behaviour) -> float:
        """How long this reboot takes."""
        low, high = behaviour.reboot_seconds
        return low if high <= low else low + (high - low) * self.random()
