"""Fuzz target: the YAML files of a fleet repository: parse, validate against every kind of file, locate problems.

Run it with `make fuzz`, or alone: `python -m fuzz.fuzz_yaml WORKDIR fuzz/corpus/yaml -max_total_time=60`.
The contract it checks is `contracts.TARGETS["yaml"]`.
"""

from fuzz.runner import run

if __name__ == "__main__":
    run("yaml")
