"""`IcomDriver.health` against a scripted router on loopback: a status call the router lacks (404) gives no values,
a busy one is retried, and answers off the contract (bad states, shapes, numbers, another serial) are refused."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from reconciler.errors import PermanentError, TemporaryError
from reconciler.shell.drivers import LinkState, RouterHealth, StatusKey, Target
from reconciler.shell.drivers.icom import DriverSettings, IcomDriver

SERIAL = "24130001"
INFO = {"status": {"list": [{"serial_number": SERIAL, "firmware_version": "10.6", "board_type": "MRX5 LTE",
                              "uptime": 42}]}}
WAN = {"status": {"list": [{"interface": "net2", "state": "up"}]}}


def listed(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"status": {"list": list(entries)}}


def health_with(answers: dict[str, Any]) -> RouterHealth:
    """The health the driver reads from a router answering `answers` (path → JSON, an int status, or a list of
    them in turn); paths not given answer 404."""
    remaining = {path: list(answer) if isinstance(answer, list) else [answer] for path, answer in answers.items()}

    async def handle(request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        if path == "auth/login":
            return web.json_response({"access": "token"})
        queue = remaining.get(path)
        if not queue:
            return web.json_response({"error": "not found"}, status=404)
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, int):
            return web.json_response({"error": "busy"}, status=answer)
        return web.json_response(answer)

    async def main() -> RouterHealth:
        app = web.Application()
        app.router.add_route("*", "/api/v2_0/{path:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        driver = IcomDriver(DriverSettings(retries=1, backoff=0.001))
        try:
            return await driver.health(Target("ber-r01", SERIAL, f"http://127.0.0.1:{port}", "admin", ("pw",),
                                              plain_http=True))
        finally:
            await driver.close()
            await runner.cleanup()

    return asyncio.run(main())


def test_a_router_without_status_calls_reports_identity_and_uptime_only() -> None:
    """Every status call 404: the health still names serial, model and firmware, with the uptime as its only value."""
    health = health_with({"status/device_info": INFO})
    assert (health.serial, health.model, health.firmware) == (SERIAL, "MRX5 LTE", "10.6")
    assert dict(health.status) == {StatusKey.SYSTEM_UPTIME: 42}


def test_a_busy_status_call_is_retried() -> None:
    """A 503 on status/wan is retried like any other call; the second answer counts."""
    health = health_with({"status/device_info": INFO, "status/wan": [503, WAN]})
    assert health.status[StatusKey.WAN_STATE] is LinkState.UP


def test_the_vpn_is_up_only_when_every_tunnel_is() -> None:
    """Two tunnels, one down: `vpn.state` down, two tunnels, one up; the modem's values as reported."""
    health = health_with({
        "status/device_info": INFO, "status/wan": WAN,
        "status/vpn": listed({"name": "a", "state": "up"}, {"name": "b", "state": "down"}),
        "status/cellular": listed({"interface": "wwan1", "state": "registered", "rssi_dbm": -90, "quality": "poor"}),
    })
    assert {key: health.status[key] for key in (StatusKey.VPN_STATE, StatusKey.VPN_TUNNELS, StatusKey.VPN_TUNNELS_UP,
                                                StatusKey.CELLULAR_SIGNAL_DBM, StatusKey.CELLULAR_QUALITY)} == {
        StatusKey.VPN_STATE: LinkState.DOWN, StatusKey.VPN_TUNNELS: 2, StatusKey.VPN_TUNNELS_UP: 1,
        StatusKey.CELLULAR_SIGNAL_DBM: -90, StatusKey.CELLULAR_QUALITY: "poor"}
    with pytest.raises(TypeError):
        health.status[StatusKey.WAN_STATE] = LinkState.DOWN  # type: ignore[index]


OFF_CONTRACT = [
    ({"status/wan": listed({"interface": "net2", "state": "sideways"})}, "GET /status/wan: not the documented"),
    ({"status/wan": listed({"state": "up"})}, "GET /status/wan: not the documented"),
    ({"status/wan": listed({"interface": "x" * 65, "state": "up"})}, "GET /status/wan: not the documented"),
    ({"status/vpn": {"status": {"list": "up"}}}, "GET /status/vpn: not the documented answer"),
    ({"status/vpn": {"status": []}}, "GET /status/vpn: not the documented answer"),
    ({"status/cellular": listed({"interface": "wwan1", "state": "registered", "rssi_dbm": "strong"})},
     "GET /status/cellular: not the documented answer .*rssi_dbm"),
    ({"status/cellular": listed({"interface": "wwan1", "state": "registered", "rssi_dbm": True})},
     "GET /status/cellular: not the documented answer"),
    ({"status/device_info": {"status": {"list": [{**INFO["status"]["list"][0], "serial_number": "24130002"}]}}},
     "has serial 24130002, not 24130001"),
    ({"status/device_info": {"status": {"list": [{**INFO["status"]["list"][0], "firmware_version": ""}]}}},
     "no firmware_version"),
    ({"status/wan": 400}, "GET /status/wan: 400"),
]


@pytest.mark.parametrize(("answers", "message"), OFF_CONTRACT, ids=[
    "state", "no-interface", "long-interface", "list", "status", "rssi", "rssi-bool", "serial", "firmware", "400"])
def test_an_answer_off_the_contract_is_a_permanent_error(answers: dict[str, Any], message: str) -> None:
    """A state other than up or down, a missing field, an overlong name, a wrong shape, a non-integer RSSI, another
    serial, an empty firmware, a refused call: PermanentError saying which call."""
    with pytest.raises(PermanentError, match=message):
        health_with({"status/device_info": INFO, "status/wan": WAN, **answers})


def test_a_status_call_failing_on_the_router_side_is_temporary() -> None:
    """A 500 that persists through the retries: TemporaryError naming the call (the engine may ask again later)."""
    with pytest.raises(TemporaryError, match="GET /status/wan: 500"):
        health_with({"status/device_info": INFO, "status/wan": 500})
