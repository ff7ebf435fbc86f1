"""The simulator's own endpoints (docs/router-api.md section 10): read and perturb a router by hand.

Where it sits: `server.py` sends `/d/<serial>/_sim/...` here without any of the API's gates (no
token, no latency, no 503, answered even when the router is unreachable), and `/_sim/routers` and
`/_sim/health` for the whole process. Tests and demos use these to make drift, take a router
offline, make it busy, break it (`rules.py`), set its signal or put it back to factory state;
`/_sim/break` and `/_sim/mend` set break rules for every router.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import aiohttp
from aiohttp import web

from reconciler.simulator import autoupdating, status
from reconciler.simulator.api import Handler, answer, json_body
from reconciler.simulator.configuration import canonical_key, natural_key
from reconciler.simulator.profiles import Rejection
from reconciler.simulator.routers import MAX_BREAKS, Router, Simulator
from reconciler.simulator.rules import Break

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
        "reachable": simulator.reachable(router),
        "status": status.summary(simulator, router),
        "breaks": [rule.text() for rule in simulator.rules(router)],
        "revert_in": max(0.0, router.revert_at - now) if router.checkpoint is not None else None,
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


async def break_router(simulator: Simulator, router: Router, request: web.Request) -> web.Response:
    """POST break {"key", "value", "vpn_only"?, "cuts_management"?}: a break rule for this router alone."""
    rule = _rule(await _optional_body(request), router.model)
    if isinstance(rule, str):
        return answer(400, {"error": rule})
    if len(router.breaks or ()) >= MAX_BREAKS:
        return answer(400, {"error": f"a router takes at most {MAX_BREAKS} break rules of its own"})
    router.breaks = [*(router.breaks or ()), rule]
    return answer(200, {"breaks": [rule.text() for rule in simulator.rules(router)]})


async def mend(simulator: Simulator, router: Router, request: web.Request) -> web.Response:
    """POST mend: drop this router's own break rules (the process's stay)."""
    router.breaks = None
    return answer(200, {"breaks": [rule.text() for rule in simulator.rules(router)]})


async def signal(simulator: Simulator, router: Router, request: web.Request) -> web.Response:
    """POST signal {"rssi_dbm": n}: the modem's signal from now on; `{}`: back to the one drawn for it."""
    rssi = (await _optional_body(request)).get("rssi_dbm")
    if rssi is not None and not (isinstance(rssi, int) and not isinstance(rssi, bool) and -150 <= rssi <= 0):
        return answer(400, {"error": "'rssi_dbm' must be a whole number from -150 to 0"})
    router.signal = rssi
    return answer(200, {})


async def process_wide(simulator: Simulator, request: web.Request) -> web.Response:
    """`/_sim/break`: GET the process's break rules, POST one more {"model", "key", "value", ...};
    POST `/_sim/mend`: drop them all (those given at start too); POST `/_sim/reject` {"model", "key"}: that
    model refuses keys the glob matches from now on, as `--reject`; POST `/_sim/accept`: no model refuses any."""
    what, method = request.match_info["what"], request.method
    if what in ("reject", "accept") and method == "POST":
        return await _rejections(simulator, what, request)
    if what == "break" and method == "POST":
        rule = _rule(await _optional_body(request), None)
        if isinstance(rule, str):
            return answer(400, {"error": rule})
        if len(simulator.breaks) >= 8 * MAX_BREAKS:
            return answer(400, {"error": f"the process takes at most {8 * MAX_BREAKS} break rules"})
        simulator.breaks.append(rule)
    elif what == "mend" and method == "POST":
        simulator.breaks.clear()
    elif not (what == "break" and method == "GET"):
        return answer(405, {"error": f"no {method} /_sim/{what}"})
    return answer(200, {"breaks": [rule.text() for rule in simulator.breaks]})


async def _rejections(simulator: Simulator, what: str, request: web.Request) -> web.Response:
    rejections: tuple[Rejection, ...] = ()
    if what == "reject":
        body = await _optional_body(request)
        model, key = body.get("model"), body.get("key")
        if not isinstance(model, str) or not isinstance(key, str) or not model.strip() or not key.strip():
            return answer(400, {"error": "'model' and 'key' must be non-empty strings"})
        if len(simulator.behaviour.rejections) >= 8 * MAX_BREAKS:
            return answer(400, {"error": f"the process takes at most {8 * MAX_BREAKS} rejections"})
        rejections = (*simulator.behaviour.rejections, Rejection(model.strip(), key.strip()))
    simulator.behaviour = replace(simulator.behaviour, rejections=rejections)
    return answer(200, {"rejections": [f"{r.model}={r.glob}" for r in rejections]})


def _rule(body: dict[str, Any], model: str | None) -> Break | str:
    """The break rule a JSON body describes (for `model`, or the body's), or what is wrong with it."""
    texts: dict[str, str] = {}
    for name in ("model", "key", "value"):
        text = body.get(name, model if name == "model" else None)
        if not isinstance(text, str):
            return f"'{name}' must be a string"
        texts[name] = text
    flags = {name: body.get(name, False) for name in ("vpn_only", "cuts_management")}
    for name, flag in flags.items():
        if not isinstance(flag, bool):
            return f"'{name}' must be true or false"
    if model is not None and texts["model"] != model:
        return f"a router's own rule is for its model ({model}); use /_sim/break for other models"
    try:
        return Break(texts["model"], texts["key"], texts["value"], **flags)
    except ValueError as error:
        return str(error)


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
    ("POST", "break"): break_router,
    ("POST", "mend"): mend,
    ("POST", "signal"): signal,
}
