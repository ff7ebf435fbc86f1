"""The icom OS driver: the REST API v2 of INSYS routers (docs/router-api.md) over aiohttp.

Where it sits: behind the `Driver` protocol; `observing` and `applying` call it. One
`ClientSession` with pooled keep-alive connections serves every router; a bearer token is kept per
router and renewed on 401; TLS is verified against the fleet's CA (or the system's), and nothing
is sent over plain HTTP unless the target allows it (the simulator on loopback, a lab fleet); busy
answers (503), timeouts and broken connections are retried with jittered exponential backoff, a bounded
number of times, and then become `TemporaryError`s; answers that retrying cannot fix become
`PermanentError`s. aiohttp's own exceptions are translated here, where they enter. `health` reads
the status calls the same way; a router without one of them (404) simply reports none of its values.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from reconciler.errors import BusyError, DriverError, PermanentError, TemporaryError
from reconciler.shell.clock import SYSTEM, Clock
from reconciler.shell.drivers import (
    FirmwareStep,
    LinkState,
    PacketStep,
    Reading,
    RouterHealth,
    StatusKey,
    StatusValue,
    Step,
    Target,
)
from reconciler.shell.retrying import Backoff, with_retries

API = "/api/v2_0"
_TRANSIENT = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError)
# What a router reports goes into rollout decisions and logs: names longer than this are not its own.
MAX_STATUS_TEXT = 64


@dataclass(frozen=True)
class DriverSettings:
    """The driver's knobs (fleet.yaml `management`, overridable on the command line)."""

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retries: int = 4
    backoff: float = 0.5  # first retry after about this long, doubling, jittered ±50 %
    backoff_cap: float = 30.0
    reboot_timeout: float = 600.0
    poll_interval: float = 2.0  # while a router reboots
    ca_pem: str | None = None  # the CA routers' certificates are verified against (default: the system's)
    verify_tls: bool = True
    connections: int = 100  # pooled connections in all
    # told (method, what came back: a status code or "error", seconds) after every request (the daemon's metrics)
    on_request: Callable[[str, str, float], None] | None = field(default=None, compare=False)


