"""The status calls (`status/wan`, `status/vpn`, `status/cellular`): their values follow the running configuration,
the model and the seed, and they need a token like every other call."""

from __future__ import annotations

from reconciler.simulator.fleet import generated_devices
from reconciler.simulator.status import quality
from tests.simulator.support import API, MRO, MRX5, Client, simulate

DSL = "30000002"  # the MRX6 DSL of the generated fleet


def test_a_factory_router_has_its_wan_up_no_vpn_and_a_signal_on_lte_models_only() -> None:
    """Fresh routers: WAN up on the model's own port, no tunnels; the LTE models report a stable RSSI, a DSL none."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        assert await client.status(MRX5, token, "wan") == [{"interface": "net2", "state": "up"}]
        assert await client.status(MRX5, token, "vpn") == []
        [modem] = await client.status(MRX5, token, "cellular")
        assert (modem["interface"], modem["state"]) == ("wwan1", "registered")
        assert -105 <= modem["rssi_dbm"] <= -60 and modem["quality"] == quality(modem["rssi_dbm"])
        assert await client.status(MRX5, token, "cellular") == [modem]
        mro = await client.login(MRO)
        assert (await client.status(MRO, mro, "cellular"))[0]["state"] == "registered"
        dsl = await client.login(DSL)
        assert await client.status(DSL, dsl, "wan") == [{"interface": "dsl1", "state": "up"}]
        assert await client.status(DSL, dsl, "cellular") == []

    simulate(scenario)


def test_the_wan_is_the_first_chain_member_not_switched_off() -> None:
    """With net2 switched off the WAN chain falls to wwan1; with every member off the WAN is down."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        await client.configure(MRX5, token, "wan.wan_chain.add\nwan.wan_chain[last].member[1].interface=net2\n"
                                            "wan.wan_chain[last].member[2].interface=wwan1\n")
        assert await client.status(MRX5, token, "wan") == [{"interface": "net2", "state": "up"}]
        await client.configure(MRX5, token, "interfaces.net2.active=0\n")
        assert await client.status(MRX5, token, "wan") == [{"interface": "wwan1", "state": "up"}]
        await client.configure(MRX5, token, "interfaces.wwan1.active=0\n")
        assert await client.status(MRX5, token, "wan") == [{"interface": "net2", "state": "down"}]
        assert await client.status(MRX5, token, "cellular") == [{"interface": "wwan1", "state": "off"}]

    simulate(scenario)


def test_a_tunnel_per_active_ipsec_connection_up_only_with_a_peer_and_a_wan() -> None:
    """Each IPsec connection not switched off is a tunnel, down without a remote gateway; `ipsec.active=0`: none."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        await client.configure(MRX5, token, "ipsec.active=1\n"
                                            "ipsec.connection[1].description=HQ\n"
                                            "ipsec.connection[1].remote_gateway=vpn-hq.example\n"
                                            "ipsec.connection[2].description=no peer yet\n"
                                            "ipsec.connection[3].active=0\n"
                                            "ipsec.connection[3].remote_gateway=old.example\n")
        assert await client.status(MRX5, token, "vpn") == [
            {"name": "ipsec1", "type": "ipsec", "description": "HQ", "state": "up"},
            {"name": "ipsec2", "type": "ipsec", "description": "no peer yet", "state": "down"}]
        await client.configure(MRX5, token, "interfaces.net2.active=0\n")
        assert [tunnel["state"] for tunnel in await client.status(MRX5, token, "vpn")] == ["down", "down"]
        await client.configure(MRX5, token, "ipsec.active=0\n")
        assert await client.status(MRX5, token, "vpn") == []

    simulate(scenario)


def test_the_signal_is_drawn_from_the_seed_and_can_be_set_by_hand() -> None:
    """Another seed draws other signals across a fleet; `_sim/signal` sets one, `{}` gives the drawn one back."""
    drawn: list[list[int]] = []

    async def scenario(client: Client) -> None:
        signals = []
        for serial in ("30000000", "30000001", "30000003", "30000005", "30000006"):
            token = await client.login(serial)
            signals.append((await client.status(serial, token, "cellular"))[0]["rssi_dbm"])
        drawn.append(signals)
        token = await client.login(MRX5)
        await client.sim(MRX5, "signal", {"rssi_dbm": -112})
        assert await client.status(MRX5, token, "cellular") == [
            {"interface": "wwan1", "state": "registered", "rssi_dbm": -112, "quality": "none"}]
        code, answer = await client.request("POST", MRX5, "/_sim/signal", json={"rssi_dbm": 5})
        assert code == 400 and "rssi_dbm" in answer["error"]
        await client.sim(MRX5, "signal", {})
        assert (await client.status(MRX5, token, "cellular"))[0]["rssi_dbm"] == signals[0]

    simulate(scenario, generated_devices(10), seed=1)
    simulate(scenario, generated_devices(10), seed=2)
    assert drawn[0] != drawn[1]


def test_status_calls_need_a_token() -> None:
    """Without a bearer token every status call answers 401, as the rest of the API does."""

    async def scenario(client: Client) -> None:
        for what in ("wan", "vpn", "cellular"):
            code, body = await client.request("GET", MRX5, f"{API}/status/{what}")
            assert (code, body) == (401, {"error": "unauthorized"})

    simulate(scenario)
