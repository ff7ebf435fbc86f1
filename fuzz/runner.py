"""Runs one fuzz target under atheris: `python -m fuzz.fuzz_<target> [libFuzzer options] [corpus dirs]`.

Where it sits: each `fuzz_<target>.py` calls `run` with its name; the check itself is in
`contracts`, and the JSON targets mutate structure as well as bytes (`mutators`). The project's
modules are imported inside atheris' import hook so that their branches are instrumented; what
the check raises is a crash, which libFuzzer writes to its artifact directory (`make fuzz` passes
a temporary one).
"""

from __future__ import annotations

import sys

import atheris

from fuzz.mutators import json_mutator

JSON_TARGETS = frozenset({"plan", "snapshot", "webhook"})


def run(target: str) -> None:
    with atheris.instrument_imports(include=["reconciler"]):
        from fuzz.contracts import TARGETS  # noqa: PLC0415 (imported under the hook, on purpose)
    argv, mutator = sys.argv, None
    if target in JSON_TARGETS:
        mutator = json_mutator(_byte_mutate)
        # Coverage only sees Python branches, so a whole seed plan and `{}` look alike to libFuzzer:
        # without this it replaces the seeds by tiny inputs and the structure to mutate is lost.
        argv = [*argv, "-reduce_inputs=0"]
    atheris.Setup(argv, TARGETS[target], custom_mutator=mutator)
    atheris.Fuzz()


def _byte_mutate(data: bytes, max_size: int) -> bytes:
    """libFuzzer's own mutation, looked up at each call: atheris binds it only once Fuzz() has started."""
    return atheris.Mutate(data, max_size)  # type: ignore[no-any-return]
