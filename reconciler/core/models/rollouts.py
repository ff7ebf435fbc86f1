"""`rollouts.yaml`: how a change goes out (strategies) and when devices may be changed (windows).

Where it sits: `loading` validates the file against `RolloutsFile`; `rolloutchecks` checks its
names against the fleet and hands the policy on as `Fleet.rollouts`; `core.rollouts` plans waves,
windows, gates and timing from it. A fleet without the file gets `DEFAULT_POLICY`: one wave, no
windows, no gates (what applying did before rollouts existed). The scalar values of the format
(`25%`, `600/min`, `canary`) are parsed here into `Percent`, `Rate` and `Canary`, so nothing
downstream handles strings.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from reconciler.core.models.common import Duration, Name, Spec, Tag, Text, format_duration
from reconciler.core.rollouts.schedules import schedule_problem

DEFAULT_STRATEGY = "default"

# --- scalar values ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class Percent:
    """A percentage with up to two decimals, kept exact as hundredths of a percent (250 = 2.5 %)."""

    hundredths: int

    def of(self, count: int) -> int:
        """This share of `count`, rounded up (integer arithmetic: 5 % of 20 is exactly 1)."""
        return -(-count * self.hundredths // 10_000)

    def exceeded_by(self, part: int, whole: int) -> bool:
        """Whether part/whole is more than this percentage (never, for an empty whole)."""
        return whole > 0 and part * 10_000 > self.hundredths * whole

    def reached_by(self, part: int, whole: int) -> bool:
        """Whether part/whole is at least this percentage (an empty whole reaches only 0 %)."""
        return part * 10_000 >= self.hundredths * whole if whole > 0 else self.hundredths == 0

    def __str__(self) -> str:
        whole, rest = divmod(self.hundredths, 100)
        return f"{whole}%" if rest == 0 else f"{whole}.{rest:02d}".rstrip("0") + "%"


_PERCENT = re.compile(r"^(\d{1,3})(?:\.(\d{1,2}))?%$")


def parse_percent(value: Any) -> Percent:
    """'95%', '2.5%' → Percent; 0 % to 100 %."""
    match = _PERCENT.match(value) if isinstance(value, str) else None
    if match is None:
        raise PydanticCustomError("percent", "expected a percentage such as '5%' or '2.5%', got {v}",
                                  {"v": repr(value)})
    hundredths = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    if hundredths > 10_000:
        raise PydanticCustomError("percent", "a percentage is at most 100%, got {v}", {"v": value})
    return Percent(hundredths)


PercentField = Annotated[
    Percent,
    PlainValidator(parse_percent),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": _PERCENT.pattern, "examples": ["95%", "2.5%"]}),
]


@dataclass(frozen=True, slots=True)
class Canary:
    """The wave step `canary`: one device of every combination that changes (see `CanarySpec`)."""

    def __str__(self) -> str:
        return "canary"


CANARY = Canary()
WaveStep = Canary | Percent | int
MAX_COUNT = 1_000_000


def parse_wave_step(value: Any) -> WaveStep:
    """`canary`, a count (5) or a percentage of the strategy's devices that change (1 % to 100 %)."""
    if value == "canary":
        return CANARY
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= MAX_COUNT:
            raise PydanticCustomError("wave", "a wave of {v} devices: counts go from 1 to 1,000,000", {"v": value})
        return value
    if isinstance(value, str) and _PERCENT.match(value):
        percent = parse_percent(value)
        if percent.hundredths < 100:
            raise PydanticCustomError("wave", "a wave of {v}: percentages go from 1% to 100%", {"v": value})
        return percent
    raise PydanticCustomError("wave", "expected a count (5), a percentage ('25%') or 'canary', got {v}",
                              {"v": repr(value)})


def _format_wave_step(step: WaveStep) -> str | int:
    return step if isinstance(step, int) else str(step)


