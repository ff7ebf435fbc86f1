"""The router's auto-update client (D0.17): pull a download list, fetch the packet if it changed, apply it.

Where it sits: the inspection endpoint `POST /d/<serial>/_sim/autoupdate` triggers it (a real
router does so on a timer or an SMS); the daemon's `/autoupdate/list.txt` and packets are the
other side. As icom OS does: the list has `<serial|*>;<absolute path to .tar>` lines and `#`
comments, the first line matching the router's serial wins; the precondition is a header (the
packet's ETag, or Content-MD5, must differ from the one last installed); every entry of the
packet is then performed with `apply` (configuration) or stored (other files), in manifest order.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import urljoin

import aiohttp

from reconciler.simulator.packets import PacketError, read_packet
from reconciler.simulator.routers import Router, Simulator
from reconciler.simulator.updating import perform_entry

TIMEOUT = aiohttp.ClientTimeout(total=30)


def pick(listing: str, serial: str) -> str | None:
    """The packet path for `serial` in a download list: the first line naming it or `*`."""
    for raw in listing.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or ";" not in line:
            continue
        who, path = (part.strip() for part in line.split(";", 1))
        if who in (serial, "*"):
            return path
    return None


async def pull(simulator: Simulator, router: Router, list_url: str, auth: aiohttp.BasicAuth | None) -> dict[str, Any]:
    """One auto-update run; what happened: no-entry, unchanged, applied (with each entry's error) or failed."""
    fetched = await _fetch(router, list_url, auth)
    if isinstance(fetched, dict):
        return fetched
    data, tag, declared = fetched
    if declared and base64.b64encode(hashlib.md5(data).digest()).decode() != declared:  # noqa: S324 - the header's
        return {"result": "failed", "error": "the packet does not match its Content-MD5"}
    if tag and tag == router.autoupdate_tag:
        return {"result": "unchanged"}
    return _install(simulator, router, data, tag)


async def _fetch(router: Router, list_url: str,
                 auth: aiohttp.BasicAuth | None) -> tuple[bytes, str, str | None] | dict[str, Any]:
    """The packet with its tag and declared MD5, or what stopped the run."""
    async with aiohttp.ClientSession(timeout=TIMEOUT, auth=auth) as session:
        async with session.get(list_url) as response:
            if response.status != 200:
                return {"result": "failed", "error": f"download list: HTTP {response.status}"}
            path = pick(await response.text(), router.serial)
        if path is None:
            return {"result": "no-entry"}
        headers = {"If-None-Match": router.autoupdate_tag} if router.autoupdate_tag else {}
        async with session.get(urljoin(list_url, path), headers=headers) as response:
            if response.status == 304:
                return {"result": "unchanged"}
            if response.status != 200:
                return {"result": "failed", "error": f"packet: HTTP {response.status}"}
            tag = response.headers.get("ETag") or response.headers.get("Content-MD5") or ""
            return await response.read(), tag, response.headers.get("Content-MD5")


def _install(simulator: Simulator, router: Router, data: bytes, tag: str) -> dict[str, Any]:
    try:
        entries = read_packet(data)
    except PacketError as error:
        return {"result": "failed", "error": str(error)}
    errors = []
    for entry in entries:
        failed = perform_entry(simulator, router, entry, "apply", "")
        router.history.append(f"autoupdate {entry.filename}{' (failed)' if failed else ''}")
        errors.append({"entry": entry.number, "filename": entry.filename, "error": failed})
    if not any(item["error"] for item in errors):
        router.autoupdate_tag = tag
    return {"result": "applied", "entries": errors}
