"""Fuzz target: git webhook bodies after a valid signature: verify, then read the pushed branch.

Run it with `make fuzz`, or alone: `python -m fuzz.fuzz_webhook WORKDIR fuzz/corpus/webhook -max_total_time=60`.
The contract it checks is `contracts.TARGETS["webhook"]`.
"""

from fuzz.runner import run

if __name__ == "__main__":
    run("webhook")
