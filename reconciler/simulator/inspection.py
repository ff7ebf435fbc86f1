"""The simulator's own endpoints (docs/router-api.md section 9): read and perturb a router by hand.

Where it sits: `server.py` sends `/d/<serial>/_sim/...` here without any of the API's gates (no
token, no latency, no 503, answered even when the router is unreachable), and `/_sim/routers` and
`/_sim/health` for the whole process. Tests and demos use these to make drift, take a router
offline, make it busy or put it back to factory state.
"""

from __future__ import annotations

import math
from typing import Any

import aiohttp
from aiohttp import web

from reconciler.simulator import autoupdating
from reconciler.simulator.api import Handler, answer, json_body
from reconciler.simulator.configuration import canonical_key, natural_key
from reconciler.simulator.routers import Router, Simulator

STORED_KINDS = {"certificates": "Certificate", "scripts": "Lua Script", "containers": "Container"}


async def state(simulator: Simulator, router: Router, request: web.Request) -> web.Response:
    """GET state: everything about the router (credentials hashed, as the router stores them)."""
    now = simulator.clock()
    return answer(200, {
        "serial": router.serial,
        "name": router.name,
        "model": router.model,
        "firmware": router.firmware,
        "online": router.online(now),
        "reachable": router.reachable(now),
        "configuration": dict(sorted(router.values_now(now).items(), key=lambda item: natural_key(item[0]))),
        "profiles": sorted(router.profiles or {}),
        **{name: router.stored_files(kind) for name, kind in STORED_KINDS.items()},
        "requests": router.requests,
        "history": list(router.history),
        "busy": router.busy_count,
    })


async def configure(simulator: Simulator, router: Router, request: web.Request) -> web.Response:
    """POST configuration: set and delete running-configuration keys by hand (drift)."""
    body = await _optional_body(request)
    changes = body.get("set", {})
    deletions = body.get("delete", [])
    if not isinstance(changes, dict) or not isinstance(deletions, list):
        return answer(400, {"error": "expected {'set': {key: value}, 'delete': [key, ...]}"})
    problem = _invalid_change(changes, deletions)
    if problem:
        return answer(400, {"error": problem})
    values = router.config.values
    for key in deletions:
        values.pop(key, None)
    store = simulator.hasher(router)
    for key, value in changes.items():
        values[key] = store(key, value)
    return answer(200, {})


def _invalid_change(changes: dict[str, Any], deletions: list[Any]) -> str | None:
    for key in [*changes, *deletions]:
        if not isinstance(key, str) or canonical_key(key) is None:
            return f"not a canonical configuration key (numeric indices only): {key!r}"
    for key, value in changes.items():
        if not isinstance(value, str):
            return f"the value of {key} must be a string"
        if "\n" in value and not value.startswith("-----BEGIN "):
            return f"a multi-line value must be a -----BEGIN x----- block: {key}"
    return None


async def offline(simulator: Simulator, router: Router, request: web.Request) -> web.Response:
    """POST offline: unreachable for `seconds`, or until `online`."""
    seconds = (await _optional_body(request)).get("seconds")
    if seconds is None:
        router.offline_until = math.inf
    elif isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds >= 0:
        router.offline_until = simulator.clock() + seconds
    else:
        return answer(400, {"error": "'seconds' must be a number of at least 0"})
    return answer(200, {})


async def online(simulator: Simulator, router: Router, request: web.Request) -> web.Response:
    """POST online: reachable again (a reboot in progress still runs its course)."""
    router.offline_until = 0.0
    return answer(200, {})


async def busy(simulator: Simulator, router: Router, request: web.Request) -> web.Response:
    """POST busy: the next `count` API calls answer 503."""
    count = (await _optional_body(request)).get("count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        return answer(400, {"error": "'count' must be a whole number of at least 0"})
    router.busy_count = count
    return answer(200, {})


async def reset(simulator: Simulator, router: Router, request: web.Request) -> web.Response:
    """POST reset: back to factory state."""
    simulator.reset(router)
    return answer(200, {})


async def autoupdate(simulator: Simulator, router: Router, request: web.Request) -> web.Response:
    """POST autoupdate {"list": URL, "username"?, "password"?}: run the router's auto-update client now."""
    body = await _optional_body(request)
    url = body.get("list")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return answer(400, {"error": "expected {'list': 'http(s)://…/list.txt'}"})
    user, password = body.get("username"), body.get("password")
    auth = aiohttp.BasicAuth(str(user), str(password or "")) if user else None
    try:
        return answer(200, await autoupdating.pull(simulator, router, url, auth))
    except (aiohttp.ClientError, TimeoutError) as error:
        return answer(200, {"result": "failed", "error": f"cannot reach the update server: {error}"})


async def _optional_body(request: web.Request) -> dict[str, Any]:
    return await json_body(request) if request.can_read_body else {}


def routers(simulator: Simulator) -> web.Response:
    """GET /_sim/routers: every router's serial, name, model, firmware and whether it is online."""
    now = simulator.clock()
    return answer(200, {"routers": [
        {"serial": r.serial, "name": r.name, "model": r.model, "firmware": r.firmware, "online": r.online(now)}
        for r in simulator.routers.values()
    ]})


def health(simulator: Simulator) -> web.Response:
    """GET /_sim/health: the process is serving."""
    return answer(200, {"status": "ok", "routers": len(simulator.routers), "profile": simulator.behaviour.name,
                        "seed": simulator.seed})


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "state"): state,
    ("POST", "configuration"): configure,
    ("POST", "offline"): offline,
    ("POST", "online"): online,
    ("POST", "busy"): busy,
    ("POST", "reset"): reset,
    ("POST", "autoupdate"): autoupdate,
}
