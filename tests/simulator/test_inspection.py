"""The simulator's own endpoints: drift by hand, the state of a router, the list of routers, health."""

from __future__ import annotations

from tests.simulator.support import MRX5, Client, simulate


def test_drift_set_by_hand_shows_in_the_running_configuration() -> None:
    """Keys set and deleted through `_sim/configuration` are what `GET configuration` reports next."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        await client.sim(MRX5, "configuration", {"set": {"administration.hostnames.hostname": "drifted",
                                                         "netfilter.rule[3].port": "22"},
                                                 "delete": ["interfaces.net1.ip_address[1].netmask"]})
        running = await client.running(MRX5, token)
        assert "administration.hostnames.hostname=drifted\n" in running
        assert "netfilter.rule[3].port=22\n" in running
        assert "netmask" not in running
        assert (await client.state(MRX5))["configuration"]["administration.hostnames.hostname"] == "drifted"

    simulate(scenario)


def test_drift_by_hand_takes_canonical_keys_and_string_values_only() -> None:
    """`[last]`, malformed keys and non-string values are refused with 400."""

    async def scenario(client: Client) -> None:
        for body in ({"set": {"a.list[last].x": "1"}}, {"set": {"a b": "1"}}, {"set": {"a.b": 1}},
                     {"delete": ["a.b[0]"]}, {"set": ["a.b"]}):
            status, answer = await client.request("POST", MRX5, "/_sim/configuration", json=body)
            assert status == 400, body
            assert answer["error"]

    simulate(scenario)


def test_the_state_of_a_router_has_the_contract_fields_and_counts_api_calls() -> None:
    """`_sim/state` names identity, firmware, availability, configuration, stored things and API calls."""

    async def scenario(client: Client) -> None:
        await client.login(MRX5)
        state = await client.state(MRX5)
        assert {"serial", "name", "model", "firmware", "online", "reachable", "configuration", "profiles",
                "certificates", "scripts", "containers", "requests"} <= set(state)
        assert (state["serial"], state["name"], state["model"], state["requests"]) == (MRX5, "sim-0", "MRX5 LTE", 1)
        assert state["configuration"]["administration.users[1].password"].startswith("$6$")
        assert state["configuration"]["status.system.uptime"] == "0"

    simulate(scenario)


def test_the_routers_list_and_health_describe_the_whole_process() -> None:
    """`/_sim/routers` lists every router with name, model, firmware and online; `/_sim/health` is ok."""

    async def scenario(client: Client) -> None:
        routers = (await client.get_root("/_sim/routers"))["routers"]
        assert len(routers) == 5
        assert routers[0] == {"serial": MRX5, "name": "sim-0", "model": "MRX5 LTE", "firmware": "10.4", "online": True}
        health = await client.get_root("/_sim/health")
        assert (health["status"], health["routers"]) == ("ok", 5)

    simulate(scenario)