WaveStepField = Annotated[
    WaveStep,
    PlainValidator(parse_wave_step),
    PlainSerializer(_format_wave_step),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1, "maximum": MAX_COUNT},
                              {"type": "string", "pattern": r"^(?:canary|\d{1,3}(?:\.\d{1,2})?%)$"}],
                    "examples": ["canary", 5, "25%"]}),
]
FULL = Percent(10_000)


@dataclass(frozen=True, slots=True)
class Rate:
    """At most `count` routers started per `per` (600/min)."""

    count: int
    per: dt.timedelta

    @property
    def interval(self) -> dt.timedelta:
        """The time between two starts at this rate."""
        return self.per / self.count

    def __str__(self) -> str:
        unit = {60: "min", 3600: "h"}.get(int(self.per.total_seconds()), "s")
        return f"{self.count}/{unit}"


_RATE = re.compile(r"^(\d{1,7})/(s|min|h)$")
_UNITS = {"s": dt.timedelta(seconds=1), "min": dt.timedelta(minutes=1), "h": dt.timedelta(hours=1)}


def parse_rate(value: Any) -> Rate:
    """'600/min', '10/s', '2000/h' → Rate."""
    match = _RATE.match(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) == 0:
        raise PydanticCustomError("rate", "expected a rate such as '600/min', '10/s' or '2000/h', got {v}",
                                  {"v": repr(value)})
    return Rate(int(match.group(1)), _UNITS[match.group(2)])


RateField = Annotated[
    Rate,
    PlainValidator(parse_rate),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": _RATE.pattern, "examples": ["600/min"]}),
]


def _check_schedule(value: str) -> str:
    problem = schedule_problem(value)
    if problem is not None:
        raise PydanticCustomError("schedule", "{v}: {problem}", {"v": repr(value), "problem": problem})
    return value


Schedule = Annotated[
    str,
    Field(min_length=1, max_length=120, description="cron (minute hour day-of-month month day-of-week) in the "
          "device's site time zone, e.g. '0 1 * * *' or '0 17 * * 2#1' (first Tuesday, 17:00)"),
    AfterValidator(_check_schedule),
]


def _between(low: dt.timedelta, high: dt.timedelta) -> AfterValidator:
    """A duration from `low` to `high`, both included."""

    def check(value: dt.timedelta) -> dt.timedelta:
        if not low <= value <= high:
            raise PydanticCustomError("duration", "expected from {low} to {high}, got {v}",
                                      {"low": format_duration(low), "high": format_duration(high),
                                       "v": format_duration(value)})
        return value

    return AfterValidator(check)


MINUTE, DAY = dt.timedelta(minutes=1), dt.timedelta(days=1)

# --- strategies ----------------------------------------------------------------------------------


class Dimension(StrEnum):
    """What a balanced canary and the mix of later waves are balanced by."""

    MODEL = "model"
    SITE = "site"
    TEMPLATE = "template"
    FIRMWARE = "firmware"


class FailureType(StrEnum):
    """How a device's change can fail (the engine classifies each failure as one of these)."""

    REJECTED = "rejected"  # the router refused the change (configuration, firmware, packet)
    HEALTH = "health"  # changed, but it failed its health check within the deadline
    TIMEOUT = "timeout"  # no answer within device_timeout
    UNREACHABLE = "unreachable"  # could not be reached at all
    BUSY = "busy"  # the router said it is busy (503), even after the retries


class FailureAction(StrEnum):
    PAUSE = "pause"  # stop starting devices; an operator resumes, retries or aborts
    ABORT = "abort"  # stop for good: the devices not started are not changed


class ApprovalPoint(StrEnum):
    NONE = "none"
    BEFORE_START = "before-start"  # an operator approves before the first wave starts
    AFTER_CANARY = "after-canary"  # … before the second wave starts (the canary phase passed its gates)


class HealthCheck(StrEnum):
    """Named health checks; the engine knows how to ask a router for each."""

    MANAGEMENT = "management"  # the router answers its REST API again
    FIRMWARE = "firmware"  # it reports the firmware version the change wanted
    CONFIGURATION = "configuration"  # its configuration has no drift from the desired one
    WAN = "wan"  # its WAN uplink reports up


