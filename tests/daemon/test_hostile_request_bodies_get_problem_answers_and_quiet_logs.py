"""Request edges over real sockets: deeply nested JSON, signatures not in UTF-8, bodies broken off mid-way, the bearer
scheme's case."""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from reconciler.daemon import webhooks
from tests.daemon.conftest import FleetRepo, ServeProcess, call, wait_for

pytestmark = pytest.mark.slow

SECRET = "hostile-hooks-secret"
NESTED = b"[" * 100_000 + b"]" * 100_000  # far deeper than any parser's recursion limit, well under 1 MiB


def start(fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess], tmp_path: Path) -> ServeProcess:
    repo = fleet_repo()
    config = tmp_path / "reconciler.yaml"
    config.write_text(f"webhooks:\n  secret: {SECRET}\n")
    daemon = serve(repo.root, "--simulate", "--poll", "0.2", "--config", str(config), key=repo.key_file)
    wait_for(lambda: daemon.converged_at(repo.head), what="converged")
    return daemon


def test_deeply_nested_json_is_a_400_problem_on_the_webhook_and_on_token_creation(
        fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess], tmp_path: Path) -> None:
    """A signed webhook and POST /tokens with 100,000 nested arrays (or 65 nested objects): 400 problem bodies,
    no token made, nothing audited, no error logged."""
    daemon = start(fleet_repo, serve, tmp_path)
    audited = daemon.get("/api/v1/audit").body["total"]
    tokens_before = daemon.get("/api/v1/tokens").body["tokens"]
    objects = ('{"a":' * 65 + "1" + "}" * 65).encode()
    for body in (NESTED, objects):
        hook = call(daemon.url + "/api/v1/webhooks/git", "POST", raw=body, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": webhooks.sign(SECRET, body),
            "X-GitHub-Event": "push"})
        assert hook.status == 400, hook.body
        assert hook.headers["Content-Type"].startswith("application/problem+json")
        assert "nested deeper than 64" in hook.body["detail"]
        made = call(daemon.url + "/api/v1/tokens", "POST", raw=body, token=daemon.token)
        assert made.status == 400 and "nested deeper than 64" in made.body["detail"]
    assert daemon.get("/api/v1/tokens").body["tokens"] == tokens_before
    assert daemon.get("/api/v1/audit").body["total"] == audited
    assert not [r for r in daemon.log_records() if r["level"] in ("error", "critical")]



def test_a_webhook_signature_header_that_is_not_utf8_is_a_wrong_signature(
        fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess], tmp_path: Path) -> None:
    """Each host's header with the bytes D0 CF (aiohttp passes them on as surrogates) is a 401, not a 500
    (found by fuzzing), and no error is logged."""
    daemon = start(fleet_repo, serve, tmp_path)
    for header in ("X-Hub-Signature-256", "X-Gitea-Signature", "X-Gitlab-Token", "X-Signature-256"):
        # urllib sends header text as Latin-1: "\xd0\xcf" goes out as the two bytes D0 CF
        answer = call(daemon.url + "/api/v1/webhooks/git", "POST", raw=b'{"ref": "refs/heads/main"}',
                      headers={header: "sha256=\xd0\xcf"})
        assert answer.status == 401, (header, answer.body)
        assert answer.body["detail"] == "missing or wrong signature"
    assert not [r for r in daemon.log_records() if r["level"] in ("error", "critical")]

def test_a_client_that_breaks_off_its_body_is_no_error_of_the_daemons(
        fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess], tmp_path: Path) -> None:
    """Twenty clients send headers and half a body, then close: the daemon logs no error and no traceback for it."""
    daemon = start(fleet_repo, serve, tmp_path)
    address = urlsplit(daemon.url)
    for number in range(20):
        path, auth = (("/api/v1/tokens", f"Authorization: Bearer {daemon.token}\r\n") if number % 2
                      else ("/api/v1/webhooks/git", ""))
        with socket.create_connection((address.hostname, address.port), timeout=5) as sock:
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n"
                         "Content-Length: 1000\r\n\r\n{\"role\": ".encode())
    assert daemon.get("/api/v1/status").status == 200
    assert daemon.stop(signal.SIGTERM) == 0  # every request handled and every log line written
    for reader in daemon.readers:
        reader.join(timeout=10)
    assert not [r for r in daemon.log_records() if r["level"] in ("error", "critical") or "error" in r]
    assert not [line for line in daemon.lines if "Traceback" in line]


def test_the_bearer_scheme_is_case_insensitive_and_other_schemes_are_refused(
        fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess], tmp_path: Path) -> None:
    """`bearer`, `BEARER` and `Bearer` with extra spaces all authenticate (RFC 7235); Basic or no token is 401."""
    daemon = start(fleet_repo, serve, tmp_path)
    status = daemon.url + "/api/v1/status"
    for header in (f"bearer {daemon.token}", f"BEARER {daemon.token}", f"Bearer   {daemon.token}",
                   f"bEaReR {daemon.token}"):
        assert call(status, headers={"Authorization": header}).status == 200, header
    for header in (f"Basic {daemon.token}", "Bearer", "Bearer ", f"Bearer{daemon.token}", f"Token {daemon.token}"):
        answer = call(status, headers={"Authorization": header})
        assert answer.status == 401 and answer.headers["WWW-Authenticate"] == "Bearer", header
