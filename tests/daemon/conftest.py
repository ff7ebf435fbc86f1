"""Daemon fixtures: a real git repository, `reconciler serve` as a real process, its API over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reconciler.daemon import tokens
from reconciler.shell import sealing
from reconciler.shell.store import Store
from tests.conftest import PROJECT, GitRepo
from tests.live.conftest import live_fleet_files, simulator  # noqa: F401 - the simulator fixture, shared

FAST_SYNC = "sync:\n  interval: 1s\n  self_heal: {heal}\n"


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


def call(url: str, method: str = "GET", body: Any = None, token: str | None = None,
         headers: dict[str, str] | None = None, raw: bytes | None = None) -> Answer:
    """One HTTP request; the answer whatever its status."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers={
        **({"Content-Type": "application/json"} if data is not None else {}),
        **({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            status, text, got = response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        status, text, got = error.code, error.read().decode(), dict(error.headers)
    try:
        parsed: Any = json.loads(text) if text else None
    except ValueError:
        parsed = text
    return Answer(status, parsed, got)


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "the condition") -> Any:
    """Poll `condition` until it returns something truthy (bounded); its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class ServeProcess:
    """A running `reconciler serve`: its URL, the embedded routers' URL, a demo admin token, its log."""

    process: subprocess.Popen[str]
    url: str
    routers: str | None
    token: str | None
    lines: list[str] = field(default_factory=list)
    stdout: list[str] = field(default_factory=list)
    readers: list[threading.Thread] = field(default_factory=list)

    def get(self, path: str, token: str | None = None) -> Answer:
        return call(self.url + path, token=token or self.token)

    def post(self, path: str, body: Any = None, token: str | None = None) -> Answer:
        return call(self.url + path, "POST", body, token or self.token)

    def status(self) -> dict[str, Any]:
        answer = self.get("/api/v1/status")
        assert answer.status == 200, answer.body
        return dict(answer.body)

    def router(self, serial: str) -> dict[str, Any]:
        assert self.routers is not None
        return dict(call(f"{self.routers}/d/{serial}/_sim/state").body)

    def poke(self, serial: str, what: str, body: Any = None) -> None:
        assert self.routers is not None
        assert call(f"{self.routers}/d/{serial}/_sim/{what}", "POST", body or {}).status == 200

    def converged_at(self, commit: str) -> dict[str, Any] | None:
        status = self.status()
        return status if status["revision"]["applied"] == commit and not status["reconciling"] else None

    def log_records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in list(self.lines) if line.startswith("{")]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


class FleetRepo(GitRepo):
    """The live test fleet in a real git repository, with its sealing key and a fast sync interval."""

    def __init__(self, root: Path, heal: bool = True) -> None:
        super().__init__(root)
        private, self.public = sealing.generate_key()
        self.key_file = root.parent / "sealing.key"
        self.key_file.write_text(private + "\n")
        self.files = live_fleet_files(self.public)
        self.files["fleet.yaml"] += FAST_SYNC.format(heal=str(heal).lower())
        self.head = self.commit(self.files, "the fleet")


@pytest.fixture
def fleet_repo(tmp_path: Path) -> Callable[..., FleetRepo]:
    return lambda heal=True: FleetRepo(tmp_path / "repo", heal)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., ServeProcess]]:
    """Start `reconciler serve SOURCE ...` processes; each is stopped (SIGKILL if it must) after the test."""
    started: list[ServeProcess] = []

    def start(source: Path | str, *args: str, data_dir: Path | None = None, key: Path | None = None,
              env: dict[str, str] | None = None, open_files: int | None = None) -> ServeProcess:
        data_dir = data_dir or tmp_path / "data"
        store = Store(data_dir)
        _, admin = tokens.create(store, "admin", None, "tests")
        store.close()
        argv = [sys.executable, "-m", "reconciler", "serve", str(source), "--listen", "127.0.0.1:0",
                "--data-dir", str(data_dir), "--log-format", "json", "--poll-interval", "0.05",
                "--retry-backoff", "0.01", "--shutdown-grace", "5", *(["--secrets-key", str(key)] if key else []),
                *args]
        if open_files:
            argv = _with_open_file_limit(open_files, argv)
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
        handle = _handshake(process)
        handle.token = handle.token or admin
        started.append(handle)
        return handle

    yield start
    for handle in started:
        if handle.process.poll() is None:
            handle.process.kill()
        handle.process.wait(timeout=10)
        for reader in handle.readers:
            reader.join(timeout=10)
        for stream in (handle.process.stdout, handle.process.stderr):
            if stream is not None:
                stream.close()


def _with_open_file_limit(limit: int, argv: list[str]) -> list[str]:
    """`argv` run with a hard limit on open files, as a container or a unit file sets it (set, then exec)."""
    limited = ("import os, resource, sys; n = int(sys.argv[1]); resource.setrlimit(resource.RLIMIT_NOFILE, (n, n)); "
               "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])")
    return [sys.executable, "-c", limited, str(limit), *argv[1:]]


def _handshake(process: subprocess.Popen[str]) -> ServeProcess:
    assert process.stdout is not None and process.stderr is not None
    lines: list[str] = []
    readers = [threading.Thread(target=_drain, args=(process.stderr, lines), daemon=True)]
    readers[0].start()
    first = process.stdout.readline()
    if not first.startswith("serving on "):
        process.wait(timeout=10)
        raise AssertionError(f"serve did not start: {first!r} {''.join(lines)[-2000:]}")
    url = first.split()[-1]
    announced = [process.stdout.readline() for _ in range(2)]
    routers = token = None
    while True:
        line = process.stdout.readline()
        announced.append(line)
        if line.strip().startswith("routers"):
            routers = line.split("simulated at ", 1)[1].split("/d/", 1)[0]
        if line.split()[:1] == ["token"]:
            token = line.split()[1]
        if not line or line.strip().startswith(("try", "tokens")):
            break
    stdout = [first, *announced]
    readers.append(threading.Thread(target=_drain, args=(process.stdout, stdout), daemon=True))
    readers[-1].start()
    return ServeProcess(process, url, routers, token, lines, stdout, readers)


def _drain(stream: Any, into: list[str]) -> None:
    for line in stream:
        into.append(line)
