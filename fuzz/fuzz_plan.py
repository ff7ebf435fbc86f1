"""Fuzz target: saved plans as `apply plan.json` reads them.

Run it with `make fuzz`, or alone: `python -m fuzz.fuzz_plan WORKDIR fuzz/corpus/plan -max_total_time=60`.
The contract it checks is `contracts.TARGETS["plan"]`.
"""

from fuzz.runner import run

if __name__ == "__main__":
    run("plan")
