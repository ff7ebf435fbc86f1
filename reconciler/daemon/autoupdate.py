"""The auto-update endpoint (D0.17): routers behind NAT pull their state instead of being pushed.

Where it sits: `api.make_app` adds these routes when `autoupdate.enabled` is set in the daemon
configuration. `GET /autoupdate/list.txt` is the icom OS download list for the revision being
reconciled (`<serial>;/autoupdate/packets/<device>.tar`, one line per device, first match wins);
`GET /autoupdate/packets/<device>.tar` is that device's update packet: its fleet packets' files,
then its configuration (secrets unsealed: the packet is for the router only), with an `ETag` and
`Content-MD5` so the router's "header changed" precondition skips a packet it already has
(`If-None-Match` gets 304). The packets carry credentials: put the endpoint behind TLS, reachable
by the routers only, and set `autoupdate.username`/`password` (HTTP basic auth, as icom OS sends).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from reconciler.core.packets import build_packet, configuration_entry, packet_entries
from reconciler.core.rendering import RenderFailure
from reconciler.errors import ReconcilerError
from reconciler.shell.revisions import LoadedRevision
from reconciler.shell.targets import Unsealer

from .problems import HttpProblem, problem

LIST_PATH = "/autoupdate/list.txt"
PACKET_PREFIX = "/autoupdate/packets/"


@dataclass
class Packets:
    """The packets of the revision being reconciled, built on first request and kept until it changes."""

    revision: Callable[[], tuple[str, LoadedRevision] | None]  # (commit, revision) of the last good one
    secrets_key: Path | None
    username: str | None = None
    password: str | None = None
    _built: dict[str, bytes] = field(default_factory=dict)
    _commit: str | None = None

    def current(self) -> tuple[str, LoadedRevision]:
        found = self.revision()
        if found is None:
            raise problem(503, "no valid revision yet")
        if found[0] != self._commit:
            self._built, self._commit = {}, found[0]
        return found

    def listing(self) -> str:
        commit, revision = self.current()
        fleet = revision.build.fleet
        assert fleet is not None
        lines = [f"# reconciler auto-update list for {fleet.spec.name} at {commit[:12]}: <serial>;<path>"]
        lines += [f"{d.serial};{PACKET_PREFIX}{d.name}.tar" for d in sorted(fleet.devices.values(),
                                                                            key=lambda d: d.name)]
        return "\n".join(lines) + "\n"

    def packet(self, name: str) -> bytes:
        commit, revision = self.current()
        if name not in self._built:
            self._built[name] = _build(revision, commit, name, self.secrets_key)
        return self._built[name]

    def authorized(self, request: web.Request) -> bool:
        if not self.username:
            return True
        header = request.headers.get("Authorization", "")
        try:
            user, _, password = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user, self.username) and hmac.compare_digest(password, self.password or "")


def _build(revision: LoadedRevision, commit: str, name: str, secrets_key: Path | None) -> bytes:
    fleet = revision.build.fleet
    assert fleet is not None
    device = fleet.devices.get(name)
    if device is None:
        raise problem(404, f"no device named {name!r} at {commit[:12]}")
    desired = revision.renderer().render(device)
    if isinstance(desired, RenderFailure):
        raise problem(409, f"{name}: {desired.problem.message}")
    entries = [dataclasses.replace(entry, filename=f"{packet}-{entry.filename}")
               for packet in device.packets for entry in packet_entries(fleet.packets[packet], revision.source.files)]
    try:
        text = Unsealer(fleet, secrets_key).substitute(desired.config_text or "")
    except ReconcilerError as exc:
        raise problem(503, f"{name}: cannot unseal its secrets ({exc})") from None
    entries.append(configuration_entry(text, name, commit))
    return build_packet(entries)


def add_routes(app: web.Application, packets: Packets) -> None:
    async def listing(request: web.Request) -> web.Response:
        _check(request, packets)
        return web.Response(text=packets.listing(), content_type="text/plain")

    async def packet(request: web.Request) -> web.Response:
        _check(request, packets)
        data = packets.packet(request.match_info["name"])
        digest = hashlib.md5(data).digest()  # noqa: S324 - Content-MD5 is what the router checks
        etag = f'"{digest.hex()}"'
        headers = {"ETag": etag, "Content-MD5": base64.b64encode(digest).decode(), "Cache-Control": "no-cache"}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=data, headers=headers, content_type="application/x-tar")

    app.router.add_get(LIST_PATH, listing)
    app.router.add_get(PACKET_PREFIX + "{name}.tar", packet)


def _check(request: web.Request, packets: Packets) -> None:
    if not packets.authorized(request):
        raise HttpProblem(401, "Unauthorized", "the auto-update endpoint needs the configured user and password",
                      headers={"WWW-Authenticate": 'Basic realm="reconciler auto-update"'})
