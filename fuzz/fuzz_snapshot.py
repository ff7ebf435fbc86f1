"""Fuzz target: observed-state snapshots as `plan --observed FILE` reads them.

Run it with `make fuzz`, or alone: `python -m fuzz.fuzz_snapshot WORKDIR fuzz/corpus/snapshot -max_total_time=60`.
The contract it checks is `contracts.TARGETS["snapshot"]`.
"""

from fuzz.runner import run

if __name__ == "__main__":
    run("snapshot")
