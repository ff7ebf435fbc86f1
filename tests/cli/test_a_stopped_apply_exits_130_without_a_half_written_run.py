"""SIGTERM stops `reconciler apply` cleanly at any moment: exit 130, one clear line, no half-written run.

Each phase is pinned by an event, not by timing: start-up by a named pipe as the credentials file
(as `--credentials <(vault read …)` gives one; the process blocks reading it after loading and
judging the fleet, before it observes anything), observing by the progress line of
a router that is offline while the others still wait out a long latency, applying by the first
router reported converged.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import PROJECT
from tests.live.conftest import LIVE_MANAGEMENT, LiveFleet, Simulator

Make = Callable[..., LiveFleet]
Start = Callable[..., Simulator]
SERIALS = ("24130001", "24130002", "24130003")
FACTORY_FIRMWARE = "10.4"


def _apply(fleet: LiveFleet, sim: Simulator) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "reconciler", "apply", str(fleet.root), "--yes", *fleet.options(sim.url)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT)


def _runs(fleet: LiveFleet) -> list[tuple[int, str, str | None]]:
    """Every run the store holds: id, status, finished_at (none if the store was never created)."""
    store = fleet.data_dir / "state.sqlite3"
    if not store.exists():
        return []
    with sqlite3.connect(store) as db:
        return db.execute("select id, status, finished_at from runs order by id").fetchall()


@contextmanager
def _reader_waits(pipe: Path) -> Iterator[threading.Event]:
    """A named pipe whose reader blocks: the event is set once a process has opened it for reading."""
    os.mkfifo(pipe)
    opened = threading.Event()
    ends: list[int] = []

    def open_for_writing() -> None:
        ends.append(os.open(pipe, os.O_WRONLY))  # returns once the reader has opened the pipe
        opened.set()

    writer = threading.Thread(target=open_for_writing, daemon=True)
    writer.start()
    try:
        yield opened
    finally:
        if not opened.is_set():  # nobody came to read: open it ourselves so the writer thread returns
            os.close(os.open(pipe, os.O_RDONLY | os.O_NONBLOCK))
        writer.join(timeout=10)
        for end in ends:
            os.close(end)


def test_sigterm_while_starting_up_exits_130_and_writes_no_run(live_fleet: Make, simulator: Start) -> None:
    """SIGTERM while apply reads its operator files: exit 130, "interrupted", no run, no router touched."""
    fleet = live_fleet()
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect")
    fleet.credentials.unlink()
    with _reader_waits(fleet.credentials) as loading:
        process = _apply(fleet, sim)
        assert loading.wait(timeout=60), "apply never read its credentials"
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err == "reconciler: interrupted\n"
    assert out == ""
    assert _runs(fleet) == []
    assert [sim.state(serial)["requests"] for serial in SERIALS] == [0, 0, 0]


def test_sigterm_while_observing_exits_130_and_writes_no_run(live_fleet: Make, simulator: Start) -> None:
    """SIGTERM while the routers are being observed: exit 130, "interrupted", no run, no router changed."""
    fleet = live_fleet()
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--latency-ms", "1500")
    sim.poke(SERIALS[0], "offline")  # reported at once, while the others still wait out their latency
    process = _apply(fleet, sim)
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if line.startswith("observing: ") and line.rstrip().endswith(": offline"):
            process.send_signal(signal.SIGTERM)
            break
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, "".join(seen) + err
    assert err == "reconciler: interrupted\n"
    assert out == ""
    assert _runs(fleet) == []
    assert {sim.state(serial)["firmware"] for serial in SERIALS} == {FACTORY_FIRMWARE}


def test_sigterm_while_applying_finishes_routers_in_flight_and_records_the_run(live_fleet: Make,
                                                                               simulator: Start) -> None:
    """SIGTERM once a router converged: no new router starts, exit 130, the run is closed as interrupted."""
    fleet = live_fleet(LIVE_MANAGEMENT.replace("max_parallel: 4", "max_parallel: 1"))
    sim = simulator("--fleet", str(fleet.root), "--profile", "perfect", "--reboot-seconds", "0.5")
    process = _apply(fleet, sim)
    assert process.stderr is not None
    for line in process.stderr:
        if line.startswith("applying: ") and ": converged" in line:
            process.send_signal(signal.SIGTERM)
            break
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "reconciler: error: interrupted: " in err
    assert "run apply again to finish what is left" in err
    [(_, status, finished)] = _runs(fleet)
    assert (status, finished is not None) == ("interrupted", True)
    firmware = [sim.state(serial)["firmware"] for serial in SERIALS]
    assert 1 <= sum(version != FACTORY_FIRMWARE for version in firmware) < len(SERIALS)
