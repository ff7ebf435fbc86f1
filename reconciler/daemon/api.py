"""The daemon's HTTP side: the REST API under /api/v1, /metrics, health, and the auto-update files.

Where it sits: `service` builds the aiohttp application with `make_app(daemon)`; the handlers read
`Daemon.reconciler.status`, the last good revision and the store (through `views`), and wake the
reconciler. Every request under /api/v1 needs a bearer token (`tokens`) except the OpenAPI
document and the webhook (which has its own signature, `webhooks`). Errors are RFC 9457 problem
bodies (`application/problem+json`), never a traceback; every mutating call is audited with the
token's name. The document of all of it is `openapi.py`, served at /api/v1/openapi.json.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from reconciler.core.presenting import data
from reconciler.errors import UsageError
from reconciler.shell import clock
from reconciler.shell.store import Store

from . import autoupdate, licensing, openapi, tokens, views, webhooks
from .metrics import CONTENT_TYPE, Metrics
from .problems import TITLES, Problem
from .reconciling import Reconciler
from .tokens import Principal, Role

log = logging.getLogger("reconciler.daemon.api")
MAX_BODY = 1024 * 1024
PUBLIC = frozenset({"/api/v1/openapi.json", "/api/v1/webhooks/git"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Daemon:
    """What the handlers need: the reconciler, the store, the metrics, the webhook secret."""

    reconciler: Reconciler
    store: Store
    metrics: Metrics
    webhook_secret: str | None
    ready: bool = False


DAEMON = web.AppKey("daemon", Daemon)
PRINCIPAL = "principal"


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error as a problem body; an unexpected exception is logged and answered 500 without details."""
    try:
        return await handler(request)
    except Problem:
        raise
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        raise Problem(exc.status, TITLES.get(exc.status, exc.reason), exc.text or "") from None
    except Exception:
        log.exception("internal error answering %s %s", request.method, request.path)
        raise Problem(500, "Internal Server Error", "the error is in the daemon's log") from None


