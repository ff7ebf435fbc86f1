"""Shared fixtures: small fleet repositories written to temp dirs, and real git repositories."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.core.building import FleetBuild, build_fleet
from reconciler.core.documents import parse_yaml
from reconciler.core.fleets import SourceFile
from reconciler.core.loading import LoadedFile, load_file
from reconciler.core.models import kind_of
from reconciler.core.problems import Problem
from reconciler.shell.git.worktrees import blob_id
from reconciler.shell.library import project_library

PROJECT = Path(__file__).resolve().parent.parent
# Licences, costs and windows are judged against "now": the tests pin it (and processes they start inherit it).
os.environ["RECONCILER_NOW"] = "2026-11-21T12:00:00+01:00"
EXAMPLE = PROJECT / "example-fleet-repo"

FLEET_YAML = """\
format: reconciler/v1
name: test-fleet
variant: server
timezone: Europe/Berlin
defaults:
  template: base
  firmware: "10.6"
  fields:
    ntp_server: pool.ntp.org
"""

SITES_YAML = """\
sites:
  - {name: berlin, timezone: Europe/Berlin, lat: 52.52, lon: 13.40, country: DE}
  - {name: newark, timezone: America/New_York, lat: 40.73, lon: -74.17, country: US}
"""

GROUPS_YAML = """\
groups:
  - name: europe
    selector: {site: [berlin]}
    fields: {ntp_server: ntp.eu.example.net}
  - name: lte
    selector: {model: [MRX5 LTE]}
    fields: {apn: internet.m2m}
"""

DEVICES_YAML = """\
devices:
  - name: ber-r01
    serial: "24130001"
    model: MRX5 LTE
    address: https://10.20.1.1
    site: berlin
    fields: {lan_network: 192.168.10.0/24, vlan: 10}
  - name: ber-r02
    serial: "24130002"
    model: MRX5 LTE
    address: https://10.20.1.2
    site: berlin
    fields: {lan_network: 192.168.11.0/24}
  - name: nwk-r01
    serial: "24130003"
    model: MRX6 DSL
    address: https://10.30.1.1
    site: newark
    fields: {lan_network: 192.168.20.0/24}
"""

BASE_J2 = """\
administration.hostnames.hostname={{ device.name }}
administration.time.ntp_server.delete=all
administration.time.ntp_server.add
administration.time.ntp_server[last].server={{ ntp_server }}
interfaces.net1.ip_address[1].ip_address={{ lan_network | host(1) }}
interfaces.net1.ip_address[1].netmask={{ lan_network | netmask }}
interfaces.net1.vlan_id={{ vlan }}
{% if apn is defined %}
interfaces.wwan1.apn={{ apn }}
{% endif %}
"""

BASE_YAML = """\
fields:
  ntp_server: {type: hostname}
  lan_network: {type: ipv4_network}
  vlan: {type: int, min: 1, max: 4094, default: 1}
  apn: {type: string, required: false}
"""

FIRMWARE_YAML = """\
firmware:
  - {version: "10.4", models: [MRX5 LTE, MRX6 DSL]}
  - {version: "10.6", models: [MRX5 LTE, MRX6 DSL]}
"""


def small_fleet() -> dict[str, str]:
    """A valid three-device fleet: two sites, two groups, one template."""
    return {
        "fleet.yaml": FLEET_YAML,
        "sites.yaml": SITES_YAML,
        "groups.yaml": GROUPS_YAML,
        "devices/all.yaml": DEVICES_YAML,
        "templates/base.j2": BASE_J2,
        "templates/base.yaml": BASE_YAML,
        "resources/firmware.yaml": FIRMWARE_YAML,
    }


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> Path:
    for relative, content in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    return root


def build(files: Mapping[str, str | bytes]) -> FleetBuild:
    """Run the pure core on in-memory files, as the shell would."""
    sources = {
        path: SourceFile(path, blob_id(data), data)
        for path, content in files.items()
        for data in [content.encode() if isinstance(content, str) else content]
    }
    loaded: list[LoadedFile] = []
    for path, source in sources.items():
        kind = kind_of(path)
        if kind is not None:
            loaded.append(load_file(parse_yaml(path, source.data), kind))
    return build_fleet(loaded, sources, project_library())


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the real command line in this process: exit code, stdout, stderr."""
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def with_sealed_admin_password(files: dict[str, str], sealed: str) -> dict[str, str]:
    """The fleet with an `admin_password` secret field the base template renders, set in the fleet defaults."""
    files["templates/base.yaml"] += "  admin_password: {type: secret}\n"
    files["templates/base.j2"] += "administration.users[1].password={{ admin_password }}\n"
    files["fleet.yaml"] = files["fleet.yaml"].replace(
        "    ntp_server: pool.ntp.org\n", "    ntp_server: pool.ntp.org\n    admin_password: !secret adm\n")
    files["secrets/admin.yaml"] = f'secrets:\n  adm: {{sealed: "{sealed}"}}\n'
    return files


def codes(problems: tuple[Problem, ...] | list[Problem]) -> list[str]:
    return [p.code for p in problems]


class GitRepo:
    """A real git repository in a temp dir, driven by the git CLI."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "--quiet", "--initial-branch=main")

    def git(self, *args: str) -> str:
        env = {**os.environ, "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
               "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
               "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(self.root)}
        result = subprocess.run(["git", *args], cwd=self.root, env=env, check=True, capture_output=True, text=True)
        return result.stdout.strip()

    def commit(self, files: Mapping[str, str | bytes], message: str = "change", remove: tuple[str, ...] = ()) -> str:
        write_tree(self.root, files)
        for path in remove:
            (self.root / path).unlink()
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def git_repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "repo")


@pytest.fixture
def fleet_dir(tmp_path: Path) -> Callable[[Mapping[str, str | bytes]], Path]:
    def make(files: Mapping[str, str | bytes]) -> Path:
        return write_tree(tmp_path / "fleet", files)

    return make
