"""The live benchmark: observe and apply against 20,000 simulated routers on loopback.

    make bench-live                     # 20,000 routers, three runs (about 8 minutes)
    python -m bench.live --devices 2000 --runs 1

In the same run: a bare aiohttp client doing the same calls as `observe` for every router (log
in, `status/device_info`, `firmware`, `configuration`) with the same concurrency, then the
project's observe (the refresh itself, after the fleet is loaded), then a full apply from factory
state (firmware with its reboot, packets, configuration, verification). Both processes' peak
memory is read from /proc. Note: every simulated router shares one host:port, so connections are
reused across routers, which real routers (one address each) never allow: both sides profit alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.fleetgen import generate
from reconciler.app.outcomes import Outcome
from reconciler.app.reconciling import observe_routers
from reconciler.app.sessions import LiveOptions, Session, open_session
from reconciler.core.observed import ObservedSnapshot

ROOT = Path(__file__).resolve().parent
EXAMPLE = ROOT.parent / "example-fleet-repo"
API = "/api/v2_0"


def start_simulator(fleet: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "simulate", "--fleet", str(fleet), "--port", "0", "--profile", "perfect",
         "--reboot-seconds", "0.05", *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        cwd=ROOT.parent)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("simulating"), line
    return process, line.split(" at ", 1)[1].split("/d/", 1)[0]


def cpu_s(pid: int) -> float:
    """CPU time (user + system) of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def bare_client(url: str, serials: list[str], concurrency: int) -> float:
    """The floor: the same calls as observe, nothing else (no parsing, no snapshot)."""
    gate = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency + 10, limit_per_host=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(serial: str) -> None:
            base = f"{url}/d/{serial}{API}"
            async with gate:
                async with session.post(f"{base}/auth/login", json={"username": "admin", "password": "admin"}) as r:
                    token = (await r.json())["access"]
                headers = {"Authorization": f"Bearer {token}"}
                for path in ("/status/device_info", "/firmware", "/configuration?profile=running"):
                    async with session.get(base + path, headers=headers) as response:
                        await response.read()

        start = time.perf_counter()
        await asyncio.gather(*(one(serial) for serial in serials))
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument("--parallel", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3, help="repeat, each from factory state; report medians")
    parser.add_argument("--out", type=Path, default=ROOT / "out")
    args = parser.parse_args()
    fleet = generate(args.out / f"live-fleet-{args.devices}", args.devices)
    credentials = args.out / "credentials.yaml"
    credentials.write_text("default: {username: admin, password: admin}\n")
    runs = []
    for number in range(args.runs):
        runs.append(one_run(fleet, credentials, args))
        print(f"run {number + 1}: {json.dumps(runs[-1])}", file=sys.stderr)
    results: dict[str, Any] = {"devices": args.devices, "parallel": args.parallel, "runs": len(runs)}
    for key in runs[0]:
        if isinstance(runs[0][key], int | float):
            values = sorted(run[key] for run in runs)
            results[key] = statistics.median(values)
            results[key + "_range"] = [values[0], values[-1]]
    results["apply_outcomes"] = [run["apply_outcomes"] for run in runs]
    (args.out / "live-results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


def one_run(fleet: Path, credentials: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Against a fresh simulator (every router in factory state) and an empty store."""
    shutil.rmtree(args.out / "live-data", ignore_errors=True)
    process, url = start_simulator(fleet)
    results: dict[str, Any] = {}
    try:
        options = LiveOptions(simulator=url, data_dir=args.out / "live-data", credentials=credentials,
                              max_parallel=args.parallel, poll_interval=0.05)
        session = open_session(fleet, None, options)
        assert not isinstance(session, Outcome)
        serials = [device.serial for device in session.fleet.devices.values()]
        results["bare_client_s"] = asyncio.run(bare_client(url, serials, args.parallel))
        start = time.perf_counter()
        snapshot = asyncio.run(observe(session))
        results["observe_s"] = time.perf_counter() - start
        results["observed_online"] = sum(1 for device in snapshot.devices if device.online)
        results["observe_ratio"] = results["observe_s"] / results["bare_client_s"]
        session.store.close()
        simulator_cpu = cpu_s(process.pid)
        results.update(apply_all(fleet, url, credentials, args))
        results["apply_simulator_cpu_s"] = round(cpu_s(process.pid) - simulator_cpu, 1)
        results["reconciler_peak_mb"] = peak_mb()
        results["simulator_peak_mb"] = peak_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return results


async def observe(session: Session) -> ObservedSnapshot:
    """The project's observe of every router (the fleet already loaded), with its own driver."""
    driver = session.driver()
    try:
        return await observe_routers(session, driver)
    finally:
        await driver.close()


def apply_all(fleet: Path, url: str, credentials: Path, args: argparse.Namespace) -> dict[str, Any]:
    """A full apply from factory state in a fresh process: load, observe, plan, apply, verify."""
    command = [sys.executable, "-m", "bench.driver", "apply", str(fleet), "--simulator", url,
               "--data-dir", str(args.out / "live-data"), "--credentials", str(credentials),
               "--secrets-key", str(EXAMPLE / ".demo" / "sealing.key"), "--jobs", str(args.parallel)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT.parent)
    result = json.loads(done.stdout)
    converged = result["outcomes"].get("converged", 0)
    return {"apply_s": result["op_s"], "apply_outcomes": result["outcomes"], "apply_peak_mb": result["max_rss_mb"],
            "apply_cpu_s": result["cpu_s"],
            "apply_devices_per_minute": converged / result["op_s"] * 60}


if __name__ == "__main__":
    main()
