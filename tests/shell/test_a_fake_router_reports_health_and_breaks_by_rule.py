"""The fake driver's health: a `FakeRouter` reports its status values, a `FakeBreak` whose key and value its
configuration has takes the WAN and VPN down (or only the VPN, or management too), and a revert mends it."""

from __future__ import annotations

import asyncio

import pytest

from reconciler.errors import TemporaryError
from reconciler.shell.drivers import LinkState, PacketStep, RouterHealth, StatusKey, Target
from reconciler.shell.drivers.fake import FakeBreak, FakeDriver, FakeRouter
from tests.simulator.support import ASCII, packet

SERIAL = "24130001"
TARGET = Target("ber-r01", SERIAL, "https://10.20.1.1", "admin", ("pw",))
VPN_UP = {StatusKey.WAN_STATE: LinkState.UP, StatusKey.VPN_STATE: LinkState.UP, StatusKey.VPN_TUNNELS: 1,
          StatusKey.VPN_TUNNELS_UP: 1}


def health(driver: FakeDriver) -> RouterHealth:
    return asyncio.run(driver.health(TARGET))


def apply(driver: FakeDriver, text: str) -> None:
    asyncio.run(driver.apply(TARGET, PacketStep("config", packet([("config.txt", ASCII, text.encode())]))))


def test_a_healthy_fake_router_reports_its_status_values_and_counts_the_call() -> None:
    """Identity, firmware and the status given (by default WAN up on net2); `health` shows in `calls`."""
    driver = FakeDriver([FakeRouter(SERIAL, "MRX5 LTE", firmware="10.6")])
    reading = health(driver)
    assert (reading.serial, reading.model, reading.firmware) == (SERIAL, "MRX5 LTE", "10.6")
    assert dict(reading.status) == {StatusKey.WAN_STATE: LinkState.UP, StatusKey.WAN_INTERFACE: "net2"}
    assert driver.routers[SERIAL].calls == ["health"]


def test_a_break_rule_takes_wan_and_vpn_down_while_the_configuration_has_it() -> None:
    """Applying the rule's value breaks both links; applying another value mends them at once."""
    router = FakeRouter(SERIAL, "MRX5 LTE", status=dict(VPN_UP), breaks=(FakeBreak("snmp.community", "bad"),))
    driver = FakeDriver([router])
    apply(driver, "snmp.community=bad\n")
    assert dict(health(driver).status) == {StatusKey.WAN_STATE: LinkState.DOWN, StatusKey.VPN_STATE: LinkState.DOWN,
                                           StatusKey.VPN_TUNNELS: 1, StatusKey.VPN_TUNNELS_UP: 0}
    apply(driver, "snmp.community=public\n")
    assert dict(health(driver).status) == VPN_UP


def test_a_vpn_only_rule_with_globs_leaves_the_wan_up() -> None:
    """Globs with `*` and literal brackets match list keys; a VPN-only rule takes the tunnels down and nothing else."""
    rule = FakeBreak("ipsec.connection[*].ike_version", "ikev1*", vpn_only=True)
    router = FakeRouter(SERIAL, "MRX5 LTE", status=dict(VPN_UP), breaks=(rule,))
    driver = FakeDriver([router])
    apply(driver, "ipsec.connection[1].ike_version=ikev1\n")
    status = health(driver).status
    assert (status[StatusKey.WAN_STATE], status[StatusKey.VPN_STATE]) == (LinkState.UP, LinkState.DOWN)
    assert not FakeBreak("a[1].b", "x").holds({"a1.b": "x"})


def test_a_rule_that_cuts_management_makes_the_fake_unreachable_until_the_key_changes() -> None:
    """With `cuts_management` every call fails as unreachable (TemporaryError) while the configuration breaks it."""
    router = FakeRouter(SERIAL, "MRX5 LTE", breaks=(FakeBreak("snmp.community", "bad", cuts_management=True),))
    driver = FakeDriver([router])
    apply(driver, "snmp.community=bad\n")
    with pytest.raises(TemporaryError, match="cannot connect"):
        health(driver)
    router.config["snmp.community"] = "public"
    assert health(driver).status[StatusKey.WAN_STATE] is LinkState.UP
