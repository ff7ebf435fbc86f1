"""A webhook signature header of bytes that are not UTF-8 is a wrong signature (a 401), not a 500 (found by fuzzing)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.daemon.conftest import FleetRepo, ServeProcess, call

pytestmark = pytest.mark.slow


def test_a_signature_header_that_is_not_utf8_is_refused_as_a_wrong_signature(
        fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess]) -> None:
    """Each host's header with the bytes D0 CF (aiohttp passes them on as surrogates) is a 401, no error logged."""
    repo = fleet_repo()
    config = repo.root.parent / "reconciler.yaml"
    config.write_text("webhooks:\n  secret_env: TEST_WEBHOOK_SECRET\n")
    daemon = serve(repo.root, "--simulate", "--poll", "3600", "--config", str(config), key=repo.key_file,
                   env={"TEST_WEBHOOK_SECRET": "s3cret-for-hooks"})
    body = b'{"ref": "refs/heads/main"}'
    for header in ("X-Hub-Signature-256", "X-Gitea-Signature", "X-Gitlab-Token", "X-Signature-256"):
        # urllib sends header text as Latin-1: "\xd0\xcf" goes out as the two bytes D0 CF
        answer = call(daemon.url + "/api/v1/webhooks/git", "POST", raw=body, headers={header: "sha256=\xd0\xcf"})
        assert answer.status == 401, (header, answer.body)
        assert answer.body["detail"] == "missing or wrong signature"
    assert not [r for r in daemon.log_records() if r["level"] in ("error", "critical")]