@web.middleware
async def authentication(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/api/v1/") and request.path not in PUBLIC:
        principal = tokens.authenticate(request.app[DAEMON].store, request.headers.get("Authorization"))
        if principal is None:
            raise Problem(401, "Unauthorized", "a valid bearer token is needed: Authorization: Bearer <token> "
                          "(reconciler token create)", headers={"WWW-Authenticate": "Bearer"})
        refused = licensing.api_licence_problem(request.app[DAEMON].reconciler.good, clock.now())
        if refused is not None:
            raise Problem(403, "Forbidden", refused)
        request[PRINCIPAL] = principal
    return await handler(request)


def require(request: web.Request, role: Role) -> Principal:
    principal: Principal = request[PRINCIPAL]
    if not principal.allows(role):
        raise Problem(403, "Forbidden", f"this needs the {role.value} role; the token {principal.name!r} is "
                      f"{principal.role.value}")
    return principal


def _daemon(request: web.Request) -> Daemon:
    return request.app[DAEMON]


def _int(request: web.Request, name: str, default: int, maximum: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 0 <= int(raw) <= maximum:
        raise Problem(400, "Bad Request", f"query parameter {name}: a whole number 0–{maximum}, not {raw!r}")
    return int(raw)


# --- reading ---------------------------------------------------------------------------------------------


async def status(request: web.Request) -> web.Response:
    return web.json_response(views.status_view(_daemon(request).reconciler.status))


async def devices(request: web.Request) -> web.Response:
    daemon = _daemon(request)
    fleet = daemon.reconciler.good.build.fleet if daemon.reconciler.good else None
    query = {key: request.query[key] for key in ("group", "model", "site", "status") if key in request.query}
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
        raise Problem(404, "Not Found", f"no device named {name!r} in the revision being reconciled")
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
        raise Problem(404, "Not Found", "no plan yet: the first reconcile cycle has not finished")
    return web.json_response(data.plan_data(current))


async def drift(request: web.Request) -> web.Response:
    daemon = _daemon(request)
    current = daemon.reconciler.status.drift
    return web.json_response({
        "self_heal": daemon.reconciler.status.self_heal,
        "devices": [{"device": name, "summary": summary} for name, summary in sorted(current.items())],
        "history": daemon.store.drift_history(_int(request, "limit", 100, 10_000)),
    })


async def runs(request: web.Request) -> web.Response:
    return web.json_response({"runs": _daemon(request).store.runs(_int(request, "limit", 20, 1000))})


async def audit(request: web.Request) -> web.Response:
    store = _daemon(request).store
    limit, offset = _int(request, "limit", 100, 1000), _int(request, "offset", 0, 10**9)
    rows = store.audit_rows(limit, offset)
    return web.json_response({"total": store.audit_count(), "offset": offset,
                              "rows": [row.as_dict() for row in rows]})


# --- acting ----------------------------------------------------------------------------------------------


async def sync(request: web.Request) -> web.Response:
    principal = require(request, Role.OPERATOR)
    daemon = _daemon(request)
    daemon.reconciler.wake(f"sync requested by {principal.name}", full=True)
    daemon.store.audit(f"token:{principal.name}", "sync", [], daemon.reconciler.status.last_good, "requested")
    return web.json_response({"accepted": True}, status=202)


async def git_webhook(request: web.Request) -> web.Response:
    daemon = _daemon(request)
    body = await request.read()
    sender = webhooks.verify(daemon.webhook_secret, request.headers, body)
    if sender is None:
        detail = ("no webhook secret is configured (webhooks.secret_file in the daemon config)"
                  if not daemon.webhook_secret else "missing or wrong signature")
        raise Problem(401, "Unauthorized", detail)
    branch = webhooks.pushed_branch(_json_or_none(body))
    following = daemon.reconciler.follower.source.branch
    if branch is not None and branch != following:
        return web.json_response({"accepted": False, "reason": f"a push to {branch}, not {following}"}, status=202)
    daemon.reconciler.wake(f"{sender} webhook", full=False)
    daemon.store.audit(f"webhook:{sender}", "fetch", [], None, "requested")
    return web.json_response({"accepted": True}, status=202)


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


async def list_tokens(request: web.Request) -> web.Response:
    require(request, Role.ADMIN)
    return web.json_response({"tokens": _daemon(request).store.tokens()})


async def create_token(request: web.Request) -> web.Response:
    principal = require(request, Role.ADMIN)
    daemon = _daemon(request)
    body = await _json_body(request)
    role, name = body.get("role"), body.get("name")
    if not isinstance(role, str) or (name is not None and not isinstance(name, str)):
        raise Problem(400, "Bad Request", "expected {\"role\": \"viewer|operator|admin\", \"name\": \"optional\"}")
    try:
        made, secret = tokens.create(daemon.store, role, name, f"token:{principal.name}")
    except UsageError as exc:  # a bad role or name, a name taken
        raise Problem(400, "Bad Request", str(exc)) from None
    daemon.store.audit(f"token:{principal.name}", "token-create", [], None, f"{made} ({role})")
    return web.json_response({"name": made, "role": role, "token": secret}, status=201)


async def revoke_token(request: web.Request) -> web.Response:
    principal = require(request, Role.ADMIN)
    daemon = _daemon(request)
    name = request.match_info["name"]
    if not daemon.store.revoke_token(name):
        raise Problem(404, "Not Found", f"no live token named {name!r}")
    daemon.store.audit(f"token:{principal.name}", "token-revoke", [], None, name)
    return web.Response(status=204)


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise Problem(415, "Unsupported Media Type", "send application/json")
    try:
        body = json.loads(await request.read())
    except ValueError:
        raise Problem(400, "Bad Request", "the body is not JSON") from None
    if not isinstance(body, dict):
        raise Problem(400, "Bad Request", "the body must be a JSON object")
    return body


async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(openapi.DOCUMENT)


# --- operations ------------------------------------------------------------------------------------------


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=_daemon(request).metrics.render(), headers={"Content-Type": CONTENT_TYPE})


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    daemon = _daemon(request)
    ready = daemon.ready and daemon.reconciler.good is not None
    body = {"ready": ready, "state": daemon.reconciler.status.state}
    return web.json_response(body, status=200 if ready else 503)


def make_app(daemon: Daemon, packets: autoupdate.Packets | None = None) -> web.Application:
    app = web.Application(middlewares=[problems, authentication], client_max_size=MAX_BODY)
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
