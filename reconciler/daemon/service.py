"""`reconciler serve`: wire the clone, the reconciler, the API and (with --simulate) routers, and run.

Where it sits: `cli` calls `serve(config)`; it returns the exit code. It opens the store, starts
the embedded simulator if asked (its routers follow the fleet: devices added to the repository
appear as factory-fresh routers), serves the API (`api.make_app`) and runs the reconcile loop
until SIGTERM or SIGINT. Then it stops starting device steps, gives in-flight ones
`shutdown_grace` seconds, records what happened and exits 0; a restarted daemon picks up from
the store and the routers' state, so nothing is applied twice.

The loop runs under `supervision.supervise` (restarted with backoff if it fails, unhealthy
meanwhile); the API is served through `listening` (a connection cap that leaves descriptors for
git, SQLite and the routers, header and idle deadlines). The demo token `--simulate` prints lives
as long as the process: it is revoked at exit, and one a killed daemon left behind at the next start.
Where a local client reaches the daemon is written to `<data_dir>/daemon.url` while it serves (the
container's health check reads it). `RECONCILER_TEST_FAULT_FETCH` is for tests only (off unless
set): while the file it names exists, every fetch raises an `OSError` (EMFILE) the loop does not expect,
so that the loop fails and is restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import logging
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

from aiohttp import web

from reconciler.app.sessions import LiveOptions
from reconciler.shell import clock
from reconciler.shell.git.clones import Clone, Source
from reconciler.shell.revisions import LoadedRevision
from reconciler.shell.store import Store
from reconciler.simulator import server as simulator_server
from reconciler.simulator.fleet import Device as SimulatedDevice
from reconciler.simulator.profiles import behaviour
from reconciler.simulator.routers import Factory

from . import autoupdate, licensing, listening, logs, tokens, watching
from .api import Daemon, make_app
from .config import DaemonConfig
from .following import resolve_source
from .metrics import Metrics
from .reconciling import ACTOR, Reconciler
from .supervision import LoopHealth, supervise

log = logging.getLogger("reconciler.daemon")
SIMULATED_CREDENTIALS = "simulated-credentials.yaml"
DEMO_TOKEN_MAKER = "serve --simulate"  # the created_by of the demo token, which lives only as long as the daemon
URL_FILE = "daemon.url"
FAULT_FETCH = "RECONCILER_TEST_FAULT_FETCH"


def serve(config: DaemonConfig) -> int:
    """Run the daemon until SIGTERM/SIGINT; 0 after a clean stop."""
    logs.setup(config.log_format)
    webhook_secret = config.webhooks.resolve()
    logs.redact(webhook_secret)
    source = resolve_source(config.source, config.branch, config.path)
    store = Store(config.data_dir)
    store.require_anchor()  # a wiped, replaced or rolled-back store is not started on silently
    licensing.remember_source(store, source)  # `token create` checks the API licence of what this daemon follows
    _revoke_demo_tokens(store, "left by a daemon that did not stop cleanly")
    try:
        asyncio.run(_serve(config, _clone(source, config.data_dir), store, webhook_secret))
    finally:
        _revoke_demo_tokens(store, "the daemon stopped")
        logs.flush_bursts(everything=True)
        store.close()
    return 0


async def _serve(config: DaemonConfig, clone: Clone, store: Store, webhook_secret: str | None) -> None:
    stop = asyncio.Event()
    health = LoopHealth()
    async with contextlib.AsyncExitStack() as stack:
        simulated = await _simulator(config, stack) if config.simulate else None
        options = _options(config, simulated.url if simulated else config.options.simulator)
        on_revision = _follow_fleet(simulated) if simulated else None
        status_of: list[Reconciler] = []
        metrics = Metrics(lambda: status_of[0].status, health)
        reconciler = Reconciler(clone, store, options, grace=config.shutdown_grace, on_request=metrics.request,
                                on_revision=on_revision, on_cycle=metrics.cycle_finished)
        status_of.append(reconciler)
        metrics.connections = _connections(config)
        daemon = Daemon(reconciler, store, metrics, webhook_secret, health=health,
                        body_timeout=config.http.body_timeout, connections=metrics.connections)
        url = await _listen(config, make_app(daemon, _packets(config, reconciler)), metrics.connections, stack)
        _write_url(config.data_dir, url, stack)  # before the announcement, which scripts wait for
        _announce(config, url, store, simulated)
        with _signals(stop):
            loop = asyncio.create_task(supervise(lambda: reconciler.run(stop, config.poll), stop, health,
                                                 config.restart_backoff))
            helpers = [asyncio.create_task(_flush_log_bursts(stop))]
            if config.watch:
                helpers.append(asyncio.create_task(watching.watch(config, reconciler, stop)))
            daemon.ready = True
            await stop.wait()
            log.info("stopping: no new device steps; in-flight ones get %.0fs", config.shutdown_grace)
            await asyncio.wait_for(loop, timeout=config.shutdown_grace + 15)
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
    log.info("stopped")


def _connections(config: DaemonConfig) -> listening.Connections:
    """The HTTP connection guard, its cap lowered if the descriptor limit would not leave the reserve."""
    descriptors = listening.raise_descriptor_limit()
    reserve = listening.descriptor_reserve(config.options.max_parallel, config.simulate)
    cap = listening.connection_cap(config.http.max_connections, descriptors, reserve)
    return listening.Connections(listening.Limits(cap, config.http.header_timeout, config.http.idle_timeout))


async def _flush_log_bursts(stop: asyncio.Event) -> None:
    """Write the counts of repeated log lines once their burst is over (at exit, `serve` writes the rest)."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=logs.BURST_WINDOW / 4)
        logs.flush_bursts()


