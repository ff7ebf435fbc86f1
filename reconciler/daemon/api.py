"""The daemon's HTTP side: the REST API under /api/v1, /metrics, health, and the auto-update files.

Where it sits: `service` builds the aiohttp application with `make_app(daemon)`; the handlers read
`Daemon.reconciler.status`, the last good revision and the store (through `views`), and wake the
reconciler. Every request under /api/v1 needs a bearer token (`tokens`) except the OpenAPI
document and the webhook (which has its own signature, `webhooks`). Errors are RFC 9457 problem
bodies (`application/problem+json`), never a traceback; every mutating call is audited with the
token's name. The document of all of it is `openapi.py`, served at /api/v1/openapi.json.

Request bodies are bounded in size (`MAX_BODY`), time (`Daemon.body_timeout`) and JSON nesting
(`MAX_DEPTH`); a client that goes away mid-request is no error of the daemon's (logged at debug).
/healthz and /readyz answer 503 while the reconcile loop is down (`supervision.LoopHealth`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from reconciler.core.presenting import data
from reconciler.errors import UsageError
from reconciler.shell import clock
from reconciler.shell.store import Store

from . import autoupdate, licensing, openapi, tokens, views, webhooks
from .listening import Connections
from .metrics import CONTENT_TYPE, Metrics
from .problems import TITLES, HttpProblem
from .reconciling import Reconciler
from .supervision import LoopHealth
from .tokens import Principal, Role

log = logging.getLogger("reconciler.daemon.api")
MAX_BODY = 1024 * 1024
MAX_DEPTH = 64  # JSON nesting in a request body; a push payload is about 5 deep
PUBLIC = frozenset({"/api/v1/openapi.json", "/api/v1/webhooks/git"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Daemon:
    """What the handlers need: the reconciler, the store, the metrics, the webhook secret, the loop's health."""

    reconciler: Reconciler
    store: Store
    metrics: Metrics
    webhook_secret: str | None
    ready: bool = False
    health: LoopHealth = field(default_factory=LoopHealth)
    body_timeout: float = 30.0
    connections: Connections | None = None  # the listener's guard (its middleware marks requests in progress)


DAEMON = web.AppKey("daemon", Daemon)
PRINCIPAL = "principal"


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error as a problem body; an unexpected exception is logged and answered 500 without details."""
    try:
        return await handler(request)
    except HttpProblem:
        raise
    except (ConnectionError, web.RequestPayloadError) as exc:  # the client went away or broke off its body
        log.debug("%s %s: the client broke off the request: %s", request.method, request.path, exc)
        raise HttpProblem(400, "Bad Request", "the request body was cut off") from None
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        raise HttpProblem(exc.status, TITLES.get(exc.status, exc.reason), exc.text or "") from None
    except Exception:
        log.exception("internal error answering %s %s", request.method, request.path)
        raise HttpProblem(500, "Internal Server Error", "the error is in the daemon's log") from None


@web.middleware
async def authentication(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/api/v1/") and request.path not in PUBLIC:
        principal = tokens.authenticate(request.app[DAEMON].store, request.headers.get("Authorization"))
        if principal is None:
            raise HttpProblem(401, "Unauthorized", "a valid bearer token is needed: Authorization: Bearer <token> "
                          "(reconciler token create)", headers={"WWW-Authenticate": "Bearer"})
        refused = licensing.api_licence_problem(request.app[DAEMON].reconciler.good, clock.now())
        if refused is not None:
            raise HttpProblem(403, "Forbidden", refused)
        request[PRINCIPAL] = principal
    return await handler(request)


def require(request: web.Request, role: Role) -> Principal:
    principal: Principal = request[PRINCIPAL]
    if not principal.allows(role):
        raise HttpProblem(403, "Forbidden", f"this needs the {role.value} role; the token {principal.name!r} is "
                      f"{principal.role.value}")
    return principal


def _daemon(request: web.Request) -> Daemon:
    return request.app[DAEMON]


def _int(request: web.Request, name: str, default: int, maximum: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 0 <= int(raw) <= maximum:
        raise HttpProblem(400, "Bad Request", f"query parameter {name}: a whole number 0–{maximum}, not {raw!r}")
    return int(raw)


async def _read_body(request: web.Request) -> bytes:
    """The whole body, within the daemon's body timeout (408 if it does not arrive)."""
    seconds = _daemon(request).body_timeout
    try:
        async with asyncio.timeout(seconds):
            return await request.read()
    except TimeoutError:
        raise HttpProblem(408, "Request Timeout", f"the request body did not arrive within {seconds:g}s") from None


