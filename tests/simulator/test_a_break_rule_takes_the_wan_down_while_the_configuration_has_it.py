"""Break rules: a router running a configuration with a rule's key at its value has its WAN (and VPN) down,
and up again as soon as its configuration no longer has it; management stays reachable unless the rule cuts it."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.simulator.profiles import behaviour
from reconciler.simulator.rules import Break
from tests.simulator.support import MRO, MRX3, MRX5, Client, simulate

TUNNEL = ("ipsec.connection[1].active=1\n"
          "ipsec.connection[1].remote_gateway=vpn-hq.example\n")
BAD = "MRX5 LTE=snmp.community=bad"


async def links(client: Client, serial: str, token: str) -> tuple[str, list[str]]:
    """The WAN state and every tunnel's state, as the router reports them."""
    return (await client.status(serial, token, "wan"))[0]["state"], [
        tunnel["state"] for tunnel in await client.status(serial, token, "vpn")]


def breaking(*rules: Break, **knobs: Any) -> dict[str, Any]:
    return {"behaviour": behaviour("perfect", breaks=rules, **knobs)}


def test_applying_the_bad_value_takes_wan_and_vpn_down_and_the_old_value_brings_them_back() -> None:
    """The WAN and the tunnel go down with the applied key, the API still answers, and a revert mends both."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        await client.configure(MRX5, token, TUNNEL + "snmp.community=public\n")
        assert await links(client, MRX5, token) == ("up", ["up"])
        assert (await client.configure(MRX5, token, "snmp.community=bad\n"))[0]["result"] == "done"
        assert await links(client, MRX5, token) == ("down", ["down"])
        state = await client.state(MRX5)
        assert state["reachable"] is True
        assert state["status"]["wan"]["state"] == "down"
        await client.configure(MRX5, token, "snmp.community=public\n")
        assert await links(client, MRX5, token) == ("up", ["up"])

    simulate(scenario, **breaking(Break.parse(BAD)))


def test_a_rule_holds_for_its_model_only_and_star_means_any_model() -> None:
    """An MRX5 rule leaves an MRX3 with the same configuration up; a `*` rule with a key glob reaches every model."""

    async def scenario(client: Client) -> None:
        for serial in (MRX5, MRX3, MRO):
            token = await client.login(serial)
            await client.configure(serial, token, "snmp.community=bad\n")
            assert (await links(client, serial, token))[0] == ("down" if serial == MRX5 else "up")
            await client.configure(serial, token, "netfilter.ip_filter.rule[3].rule_active=0\n")
            assert (await links(client, serial, token))[0] == "down"

    simulate(scenario, **breaking(Break.parse(BAD), Break.parse("*=netfilter.*.rule_active=0")))


def test_a_vpn_only_rule_leaves_the_wan_up() -> None:
    """A `vpn_only` rule (`--break-vpn`) takes the tunnels down and nothing else."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        await client.configure(MRX5, token, TUNNEL + "ipsec.connection[1].ike_version=ikev1\n")
        assert await links(client, MRX5, token) == ("up", ["down"])

    simulate(scenario, **breaking(Break.parse("*=ipsec.connection[*].ike_version=ikev1", vpn_only=True)))


def test_activating_a_stored_profile_with_the_bad_value_breaks_the_router_too() -> None:
    """The rule reads the running configuration however it got there: `activate_profile` counts like `apply`."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        await client.configure(MRX5, token, "administration.users[1].username=admin\n"
                                            "administration.users[1].password=admin\nsnmp.community=bad\n",
                               action="store", profile="next")
        assert (await links(client, MRX5, token))[0] == "up"
        code, _ = await client.api("POST", MRX5, "operation", token, json={
            "method": "manual_action", "params": {"action": "activate_profile", "profile": "next"}})
        assert code == 201
        assert (await links(client, MRX5, token))[0] == "down"

    simulate(scenario, **breaking(Break.parse(BAD)))


def test_a_rule_that_cuts_management_silences_the_router_until_the_key_changes() -> None:
    """With `cuts_management` the broken router drops every API connection; drift back by hand and it answers."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        await client.configure(MRX5, token, "snmp.community=bad\n")
        assert not await client.answers(MRX5)
        assert (await client.state(MRX5))["reachable"] is False
        await client.sim(MRX5, "configuration", {"set": {"snmp.community": "public"}})
        assert await client.answers(MRX5)

    simulate(scenario, **breaking(Break.parse(BAD, cuts_management=True)))


def test_rules_set_at_run_time_for_one_router_or_every_router() -> None:
    """`_sim/break` breaks one router, `/_sim/break` every router of a model; `mend` drops them again."""

    async def scenario(client: Client) -> None:
        tokens = {serial: await client.login(serial) for serial in (MRX5, MRX3)}
        for serial, token in tokens.items():
            await client.configure(serial, token, "snmp.community=bad\n")
        answer = await client.sim(MRX5, "break", {"key": "snmp.community", "value": "b*"})
        assert answer["breaks"] == ["MRX5 LTE=snmp.community=b*"]
        assert [(await links(client, s, t))[0] for s, t in tokens.items()] == ["down", "up"]
        await client.sim(MRX5, "mend")
        assert (await links(client, MRX5, tokens[MRX5]))[0] == "up"
        async with client.session.post(f"{client.handle.url}/_sim/break", json={
                "model": "MRX3 LTE", "key": "snmp.community", "value": "bad", "vpn_only": False}) as response:
            assert (response.status, (await response.json())["breaks"]) == (200, ["MRX3 LTE=snmp.community=bad"])
        assert [(await links(client, s, t))[0] for s, t in tokens.items()] == ["up", "down"]
        assert (await client.state(MRX3))["breaks"] == ["MRX3 LTE=snmp.community=bad"]
        async with client.session.post(f"{client.handle.url}/_sim/mend") as response:
            assert (await response.json())["breaks"] == []
        assert (await links(client, MRX3, tokens[MRX3]))[0] == "up"

    simulate(scenario)


@pytest.mark.parametrize("body", [
    {"value": "x"}, {"key": "a.b"}, {"key": "", "value": "x"}, {"key": "a.b", "value": 1},
    {"key": "a.b", "value": "x", "cuts_management": "yes"}, {"key": "a.b", "value": "x", "model": "MRX3 LTE"},
    {"key": "k" * 1001, "value": "x"},
])
def test_a_run_time_rule_that_makes_no_sense_is_refused(body: dict[str, Any]) -> None:
    """Missing or non-string key and value, non-boolean flags, another model, overlong globs: 400 and no rule."""

    async def scenario(client: Client) -> None:
        code, answer = await client.request("POST", MRX5, "/_sim/break", json=body)
        assert code == 400 and answer["error"]
        assert (await client.state(MRX5))["breaks"] == []

    simulate(scenario)


def test_a_reset_drops_the_routers_own_rules_but_not_the_processs() -> None:
    """Back to factory state means without the router's own break rules; the process's rules still apply."""

    async def scenario(client: Client) -> None:
        await client.sim(MRX5, "break", {"key": "a.b", "value": "1"})
        assert (await client.state(MRX5))["breaks"] == [BAD, "MRX5 LTE=a.b=1"]
        await client.sim(MRX5, "reset")
        assert (await client.state(MRX5))["breaks"] == [BAD]

    simulate(scenario, **breaking(Break.parse(BAD)))
