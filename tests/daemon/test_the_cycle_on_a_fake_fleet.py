"""The daemon's cycle in-process: a real git repository, a fake driver, a virtual clock, a real store.

Fast unit tests of what the end-to-end tests (a `serve` process, the simulator over HTTP) check
more slowly: a new revision converges and counts as applied; drift by hand is classified, reported
without self-heal and corrected with it; a revision `validate` rejects is never applied; a
revision that stops passing with time is not undone and nothing more is applied.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.app.sessions import LiveOptions
from reconciler.cli import main
from reconciler.core.results import DeviceOutcome
from reconciler.daemon.following import resolve_source
from reconciler.daemon.reconciling import Reconciler
from reconciler.daemon.status import RouterStatus
from reconciler.shell.clock import Clock, VirtualClock
from reconciler.shell.drivers import Driver
from reconciler.shell.drivers.fake import FakeDriver, FakeRouter
from reconciler.shell.drivers.icom import DriverSettings
from reconciler.shell.git.clones import Clone
from reconciler.shell.store import Store
from tests.conftest import GitRepo, small_fleet

SERIALS = {"ber-r01": "24130001", "ber-r02": "24130002", "nwk-r01": "24130003"}
MODELS = {"24130001": "MRX5 LTE", "24130002": "MRX5 LTE", "24130003": "MRX6 DSL"}
NTP = "administration.time.ntp_server[1].server"
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@dataclass
class Rig:
    repo: GitRepo
    files: dict[str, str]
    clock: VirtualClock
    routers: FakeDriver
    reconciler: Reconciler

    def commit(self, changes: dict[str, str], message: str = "change") -> str:
        self.files.update(changes)
        return self.repo.commit(self.files, message)

    def step(self, reason: str = "test") -> None:
        """Fetch and judge the head, then run one cycle."""
        async def go() -> None:
            await self.reconciler.refresh()
            await self.reconciler.cycle(reason, asyncio.Event())
        asyncio.run(go())

    def router(self, name: str) -> FakeRouter:
        return self.routers.routers[SERIALS[name]]


def _rig(tmp_path: Path, self_heal: bool, files: dict[str, str] | None = None) -> Rig:
    fleet = files or small_fleet()
    fleet["fleet.yaml"] += f"sync: {{interval: 1m, self_heal: {str(self_heal).lower()}}}\n"
    repo = GitRepo(tmp_path / "repo")
    repo.commit(fleet, "the fleet")
    clock = VirtualClock(START)
    routers = FakeDriver(FakeRouter(serial, model) for serial, model in MODELS.items())

    def driver(settings: DriverSettings, tokens: dict[str, str], clock: Clock) -> Driver:
        return routers

    data = tmp_path / "data"
    clone = Clone(resolve_source(str(repo.root), None, None), data)
    reconciler = Reconciler(clone, Store(data, clock), LiveOptions(data_dir=data), clock=clock, driver=driver)
    return Rig(repo, fleet, clock, routers, reconciler)


def test_a_new_revision_converges_and_counts_as_applied(tmp_path: Path) -> None:
    """The first cycle converges every router; the commit counts as applied; the next cycle applies nothing."""
    rig = _rig(tmp_path, self_heal=True)
    rig.step()
    status = rig.reconciler.status
    assert status.applied == status.last_good == rig.repo.git("rev-parse", "HEAD")
    assert set(status.devices.values()) == {RouterStatus.IN_SYNC}
    assert rig.router("ber-r01").config[NTP] == "ntp.eu.example.net"
    rig.step()
    assert status.last_cycle is not None and status.last_cycle.outcomes == {}


def test_drift_by_hand_is_reported_without_self_heal(tmp_path: Path) -> None:
    """A router changed by hand after converging is drift: reported and recorded, not corrected."""
    rig = _rig(tmp_path, self_heal=False)
    rig.step()
    rig.router("ber-r02").config[NTP] = "by-hand.example.net"
    rig.step()
    status = rig.reconciler.status
    assert list(status.drift) == ["ber-r02"] and "configuration" in status.drift["ber-r02"]
    assert status.devices["ber-r02"] is RouterStatus.CHANGES
    assert rig.router("ber-r02").config[NTP] == "by-hand.example.net"
    assert [(row.device, row.action) for row in rig.reconciler.store.drift_history()] == [("ber-r02",
                                                                                                "reported")]


def test_drift_by_hand_is_corrected_with_self_heal(tmp_path: Path) -> None:
    """With self-heal the drifted router is put back and the correction is recorded."""
    rig = _rig(tmp_path, self_heal=True)
    rig.step()
    rig.router("ber-r02").config[NTP] = "by-hand.example.net"
    rig.step()
    assert rig.router("ber-r02").config[NTP] == "ntp.eu.example.net"
    assert rig.reconciler.status.last_cycle is not None
    assert rig.reconciler.status.last_cycle.outcomes == {DeviceOutcome.CONVERGED.value: 1}
    assert rig.reconciler.store.drift_history()[0].action == "corrected"


def test_a_revision_with_one_device_failing_to_render_is_applied_to_no_router(tmp_path: Path) -> None:
    """One router's template fails: the whole revision is rejected, degraded, the last good one stays."""
    rig = _rig(tmp_path, self_heal=True)
    rig.step()
    good = rig.reconciler.status.last_good
    template = rig.files["templates/base.j2"] + "{{ (1 / 0) if device.name == 'ber-r02' else '' }}\n"
    bad = rig.commit({"templates/base.j2": template,
                      "groups.yaml": rig.files["groups.yaml"].replace("ntp.eu.example.net", "ntp.new.example.net")})
    rig.step()
    status = rig.reconciler.status
    assert status.state == "degraded" and bad[:10] in (status.invalid or "")
    assert status.last_good == good
    assert any(problem["device"] == "ber-r02" for problem in status.problems)
    assert {rig.router(name).config[NTP] for name in ("ber-r01", "ber-r02")} == {"ntp.eu.example.net"}


