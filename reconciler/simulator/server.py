"""The simulator's HTTP(S) server: one aiohttp app, one catch-all route, routers found by serial.

Where it sits: `command.run` (and tests, in-process) call `start`, which returns a
`SimulatorHandle` with the base URL; every request to `/d/<serial>/...` comes through `_dispatch`,
which finds the router in the `Simulator` (`routers.py`) and either serves an inspection endpoint
(`inspection.py`) or passes an API call through the gates of docs/router-api.md to its handler
(`api.py`). Before either, a running confirm timer is settled (`Simulator.settle`).

    unreachable (offline, rebooting, management cut,  → the connection is dropped, no HTTP answer
    or a break rule cutting it off)
    latency drawn from the router's stream            → waited out
    busy (`_sim/busy` count, or the profile's share)  → 503 {"error": "busy"}
    no live bearer token (any call but login)         → 401 {"error": "unauthorized"}
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from aiohttp import web

from reconciler.simulator import api, inspection
from reconciler.simulator.fleet import Device
from reconciler.simulator.profiles import Behaviour
from reconciler.simulator.routers import Factory, Router, Simulator
from reconciler.simulator.tls import CA_FILE, server_context

API_PREFIX = "api/v2_0/"
SIM_PREFIX = "_sim/"
# JSON bodies stay small; packets come as multipart and are bounded in api.MAX_UPLOAD_BYTES.
MAX_JSON_BYTES = 4 * 1024 * 1024


@dataclass
class SimulatorHandle:
    """A running simulator: where it listens, its routers, and how to stop it."""

    simulator: Simulator
    url: str
    port: int
    ca_file: Path | None
    runner: web.AppRunner

    def router_url(self, serial: str) -> str:
        """The base URL of one router (`<url>/d/<serial>`)."""
        return f"{self.url}/d/{serial}"

    async def close(self) -> None:
        """Stop listening and close every connection."""
        await self.runner.cleanup()

    async def __aenter__(self) -> SimulatorHandle:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


async def start(
    devices: Iterable[Device],
    *,
    behaviour: Behaviour | None = None,
    seed: int = 1,
    host: str = "127.0.0.1",
    port: int = 0,
    tls_dir: Path | None = None,
    factory: Factory | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> SimulatorHandle:
    """Serve `devices` as virtual routers on host:port (0: an ephemeral port) until `close()`."""
    simulator = Simulator(devices, behaviour or Behaviour(), seed=seed, factory=factory, clock=clock)
    runner = web.AppRunner(make_app(simulator), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        context = server_context(tls_dir) if tls_dir is not None else None
        site = web.TCPSite(runner, host, port, ssl_context=context, backlog=1024)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1]
    scheme = "https" if tls_dir is not None else "http"
    url = f"{scheme}://{f'[{host}]' if ':' in host else host}:{bound}"
    return SimulatorHandle(simulator, url, bound, tls_dir / CA_FILE if tls_dir is not None else None, runner)


def make_app(simulator: Simulator) -> web.Application:
    """The aiohttp application serving every router of `simulator`."""
    app = web.Application(client_max_size=MAX_JSON_BYTES)

    async def dispatch(request: web.Request) -> web.StreamResponse:
        return await _dispatch(simulator, request)

    async def routers(request: web.Request) -> web.StreamResponse:
        return inspection.routers(simulator)

    async def health(request: web.Request) -> web.StreamResponse:
        return inspection.health(simulator)

    async def process_wide(request: web.Request) -> web.StreamResponse:
        return await inspection.process_wide(simulator, request)

    app.router.add_route("*", "/d/{serial}/{path:.*}", dispatch)
    app.router.add_get("/_sim/routers", routers)
    app.router.add_get("/_sim/health", health)
    app.router.add_route("*", "/_sim/{what:break|mend|reject|accept}", process_wide)
    return app


async def _dispatch(simulator: Simulator, request: web.Request) -> web.StreamResponse:
    router = simulator.routers.get(request.match_info["serial"])
    if router is None:
        return api.answer(404, {"error": f"no router with serial {request.match_info['serial']}"})
    simulator.settle(router)
    path = request.match_info["path"]
    if path.startswith(SIM_PREFIX):
        handler = inspection.ROUTES.get((request.method, path.removeprefix(SIM_PREFIX)))
        return await _run(handler, simulator, router, request)
    if path.startswith(API_PREFIX):
        return await _api_call(simulator, router, request, path.removeprefix(API_PREFIX))
    return api.answer(404, {"error": f"not found: /{path}"})


async def _api_call(simulator: Simulator, router: Router, request: web.Request, path: str) -> web.StreamResponse:
    if not simulator.reachable(router):
        _drop(request)
    router.requests += 1
    if await _waited_and_busy(simulator, router):
        return api.answer(503, {"error": "busy"})
    call = (request.method, path)
    if call != api.LOGIN and not router.authorized(_bearer(request), simulator.clock()):
        return api.answer(401, {"error": "unauthorized"})
    return await _run(api.ROUTES.get(call), simulator, router, request)


async def _waited_and_busy(simulator: Simulator, router: Router) -> bool:
    """Wait out this call's latency; whether it answers busy. Draws only from the router's stream."""
    behaviour = simulator.behaviour
    drawn_busy = False
    if behaviour.draws_per_call:
        stream = simulator.stream(router)
        delay = stream.latency(behaviour)
        drawn_busy = stream.busy(behaviour)
        if delay > 0:
            await asyncio.sleep(delay)
    if router.busy_count > 0:
        router.busy_count -= 1
        return True
    return drawn_busy


async def _run(
    handler: api.Handler | None, simulator: Simulator, router: Router, request: web.Request
) -> web.StreamResponse:
    if handler is None:
        return api.answer(404, {"error": f"no {request.method} {request.path}"})
    try:
        return await handler(simulator, router, request)
    except api.BadRequest as error:
        return api.answer(400, {"error": str(error)})


def _bearer(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _drop(request: web.Request) -> NoReturn:
    """Close the connection without an answer, as a router that is down or cut off would."""
    if request.transport is not None:
        request.transport.abort()
    # aiohttp writes nothing for a bare HTTPException once the transport is gone.
    raise web.HTTPException()
