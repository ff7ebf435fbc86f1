"""Fuzz target: icom OS ASCII configuration text: parse, hash, and parse the canonical text back.

Run it with `make fuzz`, or alone: `python -m fuzz.fuzz_config WORKDIR fuzz/corpus/config -max_total_time=60`.
The contract it checks is `contracts.TARGETS["config"]`.
"""

from fuzz.runner import run

if __name__ == "__main__":
    run("config")