def _parse_json(body: bytes) -> Any:
    """The body as JSON, nested at most MAX_DEPTH deep (400 otherwise); ValueError if it is not JSON."""
    try:
        parsed = json.loads(body)
    except RecursionError:
        parsed, deep = None, True
    else:
        deep = _depth(parsed) > MAX_DEPTH
    if deep:
        raise HttpProblem(400, "Bad Request", f"the JSON body is nested deeper than {MAX_DEPTH} levels")
    return parsed


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in `value` (without recursion: the value may be deep)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        node, level = pending.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is not None:
            deepest = max(deepest, level)
            pending.extend((child, level + 1) for child in children)
    return deepest


# --- reading ---------------------------------------------------------------------------------------------


async def status(request: web.Request) -> web.Response:
    return web.json_response(views.status_view(_daemon(request).reconciler.status))


async def devices(request: web.Request) -> web.Response:
    daemon = _daemon(request)
    fleet = daemon.reconciler.good.build.fleet if daemon.reconciler.good else None
    query = {key: request.query[key] for key in ("group", "model", "site", "status") if key in request.query}
    if "status" in query and query["status"] not in views.DEVICE_STATUSES:
        raise HttpProblem(400, "Bad Request", f"query parameter status: one of {', '.join(views.DEVICE_STATUSES)}, "
                      f"not {query['status']!r}")
    limit, offset = _int(request, "limit", 1000, 20_000), _int(request, "offset", 0, 10**9)
    found: list[dict[str, Any]] = []
    if fleet is not None:
        current = daemon.reconciler.status.devices
        states = daemon.store.device_states()
        drift = daemon.reconciler.status.drift
        summaries = (views.device_summary(d, current.get(d.name), states.get(d.name), drift)
                     for d in fleet.devices.values())
        found = [s for s in summaries if views.matches(s, query)]
    return web.json_response({"total": len(found), "devices": found[offset:offset + limit]})


async def device(request: web.Request) -> web.Response:
    daemon = _daemon(request)
    name = request.match_info["name"]
    fleet = daemon.reconciler.good.build.fleet if daemon.reconciler.good else None
    if fleet is None or name not in fleet.devices:
        raise HttpProblem(404, "Not Found", f"no device named {name!r} in the revision being reconciled")
    status = daemon.reconciler.status
    planned = views.plan_index(status.plan).get(name)
    body = views.device_detail(fleet.devices[name], status.devices.get(name), planned, daemon.store.device_state(name),
                               daemon.reconciler.status.drift, daemon.store.device_events(name),
                               daemon.store.drift_history(20, device=name))
    return web.json_response(body)


async def groups(request: web.Request) -> web.Response:
    daemon = _daemon(request)
    fleet = daemon.reconciler.good.build.fleet if daemon.reconciler.good else None
    found = views.group_views(fleet, daemon.reconciler.status.devices) if fleet is not None else []
    return web.json_response({"groups": found})


async def plan(request: web.Request) -> web.Response:
    current = _daemon(request).reconciler.status.plan
    if current is None:
        raise HttpProblem(404, "Not Found", "no plan yet: the first reconcile cycle has not finished")
    return web.json_response(data.plan_data(current))


async def drift(request: web.Request) -> web.Response:
    daemon = _daemon(request)
    current = daemon.reconciler.status.drift
    return web.json_response({
        "self_heal": daemon.reconciler.status.self_heal,
        "devices": [{"device": name, "summary": summary} for name, summary in sorted(current.items())],
        "history": [record.as_dict() for record in daemon.store.drift_history(_int(request, "limit", 100, 10_000))],
    })


async def runs(request: web.Request) -> web.Response:
    found = _daemon(request).store.runs(_int(request, "limit", 20, 1000))
    return web.json_response({"runs": [run.as_dict() for run in found]})


async def audit(request: web.Request) -> web.Response:
    """Newest first, like /runs: `offset` counts back from the newest row."""
    store = _daemon(request).store
    limit, offset = _int(request, "limit", 100, 1000), _int(request, "offset", 0, 10**9)
    total = store.audit_count()
    end = max(0, total - offset)  # the store pages oldest first: this page is its rows [start, end)
    start = max(0, end - limit)
    rows = store.audit_rows(end - start, start) if end > start else []
    return web.json_response({"total": total, "offset": offset, "rows": [row.as_dict() for row in reversed(rows)]})


# --- acting ----------------------------------------------------------------------------------------------


async def sync(request: web.Request) -> web.Response:
    principal = require(request, Role.OPERATOR)
    daemon = _daemon(request)
    daemon.reconciler.wake(f"sync requested by {principal.name}", full=True)
    daemon.store.audit(f"token:{principal.name}", "sync", [], daemon.reconciler.status.last_good, "requested")
    return web.json_response({"accepted": True}, status=202)


