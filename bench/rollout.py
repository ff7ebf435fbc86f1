"""The staged rollout benchmark: 20,000 routers in five waves against a flat apply of the same fleet, same run.

    make bench-rollout                       # 20,000 routers (about 6 minutes)
    python -m bench.rollout --devices 2000

Three applies from factory state, each against a fresh simulator (profile `perfect`, reboots of
0.05 s, no rate cap) and an empty store, in one run: the fleet without rollouts.yaml (one flat
wave, the floor), the same fleet with five waves (a canary balanced by model and site, then 5 %,
25 %, 50 %, 100 %) and thresholds on, windows open, no soak; and the staged fleet again with one
model rejecting a key, to see the failed canary stop the rollout. Each apply is a fresh process
(`bench.driver`), timed from its start (load, judge, observe, plan, apply). Every simulated router
shares one host:port, so connections are reused across routers (as in `bench.live`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.fleetgen import generate
from bench.live import EXAMPLE, ROOT, start_simulator

ROLLOUTS = """\
strategies:
  default:
    waves: [canary, 5%, 25%, 50%, 100%]
    canary: {balance_by: [model, site]}
    success: {min_devices: 5, min_rate: 95%}
    failure: {max_rate: 2%, min_devices: 5, action: pause}
"""
REJECTED = "MRO-L200=interfaces.net1.vlan_id"  # the failed canary: one model refuses a key every device renders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument("--parallel", type=int, default=200)
    parser.add_argument("--out", type=Path, default=ROOT / "out")
    args = parser.parse_args()
    fleet = generate(args.out / f"rollout-fleet-{args.devices}", args.devices)
    credentials = args.out / "credentials.yaml"
    credentials.write_text("default: {username: admin, password: admin}\n")
    results: dict[str, Any] = {"devices": args.devices, "parallel": args.parallel}
    results["flat"] = apply(fleet, credentials, args)
    (fleet / "rollouts.yaml").write_text(ROLLOUTS)
    results["staged"] = apply(fleet, credentials, args)
    results["failed_canary"] = apply(fleet, credentials, args, "--reject", REJECTED)
    flat, staged = results["flat"]["seconds"], results["staged"]["seconds"]
    results["barrier_cost"] = staged / flat - 1
    results["staged_devices_per_minute"] = results["staged"]["converged"] / staged * 60
    (args.out / "rollout-results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


def apply(fleet: Path, credentials: Path, args: argparse.Namespace, *simulator_args: str) -> dict[str, Any]:
    """One apply from factory state in a fresh process, against a fresh simulator and an empty store."""
    data = args.out / "rollout-data"
    shutil.rmtree(data, ignore_errors=True)
    process, url = start_simulator(fleet, *simulator_args)
    try:
        command = [sys.executable, "-m", "bench.driver", "apply", str(fleet), "--simulator", url, "--data-dir",
                   str(data), "--credentials", str(credentials), "--secrets-key",
                   str(EXAMPLE / ".demo" / "sealing.key"), "--jobs", str(args.parallel)]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT.parent)
        seconds = time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=30)
    if not done.stdout.strip():
        raise SystemExit(f"the apply failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout)
    outcomes = result["outcomes"]
    found = {"seconds": round(seconds, 2), "apply_s": result["op_s"], "outcomes": outcomes,
             "converged": outcomes.get("converged", 0), "peak_mb": result["max_rss_mb"]}
    if "rollout" in result:
        found["rollout"] = result["rollout"]
    print(json.dumps(found), file=sys.stderr)
    return found


if __name__ == "__main__":
    main()
