"""The start-up benchmark: how long `reconciler --help` and other small commands take, as whole processes.

    python -m bench.startup               # 21 runs of each command
    python -m bench.startup --runs 51

Each command is started as a user starts it (the console script `reconciler` beside this
interpreter), its output thrown away, and timed from spawn to exit, wall clock. The floors are
measured in the same run, the same way: `python -c pass` (the interpreter's own start) and
`python -c "import argparse"` (the least a command line parser needs). The commands and floors
take turns, run after run, so a burst of load on this shared machine hits them alike; each
figure is the median of its runs, with the range. For context it also times one command that
does real work (`validate` of the example fleet, which imports the application) and reports
the largest imports of `reconciler --help` from `python -X importtime`.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
RECONCILER = str(Path(sys.executable).parent / "reconciler")
TARGET_S = 0.3

FLOORS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    'python -c "import argparse"': [sys.executable, "-c", "import argparse"],
}
SMALL = {
    "reconciler --help": [RECONCILER, "--help"],
    "reconciler --version": [RECONCILER, "--version"],
    "reconciler validate --help": [RECONCILER, "validate", "--help"],
    "reconciler schema --help": [RECONCILER, "schema", "--help"],
    "reconciler apply --help": [RECONCILER, "apply", "--help"],
    "reconciler frobnicate (usage error)": [RECONCILER, "frobnicate"],
}
WORK = {
    "reconciler validate example-fleet-repo": [RECONCILER, "validate", str(ROOT.parent / "example-fleet-repo")],
}


def wall_s(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, cwd=ROOT.parent)
    return time.perf_counter() - started


def measure(commands: dict[str, list[str]], runs: int) -> dict[str, list[float]]:
    """Every command once per round, `runs` rounds (after one unmeasured round that warms the file cache)."""
    for command in commands.values():
        wall_s(command)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            times[name].append(wall_s(command))
    return times


def largest_imports(count: int = 8) -> list[tuple[str, float]]:
    """The modules `reconciler --help` imports with the largest cumulative time (ms), from -X importtime."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-c",
                             "import sys; from reconciler.cli import main; sys.exit(main(['--help']))"],
                            capture_output=True, text=True, check=False, cwd=ROOT.parent)
    rows = []
    for line in result.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((parts[2].strip(), int(parts[1]) / 1000))
    return sorted(rows, key=lambda row: -row[1])[:count]


def summary(times: list[float]) -> dict[str, float]:
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=21, help="runs of each command (default: 21)")
    parser.add_argument("--out", type=Path, default=ROOT / "out", help="where startup-results.json goes")
    args = parser.parse_args()
    times = measure({**FLOORS, **SMALL, **WORK}, args.runs)
    results: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "runs": args.runs},
        "commands": {name: summary(values) for name, values in times.items()},
        "largest_imports_of_help_ms": largest_imports(),
    }
    floor = results["commands"]["python -c pass"]["median_s"]
    argparse_floor = results["commands"]['python -c "import argparse"']["median_s"]
    print(f"{'command':<42} {'median s':>9} {'range':>15} {'× pass':>7} {'- argparse':>11}")
    for name, figures in results["commands"].items():
        median = figures["median_s"]
        verdict = ("  ≤ 0.3 s" if median <= TARGET_S else "  > 0.3 s") if name in SMALL else ""
        print(f"{name:<42} {median:9.3f} {figures['min_s']:7.3f}–{figures['max_s']:.3f} "
              f"{median / floor:7.1f} {median - argparse_floor:+11.3f}{verdict}")
    print("\nlargest imports of `reconciler --help` (cumulative ms):")
    for module, ms in results["largest_imports_of_help_ms"]:
        print(f"  {ms:8.1f}  {module}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "startup-results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
