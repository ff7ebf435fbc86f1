"""The sandbox's worst case: how long the most expensive templates known take at the default budget.

    python -m bench.sandbox              # every adversary, three runs each
    python -m bench.sandbox --runs 1 --top 5

Each template of `tests/core/adversarial_templates.py` (the operations whose cost is not linear in
what they read, and loops that repeat the costliest ones until the budget runs out) is rendered
with the default budget in this process, and timed (the render only, not building the context).
The floor, measured in the same run, is a loop that does nothing but spend the budget one
iteration a step: the cheapest a step can be. Printed: every template's median time, its ratio to
the floor and its outcome, slowest first, and the worst.

Compiling is timed apart (once per template and revision, not per device): the slowest compiles,
among them templates near the 1 MiB size limit full of literals built to share a hash, which
Python's compiler would put in its table of constants in quadratic time.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import time
from collections.abc import Mapping
from typing import Any

from reconciler.core.sandbox import DEFAULT_BUDGET, TemplateProblem, TemplateSet
from tests.core.adversarial_templates import ADVERSARIES, HASH_MODULUS, LOOP, colliding_pairs

# Templates of about 600 kB that only compiling them tests (too slow to compile for the tests).
_BIG_LITERALS = {
    "20,000 colliding tuples in a list literal": "{{ [" + ", ".join(
        f"({a}, {b})" for a, b in colliding_pairs(20_000)) + "] | length }}",
    "20,000 colliding integers as dict literal keys": "{{ {" + ", ".join(
        f"{HASH_MODULUS * k}: 1" for k in range(1, 20_001)) + "} | length }}",
    "20,000 distinct tuples in a list literal": "{{ [" + ", ".join(
        f"({a}, {a + 1})" for a in range(10**12, 10**12 + 20_000)) + "] | length }}",
}


def compile_seconds(source: str) -> tuple[float, str]:
    """Seconds compiling `source` takes (what a revision pays once per template), and its outcome."""
    templates = TemplateSet({"t.j2": source}, DEFAULT_BUDGET)
    start = time.perf_counter()
    problem = templates.check("t.j2")
    return time.perf_counter() - start, problem.kind if problem else "ok"


def render_seconds(source: str, context: Mapping[str, Any]) -> tuple[float, str]:
    """Seconds one render of `source` takes at the default budget, and its outcome."""
    templates = TemplateSet({"t.j2": source}, DEFAULT_BUDGET)
    templates.check("t.j2")  # compile outside the timing: a render is what a device pays
    gc.collect()
    start = time.perf_counter()
    try:
        templates.render("t.j2", context)
        outcome = "ok"
    except TemplateProblem as problem:
        outcome = problem.kind
    return time.perf_counter() - start, outcome


def median_seconds(source: str, context: Mapping[str, Any], runs: int) -> tuple[float, str]:
    results = [render_seconds(source, context) for _ in range(runs)]
    return statistics.median(seconds for seconds, _ in results), results[0][1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--top", type=int, default=0, help="print only the slowest N (default: all)")
    args = parser.parse_args()
    print(f"Python {platform.python_version()} on {platform.machine()}, {len(ADVERSARIES)} templates, "
          f"budget {DEFAULT_BUDGET.max_steps:,} steps and {DEFAULT_BUDGET.max_output:,} characters")
    floor, outcome = median_seconds(LOOP.replace("BODY", ""), {}, args.runs)
    assert outcome == "budget", outcome
    print(f"floor (a loop spending the whole budget): {floor:.3f} s")
    rows = []
    for adversary in ADVERSARIES:
        context = adversary.context()
        seconds, outcome = median_seconds(adversary.source, context, args.runs)
        rows.append((seconds, adversary.name, outcome, adversary.outcome))
    rows.sort(reverse=True)
    print("\n| template | seconds | x floor | outcome |\n|---|---:|---:|---|")
    for seconds, name, outcome, expected in rows[: args.top or None]:
        mark = "" if outcome == expected else f" (expected {expected})"
        print(f"| {name} | {seconds:.3f} | {seconds / floor:.1f} | {outcome}{mark} |")
    worst = rows[0]
    print(f"\nworst: {worst[1]}, {worst[0]:.2f} s ({worst[0] / floor:.1f} x the floor)")
    sources = {adversary.name: adversary.source for adversary in ADVERSARIES} | _BIG_LITERALS
    compiles = sorted(((*compile_seconds(source), name) for name, source in sources.items()), reverse=True)
    print("\n| compiling | seconds | outcome |\n|---|---:|---|")
    for seconds, outcome, name in compiles[:5]:
        print(f"| {name} | {seconds:.3f} | {outcome} |")


if __name__ == "__main__":
    main()
