"""Helpers for the simulator's tests: a real server on 127.0.0.1, an aiohttp client, packets, a clock.

Every test runs its scenario with `simulate`, which starts the simulator in-process on an
ephemeral port, hands the scenario a `Client` over real sockets, and closes both afterwards.
Waiting is bounded polling (`eventually`), never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import ssl
import tarfile
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp

from reconciler.simulator.fleet import Device, generated_devices
from reconciler.simulator.server import SimulatorHandle, start

API = "/api/v2_0"
ASCII = "ASCII Configuration"
# Generated serials: 30000000 + i, models MRX5 LTE, MRX3 LTE, MRX6 DSL, SCR LTE, MRO-L200 in turn.
MRX5 = "30000000"
MRX3 = "30000001"
MRO = "30000004"


class ManualClock:
    """A monotonic clock the test moves forward by hand (virtual time)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Client:
    """An aiohttp client of one running simulator."""

    handle: SimulatorHandle
    session: aiohttp.ClientSession
    ssl_context: ssl.SSLContext | None = None

    def url(self, serial: str, path: str) -> str:
        return f"{self.handle.router_url(serial)}{path}"

    async def request(self, method: str, serial: str, path: str, *, token: str | None = None,
                      **kwargs: Any) -> tuple[int, Any]:
        """Status and body (JSON decoded, or text) of one call; raises on a dropped connection."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.request(method, self.url(serial, path), headers=headers,
                                        ssl=self.ssl_context or True, **kwargs) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()

    async def get_root(self, path: str) -> Any:
        """The JSON answer of a process-wide endpoint (`/_sim/routers`, `/_sim/health`)."""
        async with self.session.get(f"{self.handle.url}{path}", ssl=self.ssl_context or True) as response:
            assert response.status == 200
            return await response.json()

    async def login(self, serial: str, password: str = "admin", username: str = "admin") -> str:
        status, body = await self.request("POST", serial, f"{API}/auth/login",
                                          json={"username": username, "password": password})
        assert status == 200, body
        return str(body["access"])

    async def api(self, method: str, serial: str, path: str, token: str, **kwargs: Any) -> tuple[int, Any]:
        return await self.request(method, serial, f"{API}/{path}", token=token, **kwargs)

    async def sim(self, serial: str, what: str, body: dict[str, Any] | None = None) -> Any:
        """POST to an inspection endpoint; its JSON answer."""
        status, answer = await self.request("POST", serial, f"/_sim/{what}", json=body if body is not None else {})
        assert status == 200, answer
        return answer

    async def state(self, serial: str) -> dict[str, Any]:
        status, body = await self.request("GET", serial, "/_sim/state")
        assert status == 200
        return dict(body)

    async def status(self, serial: str, token: str, what: str) -> list[dict[str, Any]]:
        """The entries of a status call (`wan`, `vpn`, `cellular`)."""
        code, body = await self.api("GET", serial, f"status/{what}", token)
        assert code == 200, body
        return list(body["status"]["list"])

    async def running(self, serial: str, token: str) -> str:
        status, text = await self.api("GET", serial, "configuration?profile=running", token)
        assert status == 200, text
        return str(text)

    async def answers(self, serial: str) -> bool:
        """Whether the router answers an HTTP request at all."""
        try:
            await self.request("GET", serial, f"{API}/status/device_info")
        except aiohttp.ClientConnectionError:
            return False
        return True

    async def analyze(self, serial: str, token: str, packet: bytes, profile: str = "") -> tuple[int, Any]:
        form = aiohttp.FormData()
        form.add_field("fileinfo", json.dumps({"filename": f"reconciler-{serial}.tar", "profile": profile,
                                               "password": ""}), content_type="application/json")
        form.add_field("filedata", packet, filename="packet.tar", content_type="application/x-tar")
        return await self.api("POST", serial, "upload/analyze", token, data=form)

    async def install(self, serial: str, token: str, packet: bytes, action: str = "apply",
                      profile: str = "") -> list[dict[str, Any]]:
        """Analyze a packet and perform all its entries with `action`; the perform results."""
        status, analysis = await self.analyze(serial, token, packet, profile)
        assert status == 201, analysis
        entries = [{"entry": item["entry"], "action": action} for item in analysis["content"]]
        status, body = await self.api("POST", serial, "upload/perform", token,
                                      json={"identifier": analysis["identifier"], "profile": profile,
                                            "entries": entries})
        assert status == 201, body
        return list(body["content"])

    async def configure(self, serial: str, token: str, text: str, action: str = "apply",
                        profile: str = "") -> list[dict[str, Any]]:
        return await self.install(serial, token, packet([("config.txt", ASCII, text.encode())]), action, profile)


def packet(files: Iterable[tuple[str, str, bytes]], *, manifest_first: bool = True,
           md5: Callable[[bytes], str] | None = None) -> bytes:
    """An update packet: MANIFEST (name, FILETYPE, MD5SUM per file) and the files, as a tar."""
    files = list(files)
    digest = md5 or (lambda data: hashlib.md5(data).hexdigest())
    manifest = "".join(
        f"FILENAME={name}\nFILETYPE={kind}\nMD5SUM={digest(data)}\nDESCRIPTION={name} for the test\n"
        for name, kind, data in files
    ).encode()
    members = [("MANIFEST", manifest), *((name, data) for name, _, data in files)]
    if not manifest_first:
        members.reverse()
    return tar(members)


def tar(members: Iterable[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def simulate(scenario: Callable[[Client], Awaitable[None]], devices: Iterable[Device] | None = None,
             ssl_context: ssl.SSLContext | None = None, **options: Any) -> None:
    """Run `scenario` against a simulator started with `options` (perfect profile unless given)."""

    async def main() -> None:
        handle = await start(devices if devices is not None else generated_devices(5), **options)
        try:
            async with aiohttp.ClientSession() as session:
                await scenario(Client(handle, session, ssl_context))
        finally:
            await handle.close()

    asyncio.run(main())


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 5.0, what: str = "condition") -> None:
    """Poll `check` until it holds; fail after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not hold within {within} s")
        await asyncio.sleep(0.02)
