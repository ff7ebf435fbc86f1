"""The daemon's HTTP listener: a cap on connections, deadlines on idle ones, a reserve of descriptors.

Where it sits: `service` raises the descriptor limit (`raise_descriptor_limit`), works out how many
connections it may serve (`connection_cap`), and serves the application from `api.make_app`
through `listen`. The application puts `Connections.middleware` outermost, so the guard knows
which connection has a request in progress.

Written by hand because aiohttp's server has neither a connection cap nor a deadline on the
request headers (its keep-alive timer is the only bound on a connection that never sends a
request): every accepted socket goes through `_Guarded`, a protocol that hands the bytes to
aiohttp's own request handler once the connection is admitted. The rules:

- at most `max_connections` are open; a new one beyond that closes the connection that has been
  idle longest (no request in progress), or, if every one is busy, is answered 503 and closed;
- a new connection must have sent its request headers within `header_timeout`; a connection
  between requests is closed after `idle_timeout` (expired connections are aborted, not drained);
- the request body has its own deadline (`api`, `body_timeout`).

Nothing here logs per connection: what happened is counted (`closed`) for the metrics.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

log = logging.getLogger("reconciler.daemon")
BACKLOG = 128  # the listen queue; one readiness event may accept this many sockets before any is closed
OWN_WORK = 128  # git subprocesses' pipes, SQLite and its journal, the anchor, logs, the event loop
FLEET_PARALLEL_CEILING = 2000  # the most routers a fleet may have talked to at once (fleet.yaml max_parallel)
MINIMUM_CAP = 8
CLOSE_REASONS = ("refused", "evicted", "header-timeout", "idle-timeout")  # why the daemon closed a connection
BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\n"
        b"Retry-After: 1\r\nContent-Length: 34\r\n\r\ntoo many connections, retry later\n")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Limits:
    """How many connections are served at once and how long one may sit without a request."""

    max_connections: int
    header_timeout: float
    idle_timeout: float


def raise_descriptor_limit() -> int:
    """Raise the soft limit on open descriptors to the hard one; the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:  # a container may forbid it: keep what there is
            log.warning("cannot raise the open-file limit from %d to %d: %s", soft, hard, exc)
    return soft


def descriptor_reserve(max_parallel: int | None, simulate: bool) -> int:
    """Descriptors kept for the daemon's own work: accept bursts, git, SQLite, the routers' connections."""
    routers = max(100, (max_parallel or FLEET_PARALLEL_CEILING) + 10)  # the driver's pool (app.live)
    return BACKLOG + OWN_WORK + routers * (2 if simulate else 1)  # simulated routers: both ends are ours


def connection_cap(wanted: int, descriptors: int, reserve: int) -> int:
    """`wanted`, lowered so that the connections and the reserve fit in the descriptor limit."""
    room = descriptors - reserve
    if room >= wanted:
        return wanted
    cap = max(room, MINIMUM_CAP)
    log.warning("the open-file limit (%d) leaves room for %d HTTP connections beside the %d descriptors the daemon "
                "keeps for git, SQLite and the routers (http.max_connections is %d); raise the limit "
                "(ulimit -n, LimitNOFILE=) or set max_parallel", descriptors, cap, reserve, wanted)
    return min(cap, wanted)


class Connections:
    """The open connections: admits, times out and evicts them; a protocol factory for the listening socket."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.closed: Counter[str] = Counter()  # why connections were closed by the daemon (for the metrics)
        self._server: web.Server | None = None
        self._idle: dict[_Guarded, None] = {}  # in the order they became idle: the first is evicted first
        self._busy: set[_Guarded] = set()
        self._by_handler: dict[object, _Guarded] = {}

    @property
    def open(self) -> int:
        return len(self._idle) + len(self._busy)

    def serve(self, server: web.Server) -> Callable[[], asyncio.Protocol]:
        """The protocol factory for `loop.create_server`, handing admitted connections to `server`."""
        self._server = server
        return lambda: _Guarded(self)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Marks the connection busy while its request is handled (a busy one is never evicted)."""
        connection = self._by_handler.get(request.protocol)
        if connection is None or connection not in self._idle:
            return await handler(request)
        del self._idle[connection]
        self._busy.add(connection)
        connection.expire_in(None)
        try:
            return await handler(request)
        finally:
            if connection in self._busy:
                self._busy.discard(connection)
                self._idle[connection] = None  # the newest idle one: evicted last
                connection.expire_in(self.limits.idle_timeout, "idle-timeout")

    def admit(self, connection: _Guarded) -> web.RequestHandler | None:
        """aiohttp's handler for a new connection, or None if it is refused (every slot busy)."""
        assert self._server is not None
        if self.open >= self.limits.max_connections:
            if not self._idle:
                self.closed["refused"] += 1
                return None
            oldest = next(iter(self._idle))
            oldest.abort("evicted")
        handler: web.RequestHandler = self._server()
        self._idle[connection] = None
        self._by_handler[handler] = connection
        connection.expire_in(self.limits.header_timeout, "header-timeout")
        return handler

    def release(self, connection: _Guarded, handler: object) -> None:
        self._idle.pop(connection, None)
        self._busy.discard(connection)
        self._by_handler.pop(handler, None)


class _Guarded(asyncio.Protocol):
    """One accepted connection: passes everything to aiohttp's handler once admitted."""

    def __init__(self, connections: Connections) -> None:
        self._connections = connections
        self._transport: asyncio.Transport | None = None
        self._inner: web.RequestHandler | None = None
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._inner = self._connections.admit(self)
        if self._inner is None:
            transport.write(BUSY)
            transport.close()
            return
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        if self._inner is not None:
            self._inner.eof_received()
        return None  # close the transport (as aiohttp's handler does)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.expire_in(None)
        inner, self._inner = self._inner, None
        self._connections.release(self, inner)
        if inner is not None:
            inner.connection_lost(exc)

    def expire_in(self, seconds: float | None, reason: str = "") -> None:
        """Abort the connection after `seconds` (None: no deadline)."""
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if seconds is not None:
            self._deadline = asyncio.get_running_loop().call_later(seconds, self.abort, reason)

    def abort(self, reason: str) -> None:
        self.expire_in(None)
        self._connections.release(self, self._inner)
        self._connections.closed[reason] += 1
        if self._transport is not None:
            self._transport.abort()


async def listen(runner: web.AppRunner, connections: Connections, host: str, port: int) -> tuple[asyncio.Server, int]:
    """Serve `runner`'s application on host:port through `connections`; the server and the port it got."""
    assert runner.server is not None, "runner.setup() first"
    loop = asyncio.get_running_loop()
    server = await loop.create_server(connections.serve(runner.server), host, port, backlog=BACKLOG)
    return server, int(server.sockets[0].getsockname()[1])
