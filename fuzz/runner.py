"""Runs one fuzz target under atheris: `python -m fuzz.fuzz_<target> [libFuzzer options] [corpus dirs]`.

Where it sits: each `fuzz_<target>.py` calls `run` with its name; the check itself is in
`contracts`. The project's modules are imported inside atheris' import hook so that their
branches are instrumented; what the check raises is a crash, which libFuzzer writes to its
artifact directory (`make fuzz` passes a temporary one).
"""

from __future__ import annotations

import sys

import atheris


def run(target: str) -> None:
    with atheris.instrument_imports(include=["reconciler"]):
        from fuzz.contracts import TARGETS  # noqa: PLC0415 (imported under the hook, on purpose)
    atheris.Setup(sys.argv, TARGETS[target])
    atheris.Fuzz()