class IcomDriver:
    """A `Driver` for icom OS routers. Create it inside the event loop that uses it."""

    def __init__(self, settings: DriverSettings | None = None, tokens: dict[str, str] | None = None,
                 clock: Clock = SYSTEM) -> None:
        self.settings = settings or DriverSettings()
        self.clock = clock
        self._tokens = tokens if tokens is not None else {}  # serial → bearer token (may be shared: see Session)
        self._session: aiohttp.ClientSession | None = None
        self._backoff = Backoff(self.settings.backoff, self.settings.backoff_cap)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- the protocol -----------------------------------------------------------------------------------

    async def fetch(self, target: Target) -> Reading:
        info = await self._json(target, "GET", "/status/device_info")
        firmware = await self._json(target, "GET", "/firmware")
        configuration = await self._text(target, "GET", "/configuration?profile=running")
        return Reading(*_identity(target, info), _firmware_version(target, firmware), configuration)

    async def apply(self, target: Target, step: Step) -> str:
        if isinstance(step, FirmwareStep):
            return await self._update_firmware(target, step.version)
        return await self._install(target, step)

    async def health(self, target: Target) -> RouterHealth:
        info = await self._json(target, "GET", "/status/device_info")
        serial, model = _identity(target, info)
        entry = info["status"]["list"][0]  # _identity has checked the shape
        status: dict[StatusKey, StatusValue] = {}
        if _is_int(entry.get("uptime")):
            status[StatusKey.SYSTEM_UPTIME] = entry["uptime"]
        for path, read in (("/status/wan", _wan), ("/status/vpn", _vpn), ("/status/cellular", _cellular)):
            entries = _status_list(target, path, await self._json(target, "GET", path, absent_ok=True))
            try:
                status.update(read(entries))
            except (KeyError, TypeError, ValueError) as exc:
                raise PermanentError(f"GET {path}: not the documented answer ({_reason(exc)})", target.name) from None
        return RouterHealth(serial, model, _text(target, "firmware_version", entry.get("firmware_version")), status)

    # --- steps ---------------------------------------------------------------------------------------------

    async def _update_firmware(self, target: Target, version: str) -> str:
        body = {"type": "icom_os", "name": version, "issue_reset": True}
        await self._json(target, "PUT", "/firmware", body)
        self._tokens.pop(target.serial, None)  # a reboot ends every session
        deadline = self.clock.monotonic() + self.settings.reboot_timeout
        while self.clock.monotonic() < deadline:
            await self.clock.sleep(self.settings.poll_interval)
            running = await self._running_version(target)
            if running == version:
                return f"firmware {version} running after the reboot"
            if running is not None:
                raise PermanentError(f"came back from the update running {running}, not {version}", target.name)
        raise TemporaryError(f"not back with firmware {version} within {self.settings.reboot_timeout:.0f} s",
                             target.name)

    async def _running_version(self, target: Target) -> str | None:
        try:
            return _firmware_version(target, await self._json(target, "GET", "/firmware", retries=0))
        except TemporaryError:
            return None  # still rebooting

    async def _install(self, target: Target, step: PacketStep) -> str:
        analysis = await self._analyze(target, step)
        entries = analysis.get("content") or []
        invalid = [f"entry {e.get('entry')}: {e.get('error') or 'invalid'}" for e in entries if not e.get("valid")]
        if invalid or not entries:
            raise PermanentError(f"packet {step.name} refused: {'; '.join(invalid) or 'no entries'}", target.name)
        body = {"identifier": analysis.get("identifier"), "profile": step.profile,
                "entries": [{"entry": e.get("entry"), "action": step.action} for e in entries]}
        results = (await self._json(target, "POST", "/upload/perform", body)).get("content") or []
        failed = [f"entry {r.get('entry')}: {r.get('error')}" for r in results if r.get("result") != "done"]
        if failed or len(results) != len(entries):
            raise PermanentError(f"packet {step.name}: {'; '.join(failed) or 'not every entry performed'}",
                                 target.name)
        if step.activate:
            params = {"action": "activate_profile", "profile": step.profile}
            await self._json(target, "POST", "/operation", {"method": "manual_action", "params": params})
        return f"packet {step.name}: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'} {step.action}"

    async def _analyze(self, target: Target, step: PacketStep) -> dict[str, Any]:
        def form() -> aiohttp.FormData:
            data = aiohttp.FormData()
            info = {"filename": f"{step.name}.tar", "profile": step.profile, "password": ""}
            data.add_field("fileinfo", json.dumps(info), content_type="application/json")
            data.add_field("filedata", step.data, filename=f"{step.name}.tar", content_type="application/x-tar")
            return data

        return await self._json(target, "POST", "/upload/analyze", form=form)

    # --- requests -----------------------------------------------------------------------------------------

    async def _json(self, target: Target, method: str, path: str, body: Any = None, *,
                    form: Any = None, retries: int | None = None, absent_ok: bool = False) -> dict[str, Any]:
        """The JSON object answered; with `absent_ok`, {} if the router has no such call (404)."""
        text = await self._request(target, method, path, body, form, retries, absent_ok)
        try:
            value = json.loads(text) if text else {}
        except ValueError:
            raise PermanentError(f"{method} {path}: the answer is not JSON", target.name) from None
        if not isinstance(value, dict):
            raise PermanentError(f"{method} {path}: the answer is not a JSON object", target.name)
        return value

    async def _text(self, target: Target, method: str, path: str) -> str:
        return await self._request(target, method, path, None, None, None)

    async def _request(self, target: Target, method: str, path: str, body: Any, form: Any,
                       retries: int | None, absent_ok: bool = False) -> str:
        attempts = 1 + (self.settings.retries if retries is None else retries)
        return await with_retries(lambda: self._authorized(target, method, path, body, form, absent_ok), attempts,
                                  self._backoff, self.clock)

    async def _authorized(self, target: Target, method: str, path: str, body: Any, form: Any,
                          absent_ok: bool) -> str:
        token = self._tokens.get(target.serial) or await self._login(target)
        status, text = await self._send(target, method, path, body, form, token)
        if status == 401:  # the token died (reboot, expiry): log in once more
            self._tokens.pop(target.serial, None)
            status, text = await self._send(target, method, path, body, form, await self._login(target))
        if absent_ok and status == 404:
            return ""
        return _checked(target, method, path, status, text)

    async def _login(self, target: Target) -> str:
        for password in target.passwords:
            status, text = await self._send(target, "POST", "/auth/login",
                                            {"username": target.username, "password": password}, None, None)
            if status == 401:
                continue
            token = _json_field(_checked(target, "POST", "/auth/login", status, text), "access")
            self._tokens[target.serial] = token
            return token
        tried = len(target.passwords)
        raise PermanentError(f"login refused for user {target.username!r} ({tried} password{'s' * (tried != 1)} "
                             "tried: the fleet's and the credentials file's)", target.name)

    async def _send(self, target: Target, method: str, path: str, body: Any, form: Any,
                    token: str | None) -> tuple[int, str]:
        url = target.base_url.rstrip("/") + API + path
        if not target.plain_http and url[:8].lower() != "https://":
            # Every request carries a credential (a login, a token) and some carry unsealed secrets.
            raise PermanentError(f"refused to talk to {target.base_url} over plain HTTP: the router's credentials "
                                 "would travel in clear (use https://; management.allow_plain_http is for labs)",
                                 target.name)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = form() if form is not None else None
        started = self.clock.monotonic()
        answer = "error"
        try:
            async with self._client().request(method, url, json=body, data=data, headers=headers) as response:
                answer = str(response.status)
                return response.status, await response.text()
        except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError) as exc:
            raise PermanentError(f"TLS: {_reason(exc)} (is the fleet's CA configured? management.ca or --ca)",
                                 target.name) from None
        except _TRANSIENT as exc:
            raise TemporaryError(f"unreachable ({_reason(exc)})", target.name) from None
        except aiohttp.ClientError as exc:
            raise PermanentError(f"{method} {path}: {_reason(exc)}", target.name) from None
        finally:
            if self.settings.on_request is not None:
                self.settings.on_request(method, answer, self.clock.monotonic() - started)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            settings = self.settings
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=settings.connect_timeout,
                                            sock_read=settings.read_timeout)
            connector = aiohttp.TCPConnector(limit=settings.connections, limit_per_host=0, ssl=self._tls(),
                                             keepalive_timeout=30)
            self._session = aiohttp.ClientSession(timeout=timeout, connector=connector, raise_for_status=False)
        return self._session

    def _tls(self) -> ssl.SSLContext | bool:
        if not self.settings.verify_tls:
            return False
        ca = self.settings.ca_pem
        return ssl.create_default_context(cadata=ca) if ca is not None else ssl.create_default_context()


