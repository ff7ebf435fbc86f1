"""Routers are reached over HTTPS: an `http://` address is refused by validate (at its file:line:col) unless the
fleet is a declared lab, and the driver itself sends nothing over plain HTTP but to the simulator on loopback."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.fleets import Fleet
from reconciler.errors import PermanentError
from reconciler.shell.drivers import Target
from reconciler.shell.drivers.icom import DriverSettings, IcomDriver
from reconciler.shell.revisions import FleetLoader
from reconciler.shell.targets import CredentialsFile, Unsealer, targets
from tests.conftest import run_cli as run
from tests.conftest import small_fleet, write_tree
from tests.live.conftest import ADMIN_PASSWORD, FACTORY_PASSWORD, LiveFleet, Simulator

LAB = "management:\n  allow_plain_http: true\n"


class Recorder(ThreadingHTTPServer):
    """A plain-HTTP "router" on loopback that records every connection and request and refuses every login."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0
        self.requests: list[tuple[str, str, bytes]] = []

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections += 1
        super().process_request(request, client_address)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def do_POST(self) -> None:  # the name http.server calls
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append(("POST", self.path, body))
        answer = json.dumps({"error": "unauthorized"}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the test reads `requests`
        return


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def plain_fleet(tmp_path: Path, address: str, management: str = "") -> Path:
    """The small fleet with ber-r01 at `address` (the others at https:// addresses nobody listens on)."""
    files = small_fleet()
    files["devices/all.yaml"] = files["devices/all.yaml"].replace("address: https://10.20.1.1", f"address: {address}")
    files["fleet.yaml"] += management
    return write_tree(tmp_path / "fleet", files)


def test_validate_refuses_an_http_address_at_its_position(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`address: http://…` (in any case) is an error at the address's line and column; nothing else is wrong."""
    root = plain_fleet(tmp_path, "HTTP://10.20.1.1")
    code, out, _ = run(["validate", str(root)], capsys)
    assert code == 1
    assert out.splitlines() == [
        "devices/all.yaml:5:14: error: device 'ber-r01': HTTP://10.20.1.1 is plain HTTP: reconciler would send the "
        "router's passwords and secrets in clear; use https:// (a lab may set management.allow_plain_http: true in "
        "fleet.yaml) [plain-http]",
        f"invalid ({root} at working tree, 3 devices): 1 error, 0 warnings"]


def test_a_lab_fleet_may_use_http_and_is_warned_every_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`management.allow_plain_http: true`: valid, with a warning at the setting naming the routers concerned."""
    root = plain_fleet(tmp_path, "http://10.20.1.1", LAB)
    code, out, _ = run(["validate", str(root)], capsys)
    assert code == 0
    assert out.splitlines() == [
        "fleet.yaml:11:21: warning: plain HTTP allowed (labs only): 1 router (ber-r01) gets its passwords and secrets "
        "in clear [plain-http]",
        f"valid ({root} at working tree, 3 devices): 0 errors, 1 warning"]
    root = write_tree(tmp_path / "https-lab", {**small_fleet(), "fleet.yaml": small_fleet()["fleet.yaml"] + LAB})
    code, out, _ = run(["validate", str(root)], capsys)
    assert code == 0
    assert "management.allow_plain_http is on, but no device has an http:// address: remove it [plain-http]" in out


def test_observe_of_a_fleet_with_an_http_address_sends_nothing(tmp_path: Path, recorder: Recorder,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A live command refuses the invalid fleet before it opens a single connection (the password stays home)."""
    root = plain_fleet(tmp_path, recorder.url)
    credentials = tmp_path / "credentials.yaml"
    credentials.write_text(f"default: {{username: admin, password: {FACTORY_PASSWORD}}}\n")
    code, out, err = run(["observe", str(root), "--data-dir", str(tmp_path / "data"), "--credentials",
                          str(credentials), "--connect-timeout", "1", "--read-timeout", "1"], capsys)
    assert (code, out) == (1, "")
    assert f"devices/all.yaml:5:14: error: device 'ber-r01': {recorder.url} is plain HTTP" in err
    assert recorder.connections == 0


def test_a_lab_fleet_logs_in_over_http(tmp_path: Path, recorder: Recorder, capsys: pytest.CaptureFixture[str]) -> None:
    """With the lab setting the driver does speak plain HTTP to the router: the setting is all that allows it."""
    root = plain_fleet(tmp_path, recorder.url, LAB)
    credentials = tmp_path / "credentials.yaml"
    credentials.write_text(f"default: {{username: admin, password: {FACTORY_PASSWORD}}}\n")
    code, out, _ = run(["observe", str(root), "--data-dir", str(tmp_path / "data"), "--credentials",
                        str(credentials), "--connect-timeout", "1", "--read-timeout", "1"], capsys)
    assert code == 0
    [(method, path, body)] = recorder.requests
    assert (method, path, json.loads(body)["username"]) == ("POST", "/api/v2_0/auth/login", "admin")
    [device] = [d for d in json.loads(out)["devices"] if d["name"] == "ber-r01"]
    assert device["online"] is False
    assert "login refused" in device["unreachable"]


def test_the_driver_sends_nothing_over_plain_http_to_a_target_that_does_not_allow_it(recorder: Recorder) -> None:
    """Whatever validated: a plain-HTTP target without permission fails before a connection is opened."""
    target = Target("ber-r01", "24130001", recorder.url, "admin", (ADMIN_PASSWORD,))

    async def fetch() -> None:
        driver = IcomDriver(DriverSettings(retries=0))
        try:
            await driver.fetch(target)
        finally:
            await driver.close()

    with pytest.raises(PermanentError, match=r"refused to talk to http://127\.0\.0\.1:[0-9]+ over plain HTTP"):
        asyncio.run(fetch())
    assert recorder.connections == 0


def loaded(root: Path) -> Fleet:
    fleet = FleetLoader().load(root).build.fleet
    assert fleet is not None
    return fleet


@pytest.mark.parametrize(("simulator", "allowed"), [
    ("http://127.0.0.1:9443", True), ("http://[::1]:9443", True), ("http://localhost:9443", True),
    ("http://192.0.2.10:9443", False), ("http://sim.example.net:9443", False), (None, False),
])
def test_only_a_simulator_on_loopback_may_be_plain_http(simulator: str | None, allowed: bool, tmp_path: Path) -> None:
    """`--simulator URL` over plain HTTP never crosses a network on loopback; elsewhere it needs the lab setting."""
    fleet = loaded(write_tree(tmp_path / "fleet", small_fleet()))
    reach = targets(fleet, CredentialsFile(), Unsealer(fleet, None), simulator)
    assert {target.plain_http for target in reach.values()} == {allowed}
    lab = loaded(write_tree(tmp_path / "lab", {**small_fleet(), "fleet.yaml": small_fleet()["fleet.yaml"] + LAB}))
    assert {target.plain_http for target in targets(lab, CredentialsFile(), Unsealer(lab, None),
                                                    simulator).values()} == {True}


def test_a_simulator_elsewhere_over_plain_http_gets_no_password(live_fleet: Callable[..., LiveFleet],
                                                                simulator: Callable[..., Simulator],
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """`plan --live --simulator http://<not loopback>`: every router refused by the driver, no connection tried."""
    fleet = live_fleet()
    code, out, _ = run(["plan", str(fleet.root), "--live", "--format", "json",
                        *fleet.options("http://192.0.2.10:9"), "--connect-timeout", "1"], capsys)
    notes = {d["device"]: d["notes"] for d in json.loads(out)["devices"]}
    assert code == 0
    assert all("over plain HTTP" in " ".join(n) for n in notes.values()), notes
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect")
    code, out, _ = run(["plan", str(fleet.root), "--live", "--format", "json", *fleet.options(sim.url)], capsys)
    assert code == 0
    assert {d["status"] for d in json.loads(out)["devices"]} == {"changes"}
