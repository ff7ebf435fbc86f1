"""The optional confirm timer (`--revert-seconds`): an API change that takes the WAN down is undone by the router
once the timer runs out with the WAN still down; off by default, and a WAN back up in time stops it."""

from __future__ import annotations

from typing import Any

from reconciler.simulator.profiles import behaviour
from reconciler.simulator.rules import Break
from tests.simulator.support import MRX5, Client, ManualClock, simulate

CUT = Break.parse("MRX5 LTE=snmp.community=bad", cuts_management=True)


def options(clock: ManualClock, revert_seconds: float | None) -> dict[str, Any]:
    return {"behaviour": behaviour("perfect", breaks=(CUT,), revert_seconds=revert_seconds), "clock": clock}


def test_a_router_cut_off_by_a_change_goes_back_to_the_configuration_before_it() -> None:
    """Cut off by the bad value, the router answers nothing until the timer expires, then runs the old value again."""
    clock = ManualClock()

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        await client.configure(MRX5, token, "snmp.community=public\n")
        await client.configure(MRX5, token, "snmp.community=bad\n")
        assert not await client.answers(MRX5)
        assert (await client.state(MRX5))["revert_in"] == 30.0
        clock.advance(29.9)
        assert not await client.answers(MRX5)
        clock.advance(0.2)
        assert await client.answers(MRX5)
        state = await client.state(MRX5)
        assert state["configuration"]["snmp.community"] == "public"
        assert (state["history"][-1], state["revert_in"]) == ("reverted: WAN down 30 s after the change", None)

    simulate(scenario, **options(clock, 30))


def test_without_the_timer_a_broken_router_stays_broken() -> None:
    """By default nothing reverts: an hour later the router still runs the bad value and is still cut off."""
    clock = ManualClock()

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        await client.configure(MRX5, token, "snmp.community=bad\n")
        clock.advance(3600)
        assert not await client.answers(MRX5)
        assert (await client.state(MRX5))["configuration"]["snmp.community"] == "bad"

    simulate(scenario, **options(clock, None))


def test_a_wan_back_up_before_the_timer_runs_out_keeps_the_later_configuration() -> None:
    """Mended by hand before the timer expires, the router keeps what it runs when the timer would have fired."""
    clock = ManualClock()

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        await client.configure(MRX5, token, "snmp.community=bad\n")
        clock.advance(10)
        await client.sim(MRX5, "configuration", {"set": {"snmp.community": "mended"}})
        clock.advance(30)
        state = await client.state(MRX5)
        assert (state["configuration"]["snmp.community"], state["revert_in"]) == ("mended", None)
        assert not any(entry.startswith("reverted") for entry in state["history"])

    simulate(scenario, **options(clock, 30))