async def git_webhook(request: web.Request) -> web.Response:
    """Only a push to the followed branch fetches (and is audited); any other event is acknowledged, ignored."""
    daemon = _daemon(request)
    body = await _read_body(request)
    sender = webhooks.verify(daemon.webhook_secret, request.headers, body)
    if sender is None:
        detail = ("no webhook secret is configured (webhooks.secret_file in the daemon config)"
                  if not daemon.webhook_secret else "missing or wrong signature")
        raise HttpProblem(401, "Unauthorized", detail)
    try:
        payload = _parse_json(body)
    except ValueError:
        payload = None  # e.g. a form-encoded payload: no ref to act on (judge says so)
    verdict = webhooks.judge(request.headers, payload, daemon.reconciler.clone.source.branch)
    if not verdict.act:
        log.info("%s webhook ignored: %s", sender, verdict.reason)
        return web.json_response({"accepted": False, "reason": verdict.reason}, status=202)
    daemon.reconciler.wake(f"{sender} webhook", full=False)
    daemon.store.audit(f"webhook:{sender}", "fetch", [], None, "requested")
    return web.json_response({"accepted": True}, status=202)


async def list_tokens(request: web.Request) -> web.Response:
    require(request, Role.ADMIN)
    return web.json_response({"tokens": [token.as_dict() for token in _daemon(request).store.tokens()]})


async def create_token(request: web.Request) -> web.Response:
    principal = require(request, Role.ADMIN)
    daemon = _daemon(request)
    body = await _json_body(request)
    role, name = body.get("role"), body.get("name")
    if not isinstance(role, str) or (name is not None and not isinstance(name, str)):
        raise HttpProblem(400, "Bad Request", "expected {\"role\": \"viewer|operator|admin\", \"name\": \"optional\"}")
    try:
        made, secret = tokens.create(daemon.store, role, name, f"token:{principal.name}")
    except UsageError as exc:  # a bad role or name, a name taken
        raise HttpProblem(400, "Bad Request", str(exc)) from None
    daemon.store.audit(f"token:{principal.name}", "token-create", [], None, f"{made} ({role})")
    return web.json_response({"name": made, "role": role, "token": secret}, status=201)


async def revoke_token(request: web.Request) -> web.Response:
    principal = require(request, Role.ADMIN)
    daemon = _daemon(request)
    name = request.match_info["name"]
    if not daemon.store.revoke_token(name):
        raise HttpProblem(404, "Not Found", f"no live token named {name!r}")
    daemon.store.audit(f"token:{principal.name}", "token-revoke", [], None, name)
    return web.Response(status=204)


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise HttpProblem(415, "Unsupported Media Type", "send application/json")
    try:
        body = _parse_json(await _read_body(request))
    except ValueError:
        raise HttpProblem(400, "Bad Request", "the body is not JSON") from None
    if not isinstance(body, dict):
        raise HttpProblem(400, "Bad Request", "the body must be a JSON object")
    return body


async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(openapi.DOCUMENT)


# --- operations ------------------------------------------------------------------------------------------


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=_daemon(request).metrics.render(), headers={"Content-Type": CONTENT_TYPE})


async def healthz(request: web.Request) -> web.Response:
    """200 while the process serves and its reconcile loop runs; 503 while the loop is down (restarting)."""
    health = _daemon(request).health
    body = {"status": "ok" if health.running else "failing", "loop": _loop_view(health)}
    return web.json_response(body, status=200 if health.running else 503)


async def readyz(request: web.Request) -> web.Response:
    """200 once a valid revision is loaded and while the reconcile loop runs."""
    daemon = _daemon(request)
    ready = daemon.ready and daemon.health.running and daemon.reconciler.good is not None
    body = {"ready": ready, "state": daemon.reconciler.status.state, "loop": _loop_view(daemon.health)}
    return web.json_response(body, status=200 if ready else 503)


def _loop_view(health: LoopHealth) -> dict[str, Any]:
    return {"running": health.running, "restarts": health.restarts, "error": health.error,
            "down_since": health.down_since}


def make_app(daemon: Daemon, packets: autoupdate.Packets | None = None) -> web.Application:
    guard = [daemon.connections.middleware] if daemon.connections is not None else []
    app = web.Application(middlewares=[*guard, problems, authentication], client_max_size=MAX_BODY)
    app[DAEMON] = daemon
    add = app.router
    add.add_get("/api/v1/openapi.json", openapi_document)
    add.add_get("/api/v1/status", status)
    add.add_get("/api/v1/devices", devices)
    add.add_get("/api/v1/devices/{name}", device)
    add.add_get("/api/v1/groups", groups)
    add.add_get("/api/v1/plan", plan)
    add.add_get("/api/v1/drift", drift)
    add.add_get("/api/v1/runs", runs)
    add.add_get("/api/v1/audit", audit)
    add.add_post("/api/v1/sync", sync)
    add.add_post("/api/v1/webhooks/git", git_webhook)
    add.add_get("/api/v1/tokens", list_tokens)
    add.add_post("/api/v1/tokens", create_token)
    add.add_delete("/api/v1/tokens/{name}", revoke_token)
    add.add_get("/metrics", metrics)
    add.add_get("/healthz", healthz)
    add.add_get("/readyz", readyz)
    if packets is not None:
        autoupdate.add_routes(app, packets)
    return app
