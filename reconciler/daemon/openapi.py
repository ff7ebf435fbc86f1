"""The OpenAPI 3.1 document of the daemon's API (D0.22), served at /api/v1/openapi.json.

Where it sits: `api` serves `DOCUMENT` as it is; the tests validate it (openapi-spec-validator),
check every answer against it, and let schemathesis loose on it. Keep it next to the handlers'
shapes in `views.py` and `api.py`: a change to one is a change to the other.
"""

from __future__ import annotations

from typing import Any

from reconciler import __version__

from .views import DEVICE_STATUSES


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _object(properties: dict[str, Any], required: list[str] | None = None, extra: bool = False) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties) if required is None else required,
            "additionalProperties": extra}


_STR = {"type": "string"}
_INT = {"type": "integer", "minimum": 0}
_BOOL = {"type": "boolean"}
_COUNTS = {"type": "object", "additionalProperties": _INT}
_NSTR = _nullable(_STR)

_SUMMARY: dict[str, Any] = {
    "name": _STR, "serial": _STR, "model": _STR, "groups": {"type": "array", "items": _STR}, "site": _NSTR,
    "status": {"enum": list(DEVICE_STATUSES)},
    "drifted": _BOOL, "firmware": _object({"desired": _NSTR, "applied": _NSTR}),
    "last_seen": _NSTR, "last_outcome": _NSTR,
}

_SCHEMAS: dict[str, Any] = {
    "Problem": _object({"type": _STR, "title": _STR, "status": {"type": "integer"}, "detail": _STR},
                       required=["type", "title", "status"]),
    "Cycle": _object({"reason": _STR, "revision": _STR, "started_at": _STR, "finished_at": _STR,
                      "seconds": {"type": "number"}, "plan": _COUNTS, "outcomes": _COUNTS, "drifted": _INT,
                      "interrupted": _BOOL}),
    "Status": _object({
        "state": {"enum": ["starting", "ok", "degraded"]},
        "degraded": _NSTR,
        "source": _STR,
        "revision": _object({"desired": _NSTR, "last_good": _NSTR, "applied": _NSTR}),
        "problems": {"type": "array", "items": {"type": "object"}},
        "counts": _COUNTS, "drifted": _INT, "self_heal": _BOOL, "reconciling": _BOOL, "cycles": _INT,
        "entitlements": {"type": "array", "items": _STR, "description": "licence and credit warnings"},
        "incidents": {"type": "array", "items": _object({
            "device": _STR, "event": _STR, "priority": _STR, "opened_at": _STR, "plan": _NSTR,
            "reaction_due": _NSTR}), "description": "unreachable routers as D4.9 incidents"},
        "last_cycle": _nullable(_ref("Cycle")),
    }),
    "DeviceSummary": _object(_SUMMARY),
    "DeviceList": _object({"total": _INT, "devices": {"type": "array", "items": _ref("DeviceSummary")}}),
    "Event": _object({"at": _STR, "run": _INT, "kind": _STR, "step": _STR, "outcome": _STR, "detail": _STR}),
    "DriftEntry": _object({"at": _STR, "device": _STR, "revision": _NSTR, "summary": _STR,
                           "action": {"enum": ["corrected", "reported"]}}),
    "Device": _object({
        **_SUMMARY, "description": _STR, "template": _NSTR,
        "packets": _object({"desired": {"type": "array", "items": _STR}, "applied": {"type": ["object", "null"]}}),
        "location": _nullable(_object({"site": _STR, "description": _STR, "lat": {"type": "number"},
                                       "lon": {"type": "number"}, "timezone": _STR, "country": _NSTR})),
        "last_connection": _NSTR, "last_detail": _NSTR, "applied_revision": _NSTR,
        "actions": {"type": "array", "items": _object({"kind": _STR, "summary": _STR, "reason": _STR})},
        "notes": {"type": "array", "items": _STR}, "drift": _NSTR,
        "events": {"type": "array", "items": _ref("Event")},
        "drift_history": {"type": "array", "items": _ref("DriftEntry")},
    }),
    "GroupList": _object({"groups": {"type": "array", "items": _object(
        {"name": _STR, "description": _STR, "devices": _INT, "statuses": _COUNTS})}}),
    "Plan": {"type": "object", "required": ["revision", "devices", "counts"],
             "properties": {"revision": _NSTR, "counts": _COUNTS, "devices": {"type": "array",
                                                                             "items": {"type": "object"}}}},
    "Drift": _object({"self_heal": _BOOL, "devices": {"type": "array", "items": _object(
        {"device": _STR, "summary": _STR})}, "history": {"type": "array", "items": _ref("DriftEntry")}}),
    "RunList": _object({"runs": {"type": "array", "items": _object({
        "id": _INT, "kind": _STR, "actor": _STR, "started_at": _STR, "finished_at": _NSTR, "revision": _NSTR,
        "status": _STR, "counts": _COUNTS})}}),
    "AuditPage": _object({"total": _INT, "offset": _INT, "rows": {"type": "array", "items": _object({
        "id": _INT, "at": _STR, "actor": _STR, "action": _STR, "devices": {"type": "array", "items": _STR},
        "revision": _NSTR, "outcome": _STR, "detail": _STR, "run": _nullable(_INT), "hash": _STR})}}),
    "Accepted": _object({"accepted": _BOOL, "reason": _STR}, required=["accepted"]),
    "TokenList": _object({"tokens": {"type": "array", "items": _object({
        "name": _STR, "role": {"enum": ["viewer", "operator", "admin"]}, "created_at": _STR, "created_by": _STR,
        "revoked_at": _NSTR})}}),
    "NewToken": _object({"role": {"enum": ["viewer", "operator", "admin"]},
                         "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"}},
                        required=["role"]),
    "CreatedToken": _object({"name": _STR, "role": _STR, "token": _STR}),
}


