"""The icom OS REST API v2 subset of docs/router-api.md sections 1–9, one handler per call.

Where it sits: `server.py` has already found the router, dropped the connection if the router is
unreachable, waited out the latency, answered 503 when busy and checked the bearer token; it then
calls the handler `ROUTES` names for the method and path. Handlers read the request, change the
router (`routers.py`, `updating.py`) and return the answer; a malformed request raises `BadRequest`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import BodyPartReader, web

from reconciler.simulator import status
from reconciler.simulator.configuration import render
from reconciler.simulator.packets import Entry, PacketError, read_packet
from reconciler.simulator.routers import Router, Simulator
from reconciler.simulator.updating import RUNNING, activate, perform_entry

Handler = Callable[[Simulator, Router, web.Request], Awaitable[web.Response]]
# Containers arrive in packets too; a simulator keeps no more than this of one upload in memory.
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
_VERSION = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){1,2}")


class BadRequest(Exception):
    """A request the router cannot make sense of (answered 400 with the message)."""


def answer(status: int, payload: Any) -> web.Response:
    """A JSON answer."""
    return web.Response(status=status, body=orjson.dumps(payload), content_type="application/json")


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; raises BadRequest."""
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"the body is not JSON: {error}") from error
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def text_field(body: dict[str, Any], name: str) -> str:
    """A string member of a JSON object; raises BadRequest."""
    value = body.get(name)
    if not isinstance(value, str):
        raise BadRequest(f"'{name}' must be a string")
    return value


async def login(simulator: Simulator, router: Router, request: web.Request) -> web.Response:
    """POST auth/login: a bearer token for a configured user, 401 otherwise."""
    body = await json_body(request)
    token = router.login(text_field(body, "username"), text_field(body, "password"), simulator.clock())
    if token is None:
        return answer(401, {"error": "invalid credentials"})
    return answer(200, {"access": token})


async def device_info(simulator: Simulator, router: Router, request: web.Request) -> web.Response:
    """GET status/device_info."""
    return answer(200, {"status": {"list": [{
        "serial_number": router.serial,
        "firmware_version": router.firmware,
        "board_type": router.model,
        "hostname": router.hostname(),
        "uptime": router.uptime(simulator.clock()),
    }]}})


def _status_list(entries: list[dict[str, Any]]) -> web.Response:
    return answer(200, {"status": {"list": entries}})


async def wan_status(simulator: Simulator, router: Router, request: web.Request) -> web.Response:
    """GET status/wan: the WAN link (one entry)."""
    return _status_list([status.wan(simulator, router)])


async def vpn_status(simulator: Simulator, router: Router, request: web.Request) -> web.Response:
    """GET status/vpn: one entry per configured tunnel (none without a VPN)."""
    return _status_list(status.tunnels(simulator, router))


async def cellular_status(simulator: Simulator, router: Router, request: web.Request) -> web.Response:
    """GET status/cellular: the modem and its signal (none on a model without a modem)."""
    return _status_list(status.cellular(simulator, router))


async def firmware(simulator: Simulator, router: Router, request: web.Request) -> web.Response:
    """GET firmware: the running icom OS version."""
    return answer(200, {"firmware": [{"type": "icom_os", "name": router.firmware}]})


async def install_firmware(simulator: Simulator, router: Router, request: web.Request) -> web.Response:
    """PUT firmware: install a version and, with issue_reset, reboot into it."""
    body = await json_body(request)
    if body.get("type") != "icom_os":
        raise BadRequest("'type' must be 'icom_os'")
    version = text_field(body, "name")
    if _VERSION.fullmatch(version) is None:
        return answer(400, {"error": f"firmware {version!r} is not installable on {router.model}"})
    router.pending_firmware = version
    router.history.append(f"firmware {version}")
    if body.get("issue_reset", True):
        simulator.reboot(router)
    return answer(200, {})


