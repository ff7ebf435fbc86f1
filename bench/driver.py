"""One benchmarked operation in a fresh process (cold): prints its timings and peak memory as JSON.

    python -m bench.driver plan FLEET --observed FILE --jobs 1
    python -m bench.driver diff FLEET --base HEAD [--warm]

Imports are timed apart from the operation, so "cold" means: nothing parsed, rendered or cached
yet, as for a CLI run, without the interpreter's own start-up.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

started = time.perf_counter()
from pathlib import Path  # noqa: E402

from reconciler import app  # noqa: E402
from reconciler.app import live, sessions  # noqa: E402
from reconciler.shell.revisions import FleetLoader  # noqa: E402

imported = time.perf_counter()


def _outcomes(table: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in table.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2:
            found[parts[1]] = found.get(parts[1], 0) + 1
    return found


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cpu_seconds() -> float:
    """CPU time of this process and its waited-for children (the forked planning workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("op", choices=("validate", "plan", "diff", "apply"))
    parser.add_argument("fleet", type=Path)
    parser.add_argument("--observed", type=Path)
    parser.add_argument("--base", default="HEAD")
    parser.add_argument("--jobs", type=int)
    parser.add_argument("--warm", action="store_true", help="diff: run twice with one loader, time the second")
    parser.add_argument("--simulator", help="apply: the simulator's URL")
    parser.add_argument("--credentials", type=Path)
    parser.add_argument("--secrets-key", type=Path)
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    result: dict[str, object] = {"import_s": round(imported - started, 3)}
    begin = time.perf_counter()
    if args.op == "apply":
        options = sessions.LiveOptions(simulator=args.simulator, data_dir=args.data_dir, credentials=args.credentials,
                                       secrets_key=args.secrets_key, max_parallel=args.jobs, poll_interval=0.05)
        outcome = live.apply(args.fleet, None, True, options)
        result["outcomes"] = _outcomes(outcome.output)
        result["rollout"] = [note for note in outcome.notes if note.startswith("rollout ")]
    elif args.op == "validate":
        outcome = app.validate(args.fleet, None, "json", jobs=args.jobs)
    elif args.op == "plan":
        outcome = app.plan(args.fleet, args.observed, None, "json", None, False, jobs=args.jobs)
    else:
        loader = FleetLoader()
        outcome = app.diff(args.fleet, args.base, None, "json", False, loader=loader)
        if args.warm:
            result["cold_s"] = round(time.perf_counter() - begin, 3)
            parsed_before = loader.parsed
            begin = time.perf_counter()
            outcome = app.diff(args.fleet, args.base, None, "json", False, loader=loader)
            result["files_parsed_warm"] = loader.parsed - parsed_before
    result["op_s"] = round(time.perf_counter() - begin, 3)
    result["exit_code"] = outcome.exit_code
    summary = json.loads(outcome.output) if outcome.output and args.op != "apply" else {}
    for key in ("changed_devices", "unchanged_devices", "renders", "errors", "counts"):
        if key in summary:
            result[key] = summary[key]
    result["max_rss_mb"] = peak_rss_mb()
    result["cpu_s"] = round(cpu_seconds(), 3)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
