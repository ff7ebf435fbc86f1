"""Thousands of idle, half-open and slow connections: the daemon keeps descriptors for its own work and keeps acting."""

from __future__ import annotations

import contextlib
import selectors
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from prometheus_client.parser import text_string_to_metric_families

from reconciler.daemon import listening
from tests.daemon.conftest import FleetRepo, ServeProcess, call, wait_for

pytestmark = pytest.mark.slow

OPEN_FILES = 1024  # the daemon's hard limit on descriptors in these tests, as a unit file might set it
FLOOD = 3000  # connections opened and held: far more than the daemon may have descriptors


def metric(daemon: ServeProcess, name: str, **labels: str) -> float:
    """One sample of the daemon's /metrics (0 if absent)."""
    for family in text_string_to_metric_families(call(daemon.url + "/metrics").body):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


@contextlib.contextmanager
def held_connections(url: str, count: int, half_request: bytes = b"") -> Iterator[list[socket.socket]]:
    """`count` connections to `url`, opened at once (non-blocking) and held; every other one sends `half_request`.

    Yields those that connected within 10 s (a connection the daemon closed since counts too: that is the point).
    """
    address = urlsplit(url)
    opened = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        with selectors.DefaultSelector() as waiting:
            for sock in opened:
                sock.setblocking(False)
                sock.connect_ex((address.hostname, address.port))
                waiting.register(sock, selectors.EVENT_WRITE)
            connected: list[socket.socket] = []
            deadline = time.monotonic() + 10
            while len(connected) < count and time.monotonic() < deadline:
                for key, _ in waiting.select(timeout=max(0.0, deadline - time.monotonic())):
                    waiting.unregister(key.fileobj)
                    connected.append(key.fileobj)  # type: ignore[arg-type]  # always a socket here
        for number, sock in enumerate(connected):
            if half_request and number % 2:
                with contextlib.suppress(OSError):  # already closed by the daemon
                    sock.send(half_request)
            sock.setblocking(True)
        yield connected
    finally:
        for sock in opened:
            sock.close()


def read_by_server(clients: list[socket.socket]) -> bool:
    """Whether the daemon has read everything these clients sent (its sockets' receive queues are empty)."""
    pending: dict[tuple[int, int], int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()  # sl local_address rem_address st tx_queue:rx_queue ...
            local, remote = (int(address.rsplit(":", 1)[1], 16) for address in fields[1:3])
            pending[(local, remote)] = int(fields[4].split(":")[1], 16)
    return all(pending.get(sock.getpeername()[1:2] + sock.getsockname()[1:2], 1) == 0 for sock in clients)


def configure(tmp_path: Path, text: str) -> Path:
    config = tmp_path / "reconciler.yaml"
    config.write_text(text)
    return config


def test_thousands_of_idle_connections_neither_use_up_descriptors_nor_stop_sync_and_new_commits(
        fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess], tmp_path: Path) -> None:
    """3,000 idle or half-open connections held against a daemon with 1,024 descriptors capped at 32 connections:
    it still answers POST /sync, applies a new commit, stays healthy, and logs no error."""
    repo = fleet_repo()
    config = configure(tmp_path, "http:\n  max_connections: 32\n  header_timeout: 30s\n  idle_timeout: 30s\n")
    daemon = serve(repo.root, "--simulate", "--poll", "0.2", "--max-parallel", "4", "--config", str(config),
                   key=repo.key_file, open_files=OPEN_FILES)
    wait_for(lambda: daemon.converged_at(repo.head), what="the first revision applied")

    with held_connections(daemon.url, FLOOD, b"GET /api/v1/status HTTP/1.1\r\nHost: flood\r\n") as held:
        assert len(held) > FLOOD * 0.9  # the daemon kept accepting (and evicting) instead of stalling
        # each accept beyond the cap evicts the longest idle one: more evictions than the daemon has descriptors
        # (some of the flood's connections wait in the kernel's queue, or were dropped from it, so not all 3,000)
        evicted = "reconciler_http_connections_closed_total"
        wait_for(lambda: metric(daemon, evicted, reason="evicted") > OPEN_FILES * 1.4,
                 timeout=120, what="the daemon accepted the flood")
        descriptors = len(list(Path(f"/proc/{daemon.process.pid}/fd").iterdir()))
        assert descriptors < OPEN_FILES - listening.BACKLOG, descriptors
        assert daemon.post("/api/v1/sync").status == 202  # a new connection evicts the longest idle one
        pushed = repo.commit({**repo.files, "fleet.yaml": repo.files["fleet.yaml"].replace("pool", "flood")},
                             "a commit during the flood")
        wait_for(lambda: daemon.converged_at(pushed), timeout=120, what="the commit pushed during the flood applied")
        assert metric(daemon, "reconciler_http_connections") <= 32

    health = daemon.get("/healthz")
    assert health.status == 200 and health.body["loop"]["restarts"] == 0
    assert any(row["actor"] == f"token:{daemon_token_name(daemon)}" and row["action"] == "sync"
               for row in daemon.get("/api/v1/audit").body["rows"])
    assert not [r for r in daemon.log_records() if r["level"] in ("error", "critical")]


