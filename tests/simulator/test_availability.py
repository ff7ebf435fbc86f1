"""When routers answer: busy (503), offline and online, management cut off, and the seeded realistic profile."""

from __future__ import annotations

from typing import Any

from reconciler.simulator.fleet import generated_devices
from reconciler.simulator.profiles import behaviour
from tests.simulator.support import API, ASCII, MRO, MRX3, MRX5, Client, ManualClock, packet, simulate


def test_a_busy_count_answers_503_that_many_times_then_ok() -> None:
    """After `_sim/busy {count: 2}` the next two API calls answer 503 busy, the third succeeds."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        await client.sim(MRX5, "busy", {"count": 2})
        for _ in range(2):
            assert await client.api("GET", MRX5, "firmware", token) == (503, {"error": "busy"})
        assert (await client.api("GET", MRX5, "firmware", token))[0] == 200

    simulate(scenario)


def test_a_router_taken_offline_drops_connections_until_it_is_online_again() -> None:
    """Offline without seconds lasts until `_sim/online`; the inspection endpoints keep answering."""

    async def scenario(client: Client) -> None:
        await client.sim(MRX5, "offline")
        assert not await client.answers(MRX5)
        assert await client.answers(MRX3)
        state = await client.state(MRX5)
        assert (state["online"], state["reachable"]) == (False, False)
        await client.sim(MRX5, "online")
        assert await client.answers(MRX5)

    simulate(scenario)


def test_an_offline_period_in_seconds_ends_by_itself() -> None:
    """`_sim/offline {seconds: 30}` makes the router unreachable for 30 s of the clock."""
    clock = ManualClock()

    async def scenario(client: Client) -> None:
        await client.sim(MRX5, "offline", {"seconds": 30})
        clock.advance(29)
        assert not await client.answers(MRX5)
        clock.advance(2)
        assert await client.answers(MRX5)

    simulate(scenario, clock=clock)


def test_switching_https_off_or_moving_its_port_cuts_management_until_reset() -> None:
    """The answer to the cutting packet arrives; afterwards the router is unreachable until `_sim/reset`."""

    async def scenario(client: Client) -> None:
        for serial, statement in ((MRX5, "services.https.active=0\n"), (MRX3, "services.https.port=8443\n")):
            token = await client.login(serial)
            assert (await client.configure(serial, token, statement))[0]["result"] == "done"
            assert not await client.answers(serial)
            state = await client.state(serial)
            assert (state["online"], state["reachable"]) == (True, False)
            await client.sim(serial, "reset")
            assert await client.answers(serial)
            assert "services.https.port=443\n" in await client.running(serial, await client.login(serial))

    simulate(scenario)


def test_reset_returns_a_router_to_factory_state() -> None:
    """Reset restores the factory configuration and firmware and forgets profiles, files and tokens."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        factory = await client.state(MRX5)
        await client.install(MRX5, token, packet([("c.txt", ASCII, b"a.b=1\n"), ("x.pem", "Certificate", b"pem")]),
                             "store", "p")
        await client.sim(MRX5, "configuration", {"set": {"a.c": "2"}})
        await client.sim(MRX5, "reset")
        state = await client.state(MRX5)
        assert {key: state[key] for key in ("configuration", "profiles", "certificates", "firmware")} == {
            key: factory[key] for key in ("configuration", "profiles", "certificates", "firmware")}
        assert (await client.api("GET", MRX5, "firmware", token))[0] == 401

    simulate(scenario)


async def observe(client: Client, serial: str, calls: int) -> tuple[list[str], list[int]]:
    """The offline routers of the fleet and the status codes of `calls` firmware GETs to `serial`."""
    routers = (await client.get_root("/_sim/routers"))["routers"]
    offline = [router["serial"] for router in routers if not router["online"]]
    statuses: list[int] = []
    token = ""
    while len(statuses) < calls:
        if not token:
            status, body = await client.request("POST", serial, f"{API}/auth/login",
                                                json={"username": "admin", "password": "admin"})
            statuses.append(status)
            token = body.get("access", "") if status == 200 else ""
        else:
            statuses.append((await client.api("GET", serial, "firmware", token))[0])
    return offline, statuses


def observed_with(seed: int, **knobs: Any) -> tuple[list[str], list[int]]:
    """What a realistic simulator of 300 routers with `seed` shows (without latency: a fast test)."""
    seen: list[tuple[list[str], list[int]]] = []

    async def scenario(client: Client) -> None:
        seen.append(await observe(client, "30000010", 150))

    simulate(scenario, generated_devices(300), behaviour=behaviour("realistic", latency_ms=0, **knobs), seed=seed)
    return seen[0]


def test_the_realistic_profile_is_reproducible_for_a_seed() -> None:
    """The same seed gives the same offline routers and the same 503 sequence; another seed does not."""
    offline, statuses = observed_with(7)
    assert 0 < len(offline) < 30
    assert 503 in statuses
    assert set(statuses) == {200, 503}
    assert observed_with(7) == (offline, statuses)
    assert observed_with(8) != (offline, statuses)


def test_profile_knobs_override_the_realistic_profile() -> None:
    """--offline-share 0 and --busy-share 0 give a realistic fleet that is all online and never busy."""
    offline, statuses = observed_with(7, offline_share=0, busy_share=0)
    assert offline == []
    assert set(statuses) == {200}


def test_routers_offline_at_start_drop_connections_until_online() -> None:
    """A router the realistic profile starts offline answers nothing until `_sim/online`."""

    async def scenario(client: Client) -> None:
        routers = (await client.get_root("/_sim/routers"))["routers"]
        serial = next(router["serial"] for router in routers if not router["online"])
        assert not await client.answers(serial)
        await client.sim(serial, "online")
        assert await client.answers(serial)

    simulate(scenario, generated_devices(300), behaviour=behaviour("realistic", latency_ms=0, busy_share=0))


def test_the_realistic_mro_l200_rejects_the_lte_network_mode_key() -> None:
    """The realistic profile's MRO-L200 refuses interfaces.wwan1.lte_network_mode; an MRX5 takes it."""

    async def scenario(client: Client) -> None:
        for serial, result in ((MRO, "failed"), (MRX5, "done")):
            await client.sim(serial, "online")
            token = await client.login(serial)
            assert (await client.configure(serial, token, "interfaces.wwan1.lte_network_mode=auto\n"))[0][
                "result"] == result

    simulate(scenario, behaviour=behaviour("realistic", latency_ms=0, busy_share=0))
