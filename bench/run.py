"""The core benchmark: floors of the parts and the project's operations, measured in the same run.

    make bench                       # 20,000 devices
    python -m bench.run --devices 2000

Floors (in this process, gc paused as the project does): the fastest YAML parse at hand for the
same files (PyYAML's libyaml `CSafeLoader`), pydantic validation of the parsed data with the
project's models, and rendering every device's template with a plain (not sandboxed) Jinja2
environment. Operations (each in a fresh process, so cold): `validate`, a full `plan` against an
observed snapshot of every device, and `diff` against HEAD after one device's field, one group
field, or one template changed, cold and warm (the second diff of a process that keeps its
caches, as the daemon does). Each is printed as seconds and as a ratio to the sum of the floors.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import yaml

from bench.fleetgen import generate
from bench.snapshots import synthesize
from reconciler.core.documents import parse_yaml
from reconciler.core.models import kind_of
from reconciler.core.observed import snapshot_json
from reconciler.core.sandbox import DOMAIN_FILTERS
from reconciler.shell.revisions import FleetLoader

ROOT = Path(__file__).resolve().parent


class FloorLoader(yaml.CSafeLoader):
    """PyYAML's libyaml loader, knowing the one tag fleet files use."""


FloorLoader.add_constructor("!secret", lambda loader, node: loader.construct_scalar(node))


REPEAT = 3  # every figure is the median of this many runs: these shared machines are noisy


def timed(function: Callable[[], Any], repeat: int = REPEAT) -> tuple[float, Any]:
    """The median time of `repeat` runs of `function` (collector paused), and its last result."""
    times, result = [], None
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            result = function()
            times.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return statistics.median(times), result


def floors(fleet: Path) -> dict[str, float]:
    files = {p.relative_to(fleet).as_posix(): p.read_bytes() for p in fleet.rglob("*.yaml")}
    yaml_s, _ = timed(lambda: {path: yaml.load(data, Loader=FloorLoader) for path, data in files.items()})
    kinds = {path: kind for path in files if (kind := kind_of(path)) is not None}
    documents = {path: parse_yaml(path, files[path]).data for path in kinds}  # the data the project validates
    pydantic_s, _ = timed(lambda: [kinds[path].model.model_validate(data) for path, data in documents.items()])
    revision = FleetLoader().load(fleet)
    assert revision.build.fleet is not None
    renderer = revision.renderer()
    contexts = [(d.template + ".j2", renderer.context(d)) for d in revision.build.fleet.devices.values() if d.template]
    env = jinja2.Environment(loader=jinja2.DictLoader(dict(revision.build.fleet.template_sources)),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters.update(DOMAIN_FILTERS)
    templates = {name: env.get_template(name) for name in {n for n, _ in contexts}}
    render_s, _ = timed(lambda: [templates[name].render(context) for name, context in contexts])
    sandbox_s, _ = timed(lambda: [renderer.templates.render(name, context) for name, context in contexts])
    ours_s, _ = timed(lambda: [parse_yaml(path, files[path]) for path in kinds])
    print(f"for comparison, not floors: the project's YAML load {ours_s:.2f} s, sandboxed render {sandbox_s:.2f} s")
    return {"yaml": yaml_s, "pydantic": pydantic_s, "render": render_s}


def cold(*args: str, repeat: int = REPEAT) -> dict[str, Any]:
    """Run an operation in `repeat` fresh processes; the run with the median time, all times kept."""
    runs = []
    for _ in range(repeat):
        output = subprocess.run([sys.executable, "-m", "bench.driver", *args], check=True, capture_output=True,
                                text=True, cwd=ROOT.parent).stdout
        runs.append(json.loads(output))
    runs.sort(key=lambda r: r.get("cold_s", r["op_s"]))
    median: dict[str, Any] = runs[len(runs) // 2]
    median["all_s"] = [r.get("cold_s", r["op_s"]) for r in runs]
    return median


def git(fleet: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid"}
    subprocess.run(["git", *args], cwd=fleet, check=True, capture_output=True, env=env)


def prepare(out: Path, devices: int) -> tuple[Path, Path]:
    fleet = generate(out / f"fleet-{devices}", devices)
    git(fleet, "init", "--quiet", "--initial-branch=main")
    git(fleet, "add", "--all")
    git(fleet, "commit", "--quiet", "-m", "generated fleet")
    revision = FleetLoader().load(fleet)
    assert revision.build.fleet is not None and revision.ok, revision.problems[:5]
    observed = out / f"observed-{devices}.json"
    observed.write_bytes(snapshot_json(synthesize(revision.build.fleet, revision.renderer())))
    return fleet, observed


CHANGES = {  # what the diff benchmarks change: (file, old text, new text)
    "one device's field": ("devices/site-0000.yaml", "lan_vlan: 10", "lan_vlan: 11"),
    "a field of a small group (lab, 7 devices)": ("groups.yaml", "syslog.lab.", "syslog2.lab."),
    "a field of a large group (region-americas)": ("groups.yaml", "syslog.us.", "syslog2.us."),
    "one template (base)": ("templates/base.j2", "services.https.active=1\n",
                            "services.https.active=1\nservices.https.redirect=1\n"),
}


def change(fleet: Path, kind: str) -> None:
    """Undo earlier changes, then make one of CHANGES."""
    git(fleet, "checkout", "--quiet", "--", ".")
    relative, old, new = CHANGES[kind]
    path = fleet / relative
    text = path.read_text()
    assert old in text, f"{relative} has no {old!r}"
    path.write_text(text.replace(old, new, 1))


def operations(fleet: Path, observed: Path, jobs: int) -> dict[str, dict[str, Any]]:
    results = {
        "validate, 1 process": cold("validate", str(fleet), "--jobs", "1"),
        f"validate, {jobs} processes": cold("validate", str(fleet), "--jobs", str(jobs)),
        "plan (full), 1 process": cold("plan", str(fleet), "--observed", str(observed), "--jobs", "1"),
        f"plan (full), {jobs} processes": cold("plan", str(fleet), "--observed", str(observed), "--jobs", str(jobs)),
    }
    for kind in CHANGES:
        change(fleet, kind)
        results[f"diff after {kind}"] = cold("diff", str(fleet), "--base", "HEAD", "--warm")
    git(fleet, "checkout", "--quiet", "--", ".")
    return results


def report(devices: int, floor: dict[str, float], results: dict[str, dict[str, Any]]) -> str:
    total = sum(floor.values())
    lines = [f"{devices:,} devices on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
             "", "| floor | seconds |", "|---|---:|"]
    lines += [f"| {name} | {seconds:.2f} |" for name, seconds in floor.items()]
    lines += [f"| **sum of floors** | **{total:.2f}** |", "",
              "| operation (cold, fresh process) | seconds | × floors | warm seconds | peak MB | result |",
              "|---|---:|---:|---:|---:|---|"]
    for name, r in results.items():
        seconds = r.get("cold_s", r["op_s"])
        warm = f"{r['op_s']:.2f}" if "cold_s" in r else ""
        outcome = r.get("counts") or (f"{r['changed_devices']} changed, {r['renders']} renders"
                                      if "changed_devices" in r else "")
        lines.append(f"| {name} | {seconds:.2f} | {seconds / total:.2f} | {warm} | {r['max_rss_mb']:.0f} | {outcome} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=ROOT / "out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    fleet, observed = prepare(args.out, args.devices)
    floor = floors(fleet)
    results = operations(fleet, observed, args.jobs)
    (args.out / "results.json").write_text(json.dumps({"floors": floor, "operations": results}, indent=2))
    print(report(args.devices, floor, results))


if __name__ == "__main__":
    main()