def _revoke_demo_tokens(store: Store, why: str) -> None:
    """The admin token `--simulate` made is valid only while that daemon runs."""
    for token in store.tokens():
        if token.created_by == DEMO_TOKEN_MAKER and token.live and store.revoke_token(token.name):
            store.audit(ACTOR, "token-revoke", [], None, token.name, f"the demo token: {why}")
            log.info("demo token %s revoked: %s", token.name, why)


def _write_url(data_dir: Path, url: str, stack: contextlib.AsyncExitStack) -> None:
    """Where a client on this host reaches the daemon (a wildcard address is reached on loopback)."""
    local = url.replace("://0.0.0.0:", "://127.0.0.1:").replace("://[::]:", "://[::1]:")
    path = data_dir / URL_FILE
    path.write_text(local + "\n", encoding="utf-8")
    stack.callback(path.unlink, missing_ok=True)


class _FaultyClone(Clone):
    """Tests only: while the file `RECONCILER_TEST_FAULT_FETCH` names exists, fetching raises the OSError of EMFILE,
    which nothing in the loop expects (a real fetch turns it into a SourceError): the loop fails and is restarted."""

    def __init__(self, source: Source, data_dir: Path, marker: Path) -> None:
        super().__init__(source, data_dir)
        self.marker = marker

    def fetch(self) -> str:
        if self.marker.exists():
            raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))
        return super().fetch()


def _clone(source: Source, data_dir: Path) -> Clone:
    marker = os.environ.get(FAULT_FETCH)
    if not marker:
        return Clone(source, data_dir)
    log.warning("%s is set: fetches fail while %s exists (a test hook)", FAULT_FETCH, marker)
    return _FaultyClone(source, data_dir, Path(marker))


def _packets(config: DaemonConfig, reconciler: Reconciler) -> autoupdate.Packets | None:
    if not config.autoupdate.enabled:
        return None
    password = config.autoupdate.resolve()
    logs.redact(password)

    def current() -> tuple[str, LoadedRevision] | None:
        commit, revision = reconciler.status.last_good, reconciler.good
        return (commit, revision) if commit is not None and revision is not None else None

    return autoupdate.Packets(current, config.options.secrets_key, config.autoupdate.username, password)


def _options(config: DaemonConfig, simulator_url: str | None) -> LiveOptions:
    """The configured options, with the embedded simulator's URL and factory login when it runs."""
    credentials = config.options.credentials
    if config.simulate and credentials is None:  # the simulated routers' factory login
        credentials = config.data_dir / SIMULATED_CREDENTIALS
        credentials.write_text("default: {username: admin, password: admin}\n", encoding="utf-8")
    return dataclasses.replace(config.options, simulator=simulator_url, credentials=credentials)


async def _simulator(config: DaemonConfig,
                     stack: contextlib.AsyncExitStack) -> simulator_server.SimulatorHandle:
    chosen = behaviour("perfect", reboot_seconds=config.simulator_reboot_seconds)
    handle = await simulator_server.start([], behaviour=chosen, factory=Factory())
    stack.push_async_callback(handle.close)
    return handle


def _follow_fleet(handle: simulator_server.SimulatorHandle) -> Callable[[LoadedRevision], None]:
    def on_revision(revision: LoadedRevision) -> None:
        fleet = revision.build.fleet
        if fleet is None:
            return
        added = sum(handle.simulator.add(SimulatedDevice(d.serial, d.name, d.model)) for d in fleet.devices.values())
        if added:
            log.info("simulating %d more routers (factory state) at %s/d/<serial>", added, handle.url)
    return on_revision


async def _listen(config: DaemonConfig, app: web.Application, connections: listening.Connections,
                  stack: contextlib.AsyncExitStack) -> str:
    # aiohttp's keep-alive timer is the idle deadline too; a body left unread is drained for at most 2 s
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0, keepalive_timeout=config.http.idle_timeout,
                           lingering_time=min(2.0, config.http.body_timeout))
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    server, port = await listening.listen(runner, connections, config.host, config.port)
    stack.callback(server.close)  # stop accepting first; runner.cleanup then closes the open connections
    host = f"[{config.host}]" if ":" in config.host else config.host
    return f"http://{host}:{port}"


def _announce(config: DaemonConfig, url: str, store: Store,
              simulated: simulator_server.SimulatorHandle | None) -> None:
    """One line a script can wait for, then where to look (to stdout: what a user reads first)."""
    print(f"serving on {url}", flush=True)
    print(f"  API       {url}/api/v1/status  (document: {url}/api/v1/openapi.json)", flush=True)
    print(f"  metrics   {url}/metrics   health: {url}/healthz  {url}/readyz", flush=True)
    refused = None
    if simulated is not None:  # a demo token only under a valid API licence (loads the last good revision)
        refused = licensing.api_licence_problem(licensing.followed_revision(config.data_dir, store), clock.now())
    if simulated is not None and refused is not None:
        print(f"  tokens    none made: {refused}", flush=True)
    elif simulated is not None:
        name, token = tokens.create(store, "admin", None, DEMO_TOKEN_MAKER)
        print(f"  routers   simulated at {simulated.url}/d/<serial>", flush=True)
        print(f"  token     {token}   (admin, valid while this demo runs: {name})", flush=True)
        print(f"  try       curl -H 'Authorization: Bearer {token}' {url}/api/v1/status", flush=True)
    else:
        live = sum(1 for token in store.tokens() if token.live)
        hint = f"reconciler token create --role admin --data-dir {config.data_dir}"
        print(f"  tokens    {live} live" + ("" if live else f": none yet, make one with `{hint}`"), flush=True)


@contextlib.contextmanager
def _signals(stop: asyncio.Event) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    try:
        yield
    finally:
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(number)