Lax = Field(strict=False)  # enums come from YAML as strings


class CanarySpec(Spec):
    """The first wave is a canary: at least one device of every combination that changes."""

    balance_by: list[Annotated[Dimension, Lax]] = Field(
        default=[Dimension.MODEL, Dimension.SITE], min_length=1, max_length=4,
        description="the dimensions whose combinations the canary covers and later waves keep in proportion",
    )

    @field_validator("balance_by")
    @classmethod
    def _distinct(cls, value: list[Dimension]) -> list[Dimension]:
        if len(set(value)) != len(value):
            raise PydanticCustomError("balance_by", "each dimension at most once")
        return value


class SuccessGate(Spec):
    """What a finished wave must reach before the next one starts (else the rollout pauses)."""

    min_devices: Annotated[int, Field(ge=0, le=MAX_COUNT)] = Field(
        default=0, description="devices of the wave that succeeded (at most the wave's size is asked)")
    min_rate: PercentField = Field(default=Percent(0), description="succeeded / finished devices of the wave")


class FailureRule(Spec):
    """The threshold of one failure type; what it leaves out comes from the general threshold."""

    max_rate: PercentField = Field(description="more failures of this type than this share of the finished "
                                   "devices trips the action")
    min_devices: Annotated[int, Field(ge=1, le=MAX_COUNT)] | None = None
    action: Annotated[FailureAction, Lax] | None = None


class FailureGate(Spec):
    """When failures stop a wave: more than `max_rate` failed once `min_devices` devices finished."""

    max_rate: PercentField | None = Field(default=None, description="failed / finished devices of the wave; "
                                          "none: only the thresholds by type apply")
    min_devices: Annotated[int, Field(ge=1, le=MAX_COUNT)] = Field(
        default=1, description="finished devices of the wave before the rate is judged")
    action: Annotated[FailureAction, Lax] = FailureAction.PAUSE
    by_type: dict[Annotated[FailureType, Lax], FailureRule] = Field(
        default={}, description="thresholds per failure type: rejected, health, timeout, unreachable, busy")


class StatusCheck(Spec):
    """A generic health check: a status key the router reports must have this value."""

    status: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+(?:\.[A-Za-z0-9_\[\]-]+)*$", max_length=256)]
    equals: Annotated[str, Field(max_length=256)] | int | bool


class HealthSpec(Spec):
    """What a changed router must show within `deadline` before it counts as succeeded."""

    deadline: Annotated[Duration, _between(dt.timedelta(seconds=10), DAY)] = Field(
        default=5 * MINUTE, description="time from the end of the change until every check passes")
    checks: list[Annotated[HealthCheck, Lax] | StatusCheck] = Field(
        default=[HealthCheck.MANAGEMENT], min_length=1, max_length=20,
        description="management, firmware, configuration, wan, or {status: KEY, equals: VALUE}")


