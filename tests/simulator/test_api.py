"""The router API over real sockets: login, tokens, device information, firmware and reboots."""

from __future__ import annotations

import aiohttp
import pytest

from reconciler.simulator.profiles import behaviour
from reconciler.simulator.routers import Factory
from tests.simulator.support import API, MRO, MRX5, Client, ManualClock, eventually, simulate

FAST_REBOOTS = behaviour("perfect", reboot_seconds=0.2)


def test_login_with_the_factory_password_returns_a_token_that_opens_the_api() -> None:
    """The factory admin/admin login answers 200 with an access token accepted as a bearer token."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        status, body = await client.api("GET", MRX5, "status/device_info", token)
        assert status == 200
        assert body["status"]["list"][0]["serial_number"] == MRX5

    simulate(scenario)


def test_a_wrong_password_or_user_is_refused_with_401_invalid_credentials() -> None:
    """A wrong password and an unknown user both answer 401 with the contract's error."""

    async def scenario(client: Client) -> None:
        for username, password in (("admin", "wrong"), ("root", "admin")):
            status, body = await client.request("POST", MRX5, f"{API}/auth/login",
                                                json={"username": username, "password": password})
            assert (status, body) == (401, {"error": "invalid credentials"})

    simulate(scenario)


def test_calls_without_a_live_token_answer_401_unauthorized() -> None:
    """No token, a made-up token and another router's token are all unauthorized."""

    async def scenario(client: Client) -> None:
        other = await client.login(MRO)
        for token in (None, "made-up", other):
            status, body = await client.request("GET", MRX5, f"{API}/firmware", token=token)
            assert (status, body) == (401, {"error": "unauthorized"})

    simulate(scenario)


def test_a_token_dies_after_ten_minutes() -> None:
    """A token works at 9:59 and is refused at 10:01 (virtual time)."""
    clock = ManualClock()

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        clock.advance(599)
        assert (await client.api("GET", MRX5, "firmware", token))[0] == 200
        clock.advance(2)
        assert (await client.api("GET", MRX5, "firmware", token))[0] == 401

    simulate(scenario, clock=clock)


def test_device_info_reports_serial_firmware_model_hostname_and_uptime() -> None:
    """device_info carries the contract's five fields from the factory state."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRO)
        status, body = await client.api("GET", MRO, "status/device_info", token)
        assert status == 200
        assert body == {"status": {"list": [{"serial_number": MRO, "firmware_version": "10.4", "board_type": "MRO-L200",
                                             "hostname": f"icom-{MRO}", "uptime": 0}]}}

    simulate(scenario)


def test_uptime_grows_with_time() -> None:
    """The uptime in device_info and the status key of the running configuration follow the clock."""
    clock = ManualClock()

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        clock.advance(42)
        _, body = await client.api("GET", MRX5, "status/device_info", token)
        assert body["status"]["list"][0]["uptime"] == 42
        assert "status.system.uptime=42\n" in await client.running(MRX5, token)

    simulate(scenario, clock=clock)


def test_firmware_reports_the_factory_version_or_the_one_given() -> None:
    """GET firmware answers the icom_os version: 10.4 by default, --factory-firmware otherwise."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        assert await client.api("GET", MRX5, "firmware", token) == (200, {"firmware": [{"type": "icom_os",
                                                                                        "name": "10.2"}]})

    simulate(scenario, factory=Factory(firmware="10.2"))


def test_a_firmware_update_reboots_into_the_new_version_and_kills_tokens() -> None:
    """PUT firmware answers 200, the router drops connections while rebooting, then runs the new version."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        status, body = await client.api("PUT", MRX5, "firmware", token,
                                        json={"type": "icom_os", "name": "10.6", "issue_reset": True})
        assert (status, body) == (200, {})
        with pytest.raises(aiohttp.ClientConnectionError):
            await client.api("GET", MRX5, "firmware", token)
        assert (await client.state(MRX5))["online"] is False
        await eventually(lambda: client.answers(MRX5), within=5, what="the router is back")
        assert (await client.api("GET", MRX5, "firmware", token))[0] == 401
        fresh = await client.login(MRX5)
        assert (await client.api("GET", MRX5, "firmware", fresh))[1]["firmware"][0]["name"] == "10.6"

    simulate(scenario, behaviour=FAST_REBOOTS)


def test_a_malformed_firmware_version_is_refused_with_400() -> None:
    """A version that is no icom OS version answers 400 with an error, and nothing reboots."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        status, body = await client.api("PUT", MRX5, "firmware", token, json={"type": "icom_os", "name": "latest"})
        assert status == 400
        assert "not installable" in body["error"]
        assert (await client.state(MRX5))["online"] is True

    simulate(scenario)


def test_a_reboot_operation_makes_the_router_unreachable_then_back_with_its_configuration() -> None:
    """operation reboot answers 201 {}, the router comes back unchanged and old tokens are dead."""

    async def scenario(client: Client) -> None:
        token = await client.login(MRX5)
        await client.configure(MRX5, token, "administration.hostnames.hostname=kept\n")
        status, body = await client.api("POST", MRX5, "operation", token,
                                        json={"method": "manual_action", "params": {"action": "reboot"}})
        assert (status, body) == (201, {})
        assert not await client.answers(MRX5)
        await eventually(lambda: client.answers(MRX5), within=5, what="the router is back")
        assert (await client.api("GET", MRX5, "firmware", token))[0] == 401
        assert "administration.hostnames.hostname=kept\n" in await client.running(MRX5, await client.login(MRX5))

    simulate(scenario, behaviour=FAST_REBOOTS)


def test_unknown_serials_paths_and_bodies_get_clear_answers() -> None:
    """An unknown serial and an unknown path answer 404; a body that is not JSON answers 400."""

    async def scenario(client: Client) -> None:
        assert (await client.request("GET", "99999999", f"{API}/firmware"))[0] == 404
        token = await client.login(MRX5)
        assert (await client.api("GET", MRX5, "nothing/here", token))[0] == 404
        status, body = await client.api("POST", MRX5, "operation", token, data=b"{not json")
        assert status == 400
        assert "JSON" in body["error"]

    simulate(scenario)
