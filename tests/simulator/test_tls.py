"""HTTPS: the generated CA verifies the simulator's certificate for 127.0.0.1; the files are reused."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp
import pytest

from tests.simulator.support import MRX5, Client, simulate


def test_a_client_trusting_the_generated_ca_talks_https_to_the_routers(tmp_path: Path) -> None:
    """With `ca.pem` as its only trust anchor, a verifying client logs in over https://127.0.0.1."""
    context = ssl.create_default_context()
    tls_dir = tmp_path / "tls"

    async def scenario(client: Client) -> None:
        assert client.handle.url.startswith("https://127.0.0.1:")
        assert client.handle.ca_file == tls_dir / "ca.pem"
        token = await client.login(MRX5)
        assert (await client.api("GET", MRX5, "firmware", token))[0] == 200
        await client.sim(MRX5, "offline")
        assert not await client.answers(MRX5)
        await client.sim(MRX5, "online")
        assert await client.answers(MRX5)

    async def unverified(client: Client) -> None:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await client.request("GET", MRX5, "/_sim/state")

    # The system trust store does not know the simulator's CA.
    simulate(unverified, tls_dir=tls_dir, ssl_context=context)
    trusting = ssl.create_default_context(cafile=tls_dir / "ca.pem")
    simulate(scenario, tls_dir=tls_dir, ssl_context=trusting)


def test_existing_certificate_files_are_reused(tmp_path: Path) -> None:
    """A second start with the same directory keeps the CA, so clients configured with it keep working."""
    names = ("ca.pem", "server.pem", "server.key")

    async def nothing(client: Client) -> None:
        pass

    simulate(nothing, tls_dir=tmp_path)
    first = [(tmp_path / name).read_bytes() for name in names]
    simulate(nothing, tls_dir=tmp_path)
    assert [(tmp_path / name).read_bytes() for name in names] == first
    assert (tmp_path / "server.key").stat().st_mode & 0o077 == 0
