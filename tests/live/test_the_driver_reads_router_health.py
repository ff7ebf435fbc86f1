"""`IcomDriver.health` against a `reconciler simulate` process: a configuration a `--break` rule names takes the
WAN and VPN down as the driver reads them, a revert brings them back; calls keep the driver's TLS, plain-HTTP
and error rules."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from reconciler.errors import PermanentError, TemporaryError
from reconciler.shell.drivers import LinkState, PacketStep, RouterHealth, StatusKey, Target
from reconciler.shell.drivers.icom import DriverSettings, IcomDriver
from tests.live.conftest import FACTORY_PASSWORD, Simulator
from tests.simulator.support import ASCII, MRX5, packet

BREAK = ("--break", "MRX5 LTE=snmp.community=bad")
TUNNEL = "ipsec.connection[1].active=1\nipsec.connection[1].remote_gateway=vpn-hq.example\n"
DSL = "30000002"


def target(sim: Simulator, serial: str = MRX5, plain_http: bool = True) -> Target:
    return Target(f"router-{serial}", serial, f"{sim.url}/d/{serial}", "admin", (FACTORY_PASSWORD,), plain_http)


def configuration(text: str) -> PacketStep:
    return PacketStep("config", packet([("config.txt", ASCII, text.encode())]))


def drive(scenario: Callable[[IcomDriver], Awaitable[None]], settings: DriverSettings | None = None) -> None:
    async def main() -> None:
        driver = IcomDriver(settings or DriverSettings(retries=0))
        try:
            await scenario(driver)
        finally:
            await driver.close()

    asyncio.run(main())


def links(health: RouterHealth) -> tuple[object, ...]:
    status = health.status
    return status[StatusKey.WAN_STATE], status[StatusKey.VPN_STATE], status[StatusKey.VPN_TUNNELS_UP]


def test_the_driver_sees_a_bad_configuration_take_the_wan_down_and_a_revert_bring_it_back(
        simulator: Callable[..., Simulator]) -> None:
    """Applied through the driver, the rule's value reads as WAN and VPN down; the old value as both up again."""
    sim = simulator("--devices", "5", "--profile", "perfect", *BREAK)
    router = target(sim)

    async def scenario(driver: IcomDriver) -> None:
        await driver.apply(router, configuration(TUNNEL + "snmp.community=public\n"))
        health = await driver.health(router)
        assert (health.serial, health.model, health.firmware) == (MRX5, "MRX5 LTE", "10.4")
        assert links(health) == (LinkState.UP, LinkState.UP, 1)
        assert health.status[StatusKey.WAN_INTERFACE] == "net2"
        assert health.status[StatusKey.CELLULAR_STATE] == "registered"
        assert -105 <= int(health.status[StatusKey.CELLULAR_SIGNAL_DBM]) <= -60
        assert isinstance(health.status[StatusKey.SYSTEM_UPTIME], int)
        await driver.apply(router, configuration("snmp.community=bad\n"))
        assert links(await driver.health(router)) == (LinkState.DOWN, LinkState.DOWN, 0)
        await driver.apply(router, configuration("snmp.community=public\n"))
        assert links(await driver.health(router)) == (LinkState.UP, LinkState.UP, 1)

    drive(scenario)
    assert sim.state(MRX5)["history"] == ["apply config.txt"] * 3


def test_a_router_without_vpn_or_modem_reports_no_such_values(simulator: Callable[..., Simulator]) -> None:
    """A factory MRX6 DSL: its WAN on dsl1, and no VPN or cellular keys at all (absent, not down)."""
    sim = simulator("--devices", "5", "--profile", "perfect")

    async def scenario(driver: IcomDriver) -> None:
        health = await driver.health(target(sim, DSL))
        assert set(health.status) == {StatusKey.SYSTEM_UPTIME, StatusKey.WAN_STATE, StatusKey.WAN_INTERFACE}
        assert (health.status[StatusKey.WAN_STATE], health.status[StatusKey.WAN_INTERFACE]) == (LinkState.UP, "dsl1")

    drive(scenario)


def test_a_router_whose_break_cuts_management_is_unreachable_until_mended(simulator: Callable[..., Simulator]) -> None:
    """With `--break-cuts-management` the broken router's health is a TemporaryError; mended by hand, it answers."""
    sim = simulator("--devices", "5", "--profile", "perfect", *BREAK, "--break-cuts-management")
    router = target(sim)

    async def scenario(driver: IcomDriver) -> None:
        await driver.apply(router, configuration("snmp.community=bad\n"))
        with pytest.raises(TemporaryError, match="unreachable"):
            await driver.health(router)
        sim.poke(MRX5, "configuration", {"set": {"snmp.community": "public"}})
        assert (await driver.health(router)).status[StatusKey.WAN_STATE] is LinkState.UP

    drive(scenario)


def test_health_is_not_read_over_plain_http_unless_the_target_allows_it(simulator: Callable[..., Simulator]) -> None:
    """A plain-HTTP target without permission: PermanentError before any request reaches the router."""
    sim = simulator("--devices", "5", "--profile", "perfect")

    async def scenario(driver: IcomDriver) -> None:
        with pytest.raises(PermanentError, match="over plain HTTP"):
            await driver.health(target(sim, plain_http=False))

    drive(scenario)
    assert sim.state(MRX5)["requests"] == 0


def test_health_over_https_trusts_the_fleets_ca_only(simulator: Callable[..., Simulator], tmp_path: Path) -> None:
    """Over HTTPS the simulator's certificate is verified: with its CA the health reads, without it a TLS error."""
    sim = simulator("--devices", "5", "--profile", "perfect", "--tls", str(tmp_path / "tls"))
    router = target(sim, plain_http=False)
    ca = (tmp_path / "tls" / "ca.pem").read_text()

    async def trusting(driver: IcomDriver) -> None:
        assert (await driver.health(router)).status[StatusKey.WAN_STATE] is LinkState.UP

    async def untrusting(driver: IcomDriver) -> None:
        with pytest.raises(PermanentError, match="TLS"):
            await driver.health(router)

    drive(trusting, DriverSettings(retries=0, ca_pem=ca))
    drive(untrusting)