async def analyze(simulator: Simulator, router: Router, request: web.Request) -> web.Response:
    """POST upload/analyze: read a packet, check it, keep it under an identifier."""
    fields = await _form(request)
    if "fileinfo" not in fields or "filedata" not in fields:
        raise BadRequest("expected the form fields 'fileinfo' and 'filedata'")
    try:
        info = orjson.loads(fields["fileinfo"])
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"'fileinfo' is not JSON: {error}") from error
    profile = info.get("profile") if isinstance(info, dict) else None
    try:
        entries = read_packet(fields["filedata"])
    except PacketError as error:
        raise BadRequest(str(error)) from error
    identifier = router.keep_upload(entries, profile if isinstance(profile, str) else "", simulator.clock())
    return answer(201, {"identifier": identifier, "content": [_analysis(entry) for entry in entries]})


def _analysis(entry: Entry) -> dict[str, Any]:
    return {
        "entry": entry.number, "valid": entry.valid, "type": entry.filetype,
        "filename": entry.filename, "description": entry.description, "error": entry.error,
    }


async def _form(request: web.Request) -> dict[str, bytes]:
    if not request.content_type.startswith("multipart/"):
        raise BadRequest("expected multipart/form-data")
    reader = await request.multipart()
    fields: dict[str, bytes] = {}
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise BadRequest("nested multipart bodies are not supported")
        fields[part.name or ""] = await _read_part(part)
    return fields


async def _read_part(part: BodyPartReader) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk():
        size += len(chunk)
        if size > MAX_UPLOAD_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_UPLOAD_BYTES, actual_size=size)
        chunks.append(chunk)
    return b"".join(chunks)


async def perform(simulator: Simulator, router: Router, request: web.Request) -> web.Response:
    """POST upload/perform: run the requested entries of an analyzed packet, in the order given."""
    body = await json_body(request)
    requested = body.get("entries")
    if not isinstance(requested, list) or not all(isinstance(item, dict) for item in requested):
        raise BadRequest("'entries' must be a list of {entry, action} objects")
    upload = router.take_upload(text_field(body, "identifier"), simulator.clock())
    if upload is None:
        raise BadRequest("unknown or expired identifier")
    profile = body.get("profile") or upload.profile
    by_number = {entry.number: entry for entry in upload.entries}
    content = []
    for item in requested:
        number = item.get("entry")
        entry = by_number.get(number) if isinstance(number, int) else None
        if entry is None:
            error: str | None = f"the packet has no entry {number!r}"
        else:
            error = perform_entry(simulator, router, entry, str(item.get("action")), str(profile or ""))
            router.history.append(f"{item.get('action')} {entry.filename}{' (failed)' if error else ''}")
        content.append({"entry": number, "result": "failed" if error else "done", "error": error})
    return answer(201, {"content": content})


async def operation(simulator: Simulator, router: Router, request: web.Request) -> web.Response:
    """POST operation: the manual actions activate_profile and reboot."""
    body = await json_body(request)
    params = body.get("params")
    if body.get("method") != "manual_action" or not isinstance(params, dict):
        raise BadRequest("expected {'method': 'manual_action', 'params': {...}}")
    action = params.get("action")
    if action == "reboot":
        simulator.reboot(router)
        return answer(201, {})
    if action == "activate_profile":
        error = activate(simulator, router, text_field(params, "profile"))
        return answer(400, {"error": error}) if error else answer(201, {})
    raise BadRequest(f"unknown action {action!r} (expected activate_profile or reboot)")


async def configuration(simulator: Simulator, router: Router, request: web.Request) -> web.Response:
    """GET configuration?profile=running: the configuration as canonical ASCII text."""
    profile = request.query.get("profile", RUNNING)
    if profile == RUNNING:
        values = router.values_now(simulator.clock())
    elif router.profiles and profile in router.profiles:
        values = router.profiles[profile].values
    else:
        return answer(404, {"error": f"no profile named {profile!r}"})
    return web.Response(text=render(values), content_type="text/plain", charset="utf-8")


LOGIN = ("POST", "auth/login")
ROUTES: dict[tuple[str, str], Handler] = {
    LOGIN: login,
    ("GET", "status/device_info"): device_info,
    ("GET", "status/wan"): wan_status,
    ("GET", "status/vpn"): vpn_status,
    ("GET", "status/cellular"): cellular_status,
    ("GET", "firmware"): firmware,
    ("PUT", "firmware"): install_firmware,
    ("POST", "upload/analyze"): analyze,
    ("POST", "upload/perform"): perform,
    ("POST", "operation"): operation,
    ("GET", "configuration"): configuration,
}
