"""Auto-update (D0.17): a router the daemon cannot reach pulls its packet and converges, without a push."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon.conftest import FleetRepo, ServeProcess, call, wait_for
from tests.live.conftest import Simulator

pytestmark = pytest.mark.slow

BEHIND_NAT = "24130003"  # nwk-r01


def test_a_router_behind_nat_converges_by_pulling_its_packet(
        fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess],
        simulator: Callable[..., Simulator], tmp_path: Path) -> None:
    """The download list names each serial's packet; the router fetches it once, applies it, then skips it."""
    repo = fleet_repo()
    routers = simulator("--fleet", str(repo.root), "--profile", "perfect", "--reboot-seconds", "0.2")
    routers.poke(BEHIND_NAT, "offline")  # the daemon cannot reach it: only the router can call out
    config = tmp_path / "reconciler.yaml"
    config.write_text("autoupdate:\n  enabled: true\n  username: router\n  password: pull-secret-123\n")
    credentials = tmp_path / "credentials.yaml"
    credentials.write_text("default: {username: admin, password: admin}\n")
    daemon = serve(repo.root, "--simulator", routers.url, "--config", str(config), "--credentials",
                   str(credentials), "--poll", "0.5", key=repo.key_file)
    wait_for(lambda: daemon.status()["cycles"] >= 1, what="a first cycle")
    assert routers.state(BEHIND_NAT)["history"] == []  # nothing was pushed to it

    listing_url = daemon.url + "/autoupdate/list.txt"
    assert call(listing_url).status == 401
    auth = {"Authorization": "Basic " + base64.b64encode(b"router:pull-secret-123").decode()}
    listing = call(listing_url, headers=auth).body
    assert f"{BEHIND_NAT};/autoupdate/packets/nwk-r01.tar" in listing.splitlines()
    packet = _download(daemon.url + "/autoupdate/packets/ber-r01.tar", auth)  # in group lte: the tools packet
    with tarfile.open(fileobj=io.BytesIO(packet)) as archive:
        assert archive.getnames() == ["MANIFEST", "tools-01-tools.lua", "configuration.txt"]
        configuration = archive.extractfile("configuration.txt")
        assert configuration is not None and b"administration.hostnames.hostname=ber-r01" in configuration.read()
    assert call(daemon.url + "/autoupdate/packets/nobody.tar", headers=auth).status == 404

    pull = {"list": listing_url, "username": "router", "password": "pull-secret-123"}
    factory_password = routers.state(BEHIND_NAT)["configuration"]["administration.users[1].password"]
    first = _pull(routers, pull)
    assert first["result"] == "applied" and all(entry["error"] is None for entry in first["entries"])
    state = routers.state(BEHIND_NAT)
    assert state["configuration"]["administration.hostnames.hostname"] == "nwk-r01"
    assert state["configuration"]["administration.users[1].password"] != factory_password  # the fleet's, unsealed
    assert state["history"] == ["autoupdate configuration.txt"]
    assert _pull(routers, pull)["result"] == "unchanged"  # the ETag precondition: nothing applied twice
    assert routers.state(BEHIND_NAT)["history"] == state["history"]
    assert not any("pull-secret-123" in line for line in daemon.lines)


def _download(url: str, headers: dict[str, str]) -> bytes:
    """A packet as the router gets it, checked against its Content-MD5 header."""
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        data: bytes = response.read()
        assert response.headers["Content-MD5"] == base64.b64encode(hashlib.md5(data).digest()).decode()
        assert response.headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    return data


def _pull(routers: Simulator, body: dict[str, str]) -> dict[str, object]:
    return dict(call(f"{routers.url}/d/{BEHIND_NAT}/_sim/autoupdate", "POST", body).body)
