"""The fleet loader's memos: a reload reuses what did not change and finds exactly what a fresh load finds."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.shell.revisions import FleetLoader, LoadedRevision
from tests.conftest import DEVICES_YAML, small_fleet, write_tree

BROKEN_DEVICE = DEVICES_YAML.replace("fields: {lan_network: 192.168.11.0/24}", "fields: {vlan: 7}")
EXTRA_DEVICE = """
  - name: nwk-r02
    serial: "24130004"
    model: MRX5 LTE
    address: https://10.30.1.2
    site: newark
    fields: {lan_network: 192.168.21.0/24, vlan: 99999}
"""
CHANGES = {
    "a device's field": {"devices/all.yaml": DEVICES_YAML.replace("vlan: 10", "vlan: 11")},
    "a device without its required field": {"devices/all.yaml": BROKEN_DEVICE},
    "a new device with a wrong field": {"devices/all.yaml": DEVICES_YAML + EXTRA_DEVICE},
    "a group field": {"groups.yaml": small_fleet()["groups.yaml"].replace("ntp.eu.", "ntp2.eu.")},
    "a group field of the wrong type": {"groups.yaml": small_fleet()["groups.yaml"].replace("ntp.eu.example.net",
                                                                                           "'not a host!'")},
}


def summary(revision: LoadedRevision) -> tuple[object, ...]:
    fleet = revision.build.fleet
    assert fleet is not None
    devices = {name: (d.groups, d.template, d.firmware, dict(d.fields)) for name, d in fleet.devices.items()}
    hashes = {name: revision.renderer().input_hash(d) for name, d in fleet.devices.items()}
    return tuple(str(p) for p in revision.problems), devices, hashes, revision.build.invalid_devices


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_reload_after_a_change_equals_a_fresh_load(tmp_path: Path, change: str) -> None:
    """Devices, problems and input hashes after a change are the same whether the memos were warm or not."""
    root = write_tree(tmp_path / "fleet", small_fleet())
    warm = FleetLoader()
    warm.load(root)
    write_tree(root, CHANGES[change])
    assert summary(warm.load(root)) == summary(FleetLoader().load(root))


def test_a_reload_reuses_unchanged_devices_and_their_hashes(tmp_path: Path) -> None:
    """With only a devices file changed, unchanged devices are the same objects with the same hashes."""
    root = write_tree(tmp_path / "fleet", {**small_fleet(), "devices/more.yaml": EXTRA_DEVICE.replace(
        "99999", "5").join(["devices:\n", ""])})
    loader = FleetLoader()
    before = loader.load(root)
    write_tree(root, {"devices/all.yaml": DEVICES_YAML.replace("vlan: 10", "vlan: 11")})
    after = loader.load(root)
    assert before.build.fleet is not None and after.build.fleet is not None
    assert after.build.fleet.devices["nwk-r02"] is before.build.fleet.devices["nwk-r02"]
    assert after.build.fleet.devices["ber-r01"] is not before.build.fleet.devices["ber-r01"]
    assert loader.parsed == 8  # seven YAML files, then only the changed one again


def test_a_group_field_change_re_resolves_only_the_groups_members(tmp_path: Path) -> None:
    """A changed field of group `europe` builds its members anew and reuses every other device."""
    root = write_tree(tmp_path / "fleet", small_fleet())
    loader = FleetLoader()
    before = loader.load(root).build.fleet
    write_tree(root, {"groups.yaml": small_fleet()["groups.yaml"].replace("ntp.eu.", "ntp2.eu.")})
    after = loader.load(root).build.fleet
    assert before is not None and after is not None
    assert after.devices["nwk-r01"] is before.devices["nwk-r01"]  # not in europe
    assert after.devices["ber-r01"] is not before.devices["ber-r01"]
    assert after.devices["ber-r01"].fields["ntp_server"] == "ntp2.eu.example.net"


def test_a_membership_change_re_resolves_every_device(tmp_path: Path) -> None:
    """A changed selector may move any device between groups: nothing is reused."""
    root = write_tree(tmp_path / "fleet", small_fleet())
    loader = FleetLoader()
    before = loader.load(root).build.fleet
    write_tree(root, {"groups.yaml": small_fleet()["groups.yaml"].replace("site: [berlin]", "site: [newark]")})
    after = loader.load(root).build.fleet
    assert before is not None and after is not None
    assert all(after.devices[name] is not before.devices[name] for name in after.devices)
    assert after.devices["nwk-r01"].groups == ("europe",)