def _licensed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """The small fleet under a 45-day trial licence activated on 2026-03-01 (D0.33), signed for the test."""
    keys = tmp_path / "keys"
    assert main(["licence", "keygen", "--out", str(keys)]) == 0
    public = capsys.readouterr().out.strip()
    private = keys / "licence-signing.key"
    trial = tmp_path / "trial.licence"
    trial.write_text("licence:\n  key: LIC-TEST-TRIAL\n  article: trial\n  quantity: 1\n  customer: Test\n"
                     "  purchased: 2026-02-27\n  activated: 2026-03-01\n")
    assert main(["licence", "sign", str(trial), "--key", str(private), "--name", "test-vendor"]) == 0
    files = small_fleet()
    files["licences/licences.yaml"] = (f"trusted_keys:\n  - name: test-vendor\n    public_key: \"{public}\"\n")
    files["licences/trial.licence"] = trial.read_text()
    return files


def test_a_revision_that_lapses_with_time_is_not_undone_and_nothing_more_is_applied(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """After the trial ends the daemon is degraded and says why; drift is no longer corrected; routers stay."""
    files = _licensed(tmp_path, capsys)
    rig = _rig(tmp_path, self_heal=True, files=files)
    rig.step()
    assert rig.reconciler.status.state == "ok" and rig.router("ber-r01").config[NTP] == "ntp.eu.example.net"
    rig.clock.advance(dt.timedelta(days=60).total_seconds())
    rig.router("ber-r02").config[NTP] = "by-hand.example.net"
    rig.step()
    status = rig.reconciler.status
    assert status.state == "degraded"
    assert "no longer passes validation" in (status.lapsed or "") and "licence" in (status.lapsed or "")
    assert rig.router("ber-r02").config[NTP] == "by-hand.example.net"  # not corrected
    assert rig.router("ber-r01").config[NTP] == "ntp.eu.example.net"  # nothing undone
    assert rig.reconciler.store.drift_history()[0].action == "reported"