def _checked(target: Target, method: str, path: str, status: int, text: str) -> str:
    if 200 <= status < 300:
        return text
    reason = _error_text(text)
    if status == 503:
        raise BusyError("busy (503)", target.name)
    if status >= 500:
        raise TemporaryError(f"{method} {path}: {status} {reason}", target.name)
    if status == 401:
        raise PermanentError(f"{method} {path}: unauthorized even after logging in again", target.name)
    raise PermanentError(f"{method} {path}: {status} {reason}", target.name)


def _error_text(text: str) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        return text[:200]
    return str(value.get("error", "")) if isinstance(value, dict) else text[:200]


def _json_field(text: str, name: str) -> str:
    try:
        value = json.loads(text).get(name)
    except (ValueError, AttributeError):
        value = None
    if not isinstance(value, str) or not value:
        raise PermanentError(f"the login answer has no {name!r}")
    return value


def _identity(target: Target, info: dict[str, Any]) -> tuple[str, str]:
    try:
        entry = info["status"]["list"][0]
        serial, model = str(entry["serial_number"]), str(entry["board_type"])
    except (KeyError, IndexError, TypeError):
        raise PermanentError("status/device_info: not the documented answer", target.name) from None
    if serial != target.serial:
        raise PermanentError(f"the router at {target.base_url} has serial {serial}, not {target.serial}: "
                             "another router answers at this address", target.name)
    return serial, model


def _firmware_version(target: Target, answer: dict[str, Any]) -> str:
    for entry in answer.get("firmware") or []:
        if isinstance(entry, dict) and entry.get("type") == "icom_os":
            return str(entry.get("name"))
    raise PermanentError("firmware: no icom_os entry in the answer", target.name)


def _status_list(target: Target, path: str, answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The entries of a `{"status": {"list": [...]}}` answer ([] for a call the router does not have)."""
    if not answer:
        return []
    entries = answer.get("status", {}).get("list") if isinstance(answer.get("status"), dict) else None
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise PermanentError(f"GET {path}: not the documented answer (no status list of objects)", target.name)
    return entries


def _wan(entries: list[dict[str, Any]]) -> dict[StatusKey, StatusValue]:
    if not entries:
        return {}
    first = entries[0]
    return {StatusKey.WAN_STATE: LinkState(first["state"]), StatusKey.WAN_INTERFACE: _name(first["interface"])}


def _vpn(entries: list[dict[str, Any]]) -> dict[StatusKey, StatusValue]:
    if not entries:
        return {}
    up = sum(LinkState(entry["state"]) is LinkState.UP for entry in entries)
    return {StatusKey.VPN_STATE: LinkState.UP if up == len(entries) else LinkState.DOWN,
            StatusKey.VPN_TUNNELS: len(entries), StatusKey.VPN_TUNNELS_UP: up}


def _cellular(entries: list[dict[str, Any]]) -> dict[StatusKey, StatusValue]:
    if not entries:
        return {}
    modem = entries[0]  # the first modem: the one an icom router's WAN chain uses
    values: dict[StatusKey, StatusValue] = {StatusKey.CELLULAR_STATE: _name(modem["state"])}
    rssi = modem.get("rssi_dbm")
    if rssi is not None:
        if not _is_int(rssi) or not -200 <= rssi <= 0:
            raise ValueError(f"rssi_dbm {str(rssi)[:20]!r} is not a whole number of dBm")
        values[StatusKey.CELLULAR_SIGNAL_DBM] = rssi
    if "quality" in modem:
        values[StatusKey.CELLULAR_QUALITY] = _name(modem["quality"])
    return values


def _name(value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_STATUS_TEXT:
        raise ValueError(f"expected a name of 1 to {MAX_STATUS_TEXT} characters, got {str(value)[:20]!r}")
    return value


def _text(target: Target, field_name: str, value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_STATUS_TEXT:
        raise PermanentError(f"status/device_info: no {field_name} of 1 to {MAX_STATUS_TEXT} characters",
                             target.name)
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


__all__ = ["DriverError", "DriverSettings", "IcomDriver"]