class StrategySpec(Spec):
    """How the devices of a strategy are changed: waves, gates between them, pace, health, revert."""

    description: Text = ""
    waves: list[WaveStepField] = Field(
        default=[FULL], min_length=1, max_length=20,
        description="wave sizes: 'canary' (first only), counts or percentages of the strategy's devices that "
        "change; the last wave takes every device left and is written 100%")
    canary: CanarySpec | None = Field(
        default=None, description="makes the first wave a canary (implied by a first wave 'canary')")
    success: SuccessGate | None = None
    failure: FailureGate | None = None
    soak: Annotated[Duration, _between(dt.timedelta(0), 7 * DAY)] = Field(
        default=dt.timedelta(0), description="wait after a wave before the next one starts")
    rate: RateField | None = Field(default=None, description="at most this many routers started per unit")
    max_parallel: Annotated[int, Field(ge=1, le=2000)] | None = Field(
        default=None, description="routers changed at once (default: fleet.yaml management.max_parallel)")
    device_timeout: Annotated[Duration, _between(dt.timedelta(seconds=10), DAY)] | None = Field(
        default=None, description="how long one router's change may take (default: the management timeouts)")
    retries: dict[Annotated[FailureType, Lax], Annotated[int, Field(ge=0, le=10)]] = Field(
        default={}, description="retries by failure type (default: management.retries for busy and unreachable)")
    health: HealthSpec | None = None
    revert: bool = Field(default=False, description="a router that fails its health check goes back to its "
                         "last good state")
    approval: Annotated[ApprovalPoint, Lax] = ApprovalPoint.NONE

    @field_validator("waves")
    @classmethod
    def _waves_in_order(cls, waves: list[WaveStep]) -> list[WaveStep]:
        if any(isinstance(step, Canary) for step in waves[1:]):
            raise PydanticCustomError("waves", "'canary' can only be the first wave")
        if waves[-1] != FULL:
            raise PydanticCustomError("waves", "the last wave takes every device left: write 100% last, got {v}",
                                      {"v": _format_wave_step(waves[-1])})
        if FULL in waves[:-1]:
            raise PydanticCustomError("waves", "100% takes every device left: only the last wave can be 100%")
        return waves

    @property
    def has_canary(self) -> bool:
        """Whether the first wave covers every combination that changes."""
        return self.canary is not None or isinstance(self.waves[0], Canary)

    @property
    def balance_by(self) -> tuple[Dimension, ...]:
        return tuple((self.canary or CanarySpec()).balance_by)

    def retries_for(self, failure: FailureType, management_retries: int) -> int:
        """Retries of a failure of this type: the strategy's own, else fleet.yaml's `management.retries`
        for a busy or unreachable router (as before rollouts existed), else none."""
        if failure in self.retries:
            return self.retries[failure]
        return management_retries if failure in (FailureType.BUSY, FailureType.UNREACHABLE) else 0


# --- who and when ---------------------------------------------------------------------------------


class Targets(Spec):
    """Devices by group, site or tag: a device matches when any one of the given entries does."""

    groups: list[Name] = Field(default=[], max_length=500)
    sites: list[Name] = Field(default=[], max_length=500)
    tags: list[Tag] = Field(default=[], max_length=500)

    @model_validator(mode="after")
    def _names_something(self) -> Targets:
        if not (self.groups or self.sites or self.tags):
            raise PydanticCustomError("targets", "name at least one of groups, sites, tags")
        return self


class AssignRule(Targets):
    """Devices that follow `strategy` instead of the default; the first matching rule wins."""

    strategy: Name


class WindowSpec(Spec):
    """When the devices it applies to may be changed: from each start of `schedule`, for `duration`."""

    name: Name
    description: Text = ""
    schedule: Schedule
    duration: Annotated[Duration, _between(MINUTE, 31 * DAY)] = Field(description="how long each window stays "
                                                                      "open (elapsed time)")
    applies_to: Targets | None = Field(default=None, description="the devices it applies to (default: all)")


class RolloutsFile(Spec):
    """The root of rollouts.yaml: strategies, which devices follow which, and windows."""

    strategies: dict[Name, StrategySpec] = Field(
        default={}, max_length=50, description="by name; devices no assign rule matches follow 'default' (without "
        "any strategy: one wave of every device, no gates)")
    assign: list[AssignRule] = Field(default=[], max_length=500)
    windows: list[WindowSpec] = Field(default=[], max_length=200)

    @model_validator(mode="before")
    @classmethod
    def _default_strategy(cls, data: Any) -> Any:
        """No strategies at all (a file with windows only): the built-in default, as without the file."""
        if isinstance(data, dict) and data.get("strategies") in (None, {}):
            return {**data, "strategies": {DEFAULT_STRATEGY: {}}}
        return data


# A fleet without rollouts.yaml: one wave of every device that changes, no canary, no gates, no
# windows, at the fleet's own pace (what applying did before rollouts existed).
DEFAULT_POLICY = RolloutsFile()
