"""Health: after a router converged, do its strategy's checks pass within the deadline?

Where it sits: the rollout engine (`rolling`) calls `await_health` for each router it changed;
the checks come from the strategy of `rollouts.yaml` (`core.models.rollouts`), the readings from
the driver (`Driver.health`, the router's own status values). A check that fails is asked again
every `poll` seconds until the deadline (a WAN link takes a while to come up after a change); the
waits go through the clock, so tests run them on a virtual one. The configuration check is the
apply step's own verification, handed in as `configuration`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from reconciler.core.models.rollouts import HealthCheck, StatusCheck
from reconciler.errors import DriverError
from reconciler.shell.clock import Clock
from reconciler.shell.drivers import Driver, LinkState, RouterHealth, StatusKey, Target

Check = HealthCheck | StatusCheck
ConfigurationCheck = Callable[[], Awaitable[str | None]]  # why the configuration differs, or None


@dataclass(frozen=True, slots=True)
class HealthResult:
    healthy: bool
    failed: tuple[str, ...] = ()  # what did not pass, one line each ("wan: down")
    reading: RouterHealth | None = None

    @property
    def reason(self) -> str:
        return "; ".join(self.failed) or "healthy"


async def await_health(driver: Driver, target: Target, checks: Sequence[Check], firmware: str | None,
                       deadline: dt.timedelta, clock: Clock, poll: float = 2.0,
                       configuration: ConfigurationCheck | None = None) -> HealthResult:
    """Ask until every check passes or the deadline passes; the last result."""
    until = clock.monotonic() + deadline.total_seconds()
    while True:
        result = await check_once(driver, target, checks, firmware, configuration)
        if result.healthy or clock.monotonic() + poll > until:
            return result
        await clock.sleep(poll)


async def check_once(driver: Driver, target: Target, checks: Sequence[Check], firmware: str | None,
                     configuration: ConfigurationCheck | None = None) -> HealthResult:
    """Every check, once: management is the reading itself; the others judge it."""
    try:
        reading = await driver.health(target)
    except DriverError as exc:
        return HealthResult(False, (f"management: not reachable ({exc})",))
    failed = [reason for check in checks if (reason := _judge(check, reading, firmware)) is not None]
    if HealthCheck.CONFIGURATION in checks and configuration is not None:
        differs = await configuration()
        if differs is not None:
            failed.append(f"configuration: {differs}")
    return HealthResult(not failed, tuple(failed), reading)


def _judge(check: Check, reading: RouterHealth, firmware: str | None) -> str | None:
    """Why a check fails on this reading, or None (configuration is judged apart)."""
    if isinstance(check, StatusCheck):
        return _status(check, reading)
    if check is HealthCheck.FIRMWARE and firmware is not None and reading.firmware != firmware:
        return f"firmware: runs {reading.firmware}, the change wanted {firmware}"
    if check is HealthCheck.WAN:
        state = reading.status.get(StatusKey.WAN_STATE)
        return None if state == LinkState.UP else f"wan: {state or 'not reported'}"
    return None


def _status(check: StatusCheck, reading: RouterHealth) -> str | None:
    found = {str(key): value for key, value in reading.status.items()}.get(check.status)
    if found is None:
        return f"{check.status}: not reported (wanted {check.equals})"
    if str(found).lower() != str(check.equals).lower():
        return f"{check.status}: {found} (wanted {check.equals})"
    return None