def daemon_token_name(daemon: ServeProcess) -> str:
    """The name of the demo admin token the daemon printed (`admin, valid while this demo runs: NAME`)."""
    line = next(line for line in daemon.stdout if line.split()[:1] == ["token"])
    return line.rsplit(":", 1)[1].strip(" )\n")


def test_connections_without_complete_headers_are_closed_after_the_header_timeout(
        fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess], tmp_path: Path) -> None:
    """Half-open and silent connections are cut after header_timeout (counted), and the slots serve again."""
    repo = fleet_repo()
    config = configure(tmp_path, "http:\n  max_connections: 16\n  header_timeout: 0.5\n  idle_timeout: 30s\n")
    daemon = serve(repo.root, "--simulate", "--poll", "0.2", "--max-parallel", "4", "--config", str(config),
                   key=repo.key_file, open_files=OPEN_FILES)
    with held_connections(daemon.url, 10, b"GET /healthz HTTP/1.1\r\nHost: slow\r\n") as held:
        started = time.monotonic()
        for sock in held:
            sock.settimeout(5)
            with contextlib.suppress(ConnectionResetError):  # aborted: closed, as the kernel reports it
                assert sock.recv(1024) == b""  # closed by the daemon, without an answer
        assert 0.4 < time.monotonic() - started < 4
    assert metric(daemon, "reconciler_http_connections_closed_total", reason="header-timeout") >= 10
    assert daemon.get("/healthz").status == 200


def test_when_every_connection_is_busy_a_new_one_is_refused_503_and_slow_bodies_get_408(
        fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess], tmp_path: Path) -> None:
    """Requests whose bodies never come fill a cap of 4: the fifth connection gets 503 at once; each slow
    request gets 408 after body_timeout, and the daemon serves again."""
    repo = fleet_repo()
    config = configure(tmp_path, "http:\n  max_connections: 4\n  body_timeout: 1s\n")
    daemon = serve(repo.root, "--simulate", "--poll", "0.2", "--max-parallel", "4", "--config", str(config),
                   key=repo.key_file, open_files=OPEN_FILES)
    slow = (b"POST /api/v1/webhooks/git HTTP/1.1\r\nHost: slow\r\nContent-Type: application/json\r\n"
            b"Content-Length: 64\r\n\r\n{")
    with held_connections(daemon.url, 4) as busy:
        for sock in busy:
            sock.sendall(slow)
        wait_for(lambda: read_by_server(busy), timeout=10, what="the daemon read the four requests' headers")
        with held_connections(daemon.url, 1) as refused:
            refused[0].settimeout(5)
            assert refused[0].recv(1024).startswith(b"HTTP/1.1 503 ")
        for sock in busy:
            sock.settimeout(5)
            answer = sock.recv(4096)
            assert answer.startswith(b"HTTP/1.1 408 ") and b"application/problem+json" in answer
    assert metric(daemon, "reconciler_http_connections_closed_total", reason="refused") == 1
    assert daemon.get("/healthz").status == 200


def test_the_connection_cap_leaves_a_reserve_of_descriptors_for_git_sqlite_and_the_routers() -> None:
    """The configured cap is lowered when the descriptor limit minus the daemon's own reserve is smaller."""
    reserve = listening.descriptor_reserve(max_parallel=4, simulate=True)
    assert reserve == listening.BACKLOG + listening.OWN_WORK + 2 * 100
    assert listening.connection_cap(512, 20_000, reserve) == 512
    assert listening.connection_cap(512, 900, reserve) == 900 - reserve
    assert listening.connection_cap(512, 100, reserve) == listening.MINIMUM_CAP
    assert listening.descriptor_reserve(max_parallel=None, simulate=False) > listening.FLEET_PARALLEL_CEILING
