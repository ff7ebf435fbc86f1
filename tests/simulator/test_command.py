"""`reconciler simulate`: options, the devices it reads or makes, and a real process serving until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from reconciler.simulator.command import add_arguments, run
from reconciler.simulator.fleet import FleetError, generated_devices, read_devices
from tests.conftest import EXAMPLE, PROJECT
from tests.simulator.support import Client, simulate

READY = re.compile(r"simulating (\d+) routers at (http://127\.0\.0\.1:(\d+))/d/<serial> \(profile (\w+), seed (\d+)\)")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_the_options_default_to_loopback_port_9443_realistic_and_seed_1() -> None:
    """Without options beyond the devices, the simulator listens on 127.0.0.1:9443, realistic, seed 1, plain HTTP."""
    args = parse("--devices", "3")
    assert (args.host, args.port, args.profile, args.seed, args.tls) == ("127.0.0.1", 9443, "realistic", 1, None)
    assert (args.factory_firmware, args.factory_password) == ("10.4", "admin")


def test_either_a_fleet_or_a_device_count_is_required() -> None:
    """Neither --fleet nor --devices, or both, is a usage error."""
    for argv in ((), ("--devices", "3", "--fleet", "x")):
        with pytest.raises(SystemExit) as stopped:
            parse(*argv)
        assert stopped.value.code == 2


def test_bad_knobs_and_missing_fleets_exit_2_with_a_message(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A share above 1, a --reject without '=' and a folder without devices/ are reported, not raised."""
    for argv in (("--devices", "3", "--busy-share", "1.5"), ("--devices", "3", "--reject", "MRX5"),
                 ("--fleet", str(tmp_path)), ("--devices", "0")):
        assert run(parse(*argv)) == 2
        assert capsys.readouterr().err.startswith("reconciler simulate: ")


def test_the_example_fleet_gives_its_60_routers_with_name_serial_and_model() -> None:
    """`--fleet example-fleet-repo` reads every device file (with `!secret` fields) into 60 routers."""
    devices = read_devices(EXAMPLE)
    assert len(devices) == 60
    assert len({device.serial for device in devices}) == 60
    first = next(device for device in devices if device.name == "ber-plant-r01")
    assert (first.serial, first.model) == ("24130101", "MRX5 LTE")

    async def scenario(client: Client) -> None:
        assert len((await client.get_root("/_sim/routers"))["routers"]) == 60
        await client.login("24130101")

    simulate(scenario, devices)


def test_a_fleet_file_with_an_incomplete_device_is_reported_with_its_path(tmp_path: Path) -> None:
    """A device without a serial names the file and the device's position."""
    (tmp_path / "devices").mkdir()
    (tmp_path / "devices" / "a.yaml").write_text("devices:\n  - {name: r1, model: MRX5 LTE}\n")
    with pytest.raises(FleetError, match=r"a\.yaml: device 1 has no serial"):
        read_devices(tmp_path)


def test_generated_devices_count_up_from_30000000_and_cycle_the_models() -> None:
    """`--devices N`: serials 30000000+i, names sim-<i>, five models in turn."""
    devices = generated_devices(6)
    assert [d.serial for d in devices[:2]] == ["30000000", "30000001"]
    assert [d.name for d in devices[:2]] == ["sim-0", "sim-1"]
    assert [d.model for d in devices] == ["MRX5 LTE", "MRX3 LTE", "MRX6 DSL", "SCR LTE", "MRO-L200", "MRX5 LTE"]


def test_the_command_prints_one_ready_line_serves_and_stops_on_sigterm() -> None:
    """A real process prints the ready line with the bound port, answers, and exits 0 on SIGTERM."""
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler.simulator", "--fleet", str(EXAMPLE), "--port", "0", "--profile", "perfect",
         "--seed", "5"], cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        ready = READY.fullmatch(process.stdout.readline().strip())
        assert ready is not None
        assert (ready.group(1), ready.group(4), ready.group(5)) == ("60", "perfect", "5")
        assert asyncio.run(health(ready.group(2))) == 60
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.communicate()


async def health(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/_sim/health") as response:
        return int((await response.json())["routers"])
