"""The Dockerfile (no engine here to build it): its health check, run as the container would, against a real daemon;
and what the image must carry (an SSH client for git@ sources, an init that reaps git, labels)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import PROJECT
from tests.daemon.conftest import FleetRepo, ServeProcess, call, wait_for

pytestmark = pytest.mark.slow


def instructions() -> dict[str, list[str]]:
    """The final stage's instructions by keyword, continuation lines joined."""
    text = (PROJECT / "Dockerfile").read_text().replace("\\\n", " ")
    final = text[text.rindex("\nFROM "):]
    found: dict[str, list[str]] = {}
    for line in final.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            found.setdefault(keyword, []).append(" ".join(rest.split()))
    return found


def health_check(data_dir: Path) -> int:
    """The image's HEALTHCHECK command, run here with the data directory where the test daemon keeps it."""
    [check] = instructions()["HEALTHCHECK"]
    argv = json.loads(check[check.index("CMD ") + 4:])
    assert argv[:2] == ["python", "-c"]
    code = argv[2].replace("/data/", f"{data_dir}/")
    return subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, timeout=30).returncode


def test_the_image_has_an_ssh_client_an_init_labels_and_takes_the_address_from_the_configuration() -> None:
    """openssh-client and tini installed, tini as PID 1 in front of `reconciler`, OCI labels, and no --listen
    on the command line (it would override the configuration's `listen`, which the health check follows)."""
    found = instructions()
    [install] = [run for run in found["RUN"] if "apt-get install" in run]
    assert {"git", "openssh-client", "tini", "ca-certificates"} <= set(install.split())
    assert json.loads(found["ENTRYPOINT"][0]) == ["/usr/bin/tini", "--", "reconciler"]
    labels = " ".join(found["LABEL"])
    assert {"title", "version", "licenses", "description"} <= set(re.findall(r"org\.opencontainers\.image\.(\w+)=",
                                                                             labels))
    command = json.loads(found["CMD"][0])
    assert command[0] == "serve" and "--listen" not in command and command[-2:] == ["--data-dir", "/data"]


def test_the_health_check_passes_while_the_loop_runs_and_fails_when_it_is_down_or_the_daemon_stopped(
        fleet_repo: Callable[..., FleetRepo], serve: Callable[..., ServeProcess], tmp_path: Path) -> None:
    """On whatever port the daemon got, the container's check succeeds; with the loop down (fetches failing)
    it fails; once the daemon stopped (its address file removed) it fails."""
    repo = fleet_repo()
    data_dir, fault = tmp_path / "data", tmp_path / "fault"
    config = tmp_path / "reconciler.yaml"
    config.write_text("restart_backoff: 5s\n")
    daemon = serve(repo.root, "--poll", "0.2", "--config", str(config), key=repo.key_file, data_dir=data_dir,
                   env={"RECONCILER_TEST_FAULT_FETCH": str(fault)})
    assert (data_dir / "daemon.url").read_text().strip() == daemon.url
    assert health_check(data_dir) == 0
    fault.touch()
    wait_for(lambda: call(daemon.url + "/healthz").status == 503, what="the loop down")
    assert health_check(data_dir) != 0
    assert daemon.stop(signal.SIGTERM) == 0
    assert not (data_dir / "daemon.url").exists() and health_check(data_dir) != 0
