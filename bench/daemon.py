"""The daemon benchmark: `reconciler serve` converging 20,000 simulated routers, and its memory.

    make bench-daemon                   # 20,000 routers (about 3.5 minutes)
    python -m bench.daemon --devices 2000

The generated fleet is committed to a scratch git repository; a fresh simulator (perfect
profile, factory state) serves its routers; `reconciler serve` follows the repository with the
same concurrency as the live benchmark. Measured: the time from start until the daemon reports
the commit applied (clone, load, observe, plan, apply every router, verify), then a steady
cycle with nothing to change (`POST /api/v1/sync`: observe and plan 20,000 routers), then a
cycle after drift on 1 % of the routers (corrected with self_heal), and the daemon's peak
memory (VmHWM) against the target of 500 MB with 20,000 routers.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.fleetgen import generate
from bench.live import EXAMPLE, peak_mb, start_simulator
from reconciler.daemon import tokens
from reconciler.shell.store import Store

ROOT = Path(__file__).resolve().parent


def call(url: str, token: str, method: str = "GET", body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", **({"Content-Type": "application/json"} if data else {})})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


def wait(condition: Any, timeout: float = 3600) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if condition():
            return time.perf_counter() - start
        time.sleep(0.2)
    raise TimeoutError("the daemon did not get there in time")


def committed_fleet(out: Path, devices: int) -> tuple[Path, str]:
    fleet = generate(out / f"daemon-fleet-{devices}", devices)
    spec = (fleet / "fleet.yaml").read_text()
    assert "sync: {interval: 5m, self_heal: true}" in spec
    # cycles come from the benchmark (POST sync), not from the interval
    (fleet / "fleet.yaml").write_text(spec.replace("sync: {interval: 5m,", "sync: {interval: 1h,"))
    git = ["git", "-C", str(fleet), "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    shutil.rmtree(fleet / ".git", ignore_errors=True)
    subprocess.run([*git, "init", "--quiet", "--initial-branch=main"], check=True)
    subprocess.run([*git, "add", "--all"], check=True)
    subprocess.run([*git, "commit", "--quiet", "-m", "fleet"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    return fleet, head


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument("--parallel", type=int, default=200)
    parser.add_argument("--out", type=Path, default=ROOT / "out")
    args = parser.parse_args()
    fleet, head = committed_fleet(args.out, args.devices)
    credentials = args.out / "credentials.yaml"
    credentials.write_text("default: {username: admin, password: admin}\n")
    data = args.out / "daemon-data"
    shutil.rmtree(data, ignore_errors=True)
    store = Store(data)
    _, token = tokens.create(store, "admin", "bench", "bench")
    store.close()
    simulator, url = start_simulator(fleet)
    daemon = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "serve", str(fleet), "--simulator", url, "--listen", "127.0.0.1:0",
         "--data-dir", str(data), "--credentials", str(credentials), "--secrets-key",
         str(EXAMPLE / ".demo" / "sealing.key"), "--max-parallel", str(args.parallel), "--poll", "3600",
         "--log-format", "json", "--poll-interval", "0.05"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT.parent)
    try:
        results = measure(daemon, head, token, url, args.devices)
    finally:
        daemon.terminate()
        results_code = daemon.wait(timeout=120)
        simulator.terminate()
        simulator.wait(timeout=30)
    results["exit_code_after_sigterm"] = results_code
    (args.out / "daemon-results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


def measure(daemon: subprocess.Popen[str], head: str, token: str, routers: str, devices: int) -> dict[str, Any]:
    assert daemon.stdout is not None
    started = time.perf_counter()
    api = daemon.stdout.readline().split()[-1]
    status = f"{api}/api/v1/status"
    results: dict[str, Any] = {"devices": devices}
    wait(lambda: _applied(call(status, token), head))
    results["converge_from_factory_s"] = round(time.perf_counter() - started, 1)
    results["converge_devices_per_minute"] = round(devices / results["converge_from_factory_s"] * 60)
    results["converge_peak_mb"] = round(peak_mb(daemon.pid), 1)
    results["after_converge_counts"] = call(status, token)["counts"]
    results["steady_cycle_s"] = cycle(api, token, status)
    results["steady_peak_mb"] = round(peak_mb(daemon.pid), 1)
    drifted = [str(30_000_000 + i) for i in range(0, devices, 100)]
    for serial in drifted:
        urllib.request.urlopen(urllib.request.Request(
            f"{routers}/d/{serial}/_sim/configuration", method="POST", headers={"Content-Type": "application/json"},
            data=json.dumps({"set": {"administration.hostnames.hostname": "changed-by-hand"}}).encode()), timeout=10)
    results["drifted"] = len(drifted)
    results["drift_cycle_s"] = cycle(api, token, status)
    last = call(status, token)["last_cycle"]
    results["drift_cycle_outcomes"] = last["outcomes"]
    results["daemon_peak_mb"] = round(peak_mb(daemon.pid), 1)
    return results


def _applied(status: dict[str, Any], head: str) -> bool:
    if status["state"] == "degraded":
        raise RuntimeError(f"the daemon is degraded: {status['degraded']} {status['problems'][:3]}")
    return bool(status["revision"]["applied"] == head)


def cycle(api: str, token: str, status: str) -> float:
    """Time of one forced cycle, from the request until the status reports it finished."""
    before = call(status, token)["cycles"]
    start = time.perf_counter()
    call(f"{api}/api/v1/sync", token, "POST")
    wait(lambda: call(status, token)["cycles"] > before)
    return round(time.perf_counter() - start, 1)


if __name__ == "__main__":
    main()
