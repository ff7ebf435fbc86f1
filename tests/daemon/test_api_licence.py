"""D0.23: without a valid API licence the daemon's API refuses tokens and `token create` makes none."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.app.entitlements import licence_keygen, licence_sign
from tests.conftest import PROJECT
from tests.daemon.conftest import FleetRepo, ServeProcess, wait_for

pytestmark = pytest.mark.slow

TERMS = "licence:\n  key: {key}\n  article: \"{article}\"\n  customer: Test GmbH\n  purchased: 2026-01-05\n" \
        "  activated: {activated}\n"


def signed_licences(tmp_path: Path, *licences: tuple[str, str, str]) -> dict[str, str]:
    """licences/ with a trusted key and each (key, article, activated) signed by it."""
    keys = tmp_path / "vendor"
    public = licence_keygen(keys).output.strip()
    files = {"licences/licences.yaml": f"trusted_keys:\n  - {{name: vendor, public_key: \"{public}\"}}\n"}
    for key, article, activated in licences:
        path = tmp_path / f"{key}.licence"
        path.write_text(TERMS.format(key=key, article=article, activated=activated))
        licence_sign(path, keys / "licence-signing.key", "vendor")
        files[f"licences/{key}.licence"] = path.read_text()
    return files


def token_create(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reconciler", "token", "create", "--role", "viewer",
                           "--data-dir", str(data_dir)], capture_output=True, text=True, cwd=PROJECT, check=False)


def test_no_api_licence_no_api_and_no_new_tokens_until_one_is_committed(
        fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess], tmp_path: Path) -> None:
    """Licences kept but none for the API (on 21 November 2026): 403 with the reason; an API licence fixes it."""
    repo = fleet_repo()
    subscription = ("LIC-TEST-SUB-1", "10023610", "2026-01-15")
    repo.commit(signed_licences(tmp_path, subscription), "licences, but no API licence")
    data_dir = tmp_path / "data"
    daemon = serve(repo.root, "--simulate", "--poll", "0.2", key=repo.key_file, data_dir=data_dir)
    answer = wait_for(lambda: (a := daemon.get("/api/v1/status")).status == 403 and a, what="the API refused")
    assert "no valid API licence on 2026-11-21 (D0.23)" in answer.body["detail"]
    refused = token_create(data_dir)
    assert refused.returncode == 2 and "no token created: no valid API licence" in refused.stderr
    assert refused.stdout == ""

    head = repo.commit(signed_licences(tmp_path, subscription, ("LIC-TEST-API-1", "10023613", "2026-02-01")),
                       "the API licence")
    wait_for(lambda: daemon.get("/api/v1/status").status == 200, what="the API usable again")
    wait_for(lambda: daemon.status()["revision"]["last_good"] == head, what="the new revision")
    made = token_create(data_dir)
    assert made.returncode == 0 and made.stdout.startswith("rcl_")