def _json(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": _ref("Problem")}}}


_AUTH = {"401": _problem("no valid bearer token")}
_FORBIDDEN = {"403": _problem("the token's role is too low")}
_BAD = {"400": _problem("a query parameter or the body is wrong")}


def _page(name: str, maximum: int) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0,
                                                                        "maximum": maximum}}


def _filter(name: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}


def _get(operation: str, summary: str, schema: str, *, params: list[dict[str, Any]] | None = None,
         extra: dict[str, Any] | None = None, description: str | None = None) -> dict[str, Any]:
    responses = {"200": _json(schema, summary), **_AUTH, **(_BAD if params else {}), **(extra or {})}
    return {"get": {"operationId": operation, "summary": summary, **({"description": description} if description
                                                                     else {}),
                    "parameters": params or [], "responses": responses}}


_NEWEST_FIRST = "Newest first (the highest id first), like /runs and /audit; `offset` counts back from the newest."
_SLOW_BODY = {"408": _problem("the body did not arrive within the daemon's http.body_timeout")}
_WEBHOOK = """Signed like the git host signs it (GitHub `X-Hub-Signature-256`, Gitea `X-Gitea-Signature`,
GitLab `X-Gitlab-Token`, or `X-Signature-256: sha256=<HMAC-SHA256>`). Only a push to the followed branch
fetches at once and is audited (GitHub and Gitea `X-GitHub-Event`/`X-Gitea-Event: push`, GitLab
`X-Gitlab-Event: Push Hook`; without an event header, a JSON body whose `ref` is `refs/heads/<branch>`).
A ping, a tag push, a push to another branch or any other event is answered 202 with `accepted: false`
and the reason, and changes nothing."""

