"""Live fixtures: a real simulator process on loopback, and a small fleet with really sealed secrets."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reconciler.shell import sealing
from tests.conftest import PROJECT, small_fleet, write_tree

ADMIN_PASSWORD = "fleet-admin-password"
FACTORY_PASSWORD = "admin"

LIVE_MANAGEMENT = """\
management:
  username: admin
  password_field: admin_password
  reboot_timeout: 5s
  retries: 6
  max_parallel: 4
"""


@dataclass
class Simulator:
    """A `reconciler simulate` process and its base URL."""

    process: subprocess.Popen[str]
    url: str
    log: list[str] = field(default_factory=list)

    def state(self, serial: str) -> dict[str, Any]:
        return self._call("GET", f"/d/{serial}/_sim/state")

    def poke(self, serial: str, what: str, body: dict[str, Any] | None = None) -> None:
        self._call("POST", f"/d/{serial}/_sim/{what}", body or {})

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
        return json.loads(text) if text else {}


@pytest.fixture
def simulator() -> Iterator[Callable[..., Simulator]]:
    """Start `reconciler simulate ARGS --port 0` processes; every one is stopped after the test."""
    started: list[Simulator] = []

    def start(*args: str) -> Simulator:
        process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "simulate", *args, "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=PROJECT)
        assert process.stdout is not None
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline and not line.startswith("simulating"):
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
        assert line.startswith("simulating"), f"the simulator did not start: {line!r}"
        url = line.split(" at ", 1)[1].split("/d/", 1)[0]
        handle = Simulator(process, url)
        started.append(handle)
        return handle

    yield start
    for handle in started:
        handle.process.terminate()
        handle.process.wait(timeout=10)
        if handle.process.stdout is not None:
            handle.process.stdout.close()


@dataclass(frozen=True)
class LiveFleet:
    root: Path
    key_file: Path
    credentials: Path
    data_dir: Path

    def options(self, url: str, *extra: str) -> list[str]:
        return ["--simulator", url, "--data-dir", str(self.data_dir), "--credentials", str(self.credentials),
                "--secrets-key", str(self.key_file), "--poll-interval", "0.05", "--retry-backoff", "0.01", *extra]


def live_fleet_files(public_key: str, management: str = LIVE_MANAGEMENT) -> dict[str, str]:
    """The small three-device fleet, with a management section, a sealed admin password and a packet."""
    files = small_fleet()
    files["fleet.yaml"] = files["fleet.yaml"].replace(
        "    ntp_server: pool.ntp.org\n", "    ntp_server: pool.ntp.org\n    admin_password: !secret admin\n")
    files["fleet.yaml"] += management + f"sealing_key: {public_key}\n"
    files["templates/base.yaml"] += "  admin_password: {type: secret}\n"
    files["templates/base.j2"] += ("administration.users[1].username=admin\n"
                                   "administration.users[1].password={{ admin_password }}\n"
                                   "services.https.active=1\n")
    sealed = sealing.seal(public_key, "admin", ADMIN_PASSWORD)
    files["secrets/admin.yaml"] = f'secrets:\n  admin: {{sealed: "{sealed}"}}\n'
    files["resources/packets/p.yaml"] = ("packets:\n  - name: tools\n    parts:\n"
                                         "      - {type: script, file: files/tools.lua}\n")
    files["resources/packets/files/tools.lua"] = "print('tools')\n"
    files["groups.yaml"] += "    packets: [tools]\n"
    return files


@pytest.fixture
def live_fleet(tmp_path: Path) -> Callable[..., LiveFleet]:
    def make(management: str = LIVE_MANAGEMENT, extra: dict[str, str] | None = None) -> LiveFleet:
        private, public = sealing.generate_key()
        root = write_tree(tmp_path / "fleet", {**live_fleet_files(public, management), **(extra or {})})
        key_file = tmp_path / "sealing.key"
        key_file.write_text(private + "\n")
        credentials = tmp_path / "credentials.yaml"
        credentials.write_text(f"default: {{username: admin, password: {FACTORY_PASSWORD}}}\n")
        return LiveFleet(root, key_file, credentials, tmp_path / "data")

    return make