_PATHS: dict[str, Any] = {
    "/api/v1/status": _get("getStatus", "revision applied and desired, last good, degraded reason, counts",
                           "Status"),
    "/api/v1/devices": _get("listDevices", "devices, filtered by group, model, site, status", "DeviceList", params=[
        _filter("group"), _filter("model"), _filter("site"),
        {**_filter("status"), "schema": {"enum": list(DEVICE_STATUSES)}}, _page("limit", 20_000),
        _page("offset", 10**9)]),
    "/api/v1/devices/{name}": {"get": {
        "operationId": "getDevice",
        "summary": "one device: serial, model, firmware, location, last connection, outcome, recent events",
        "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": _json("Device", "the device"), **_AUTH, "404": _problem("no such device")}}},
    "/api/v1/groups": _get("listGroups", "groups with their number of devices by status", "GroupList"),
    "/api/v1/plan": _get("getPlan", "the plan of the last cycle (per-device actions)", "Plan",
                         extra={"404": _problem("no cycle has finished yet")}),
    "/api/v1/drift": _get("getDrift", "drifted devices now, and the drift history", "Drift",
                          params=[_page("limit", 10_000)]),
    "/api/v1/runs": _get("listRuns", "the newest runs (reconcile cycles that applied something)", "RunList",
                         params=[_page("limit", 1000)], description=_NEWEST_FIRST),
    "/api/v1/audit": _get("listAudit", "the audit log, paged (D0.19)", "AuditPage",
                          params=[_page("limit", 1000), _page("offset", 10**9)], description=_NEWEST_FIRST),
    "/api/v1/sync": {"post": {"operationId": "requestSync", "summary": "reconcile now (operator)", "responses": {
        "202": _json("Accepted", "a cycle will start"), **_AUTH, **_FORBIDDEN}}},
    "/api/v1/webhooks/git": {"post": {
        "operationId": "receiveGitWebhook",
        "summary": "a push to the followed repository: fetch now (GitHub, GitLab, Gitea or generic HMAC-SHA256)",
        "description": _WEBHOOK,
        "security": [],
        "parameters": [{"name": header, "in": "header", "required": False, "schema": {"type": "string"}}
                       for header in ("X-Hub-Signature-256", "X-Gitlab-Token", "X-Gitea-Signature",
                                      "X-Signature-256", "X-GitHub-Event", "X-Gitea-Event", "X-Gitlab-Event")],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {}}}},
        "responses": {"202": _json("Accepted", "signature valid; `accepted` says whether it is acted on"),
                      "400": _problem("the JSON body is nested too deeply"),
                      "401": _problem("missing or wrong signature"), **_SLOW_BODY}}},
    "/api/v1/tokens": {
        "get": {"operationId": "listTokens", "summary": "API tokens (admin)",
                "responses": {"200": _json("TokenList", "tokens, never secrets"), **_AUTH, **_FORBIDDEN}},
        "post": {"operationId": "createToken", "summary": "create a token (admin); the secret is shown once",
                 "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("NewToken")}}},
                 "responses": {"201": _json("CreatedToken", "the new token"), **_AUTH, **_FORBIDDEN, **_BAD,
                               "415": _problem("not JSON"), **_SLOW_BODY}}},
    "/api/v1/tokens/{name}": {"delete": {
        "operationId": "revokeToken", "summary": "revoke a token (admin)",
        "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"204": {"description": "revoked"}, **_AUTH, **_FORBIDDEN, "404": _problem("no such token")}}},
    "/api/v1/openapi.json": {"get": {"operationId": "getOpenApiDocument", "summary": "this document", "security": [],
                                     "responses": {"200": {"description": "OpenAPI 3.1",
                                                           "content": {"application/json": {"schema": {}}}}}}},
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "reconciler daemon API", "version": __version__,
             "description": "GitOps reconciliation of icom OS router fleets: status, devices, plan, drift, "
                            "runs and the audit log; `POST /sync` reconciles now. Bearer tokens with roles "
                            "viewer < operator < admin (`reconciler token create`)."},
    "servers": [{"url": "/"}],
    "security": [{"bearer": []}],
    "paths": _PATHS,
    "components": {"schemas": _SCHEMAS,
                   "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
}
