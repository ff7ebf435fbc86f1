"""Every input a fuzz run once crashed on, and every seed, still meets its target's contract (no atheris needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.contracts import TARGETS
from tests.conftest import PROJECT

FUZZ = PROJECT / "fuzz"


def _inputs(kind: str) -> list[Path]:
    return sorted(path for path in (FUZZ / kind).glob("*/*") if path.is_file())


def _ids(paths: list[Path]) -> list[str]:
    return [f"{path.parent.name}/{path.name}" for path in paths]


FINDINGS = _inputs("regressions")
SEEDS = _inputs("corpus")


@pytest.mark.parametrize("path", FINDINGS, ids=_ids(FINDINGS))
def test_a_past_finding_meets_its_targets_contract(path: Path) -> None:
    """An input that once crashed a parser now gives a value or the project's own error."""
    TARGETS[path.parent.name](path.read_bytes())


@pytest.mark.parametrize("path", SEEDS, ids=_ids(SEEDS))
def test_a_seed_meets_its_targets_contract(path: Path) -> None:
    """The seed corpora are valid inputs of their targets, so the harnesses cannot rot unnoticed."""
    TARGETS[path.parent.name](path.read_bytes())


def test_every_target_has_a_script_and_seeds_and_every_finding_a_target() -> None:
    """`make fuzz` runs fuzz/fuzz_<target>.py for each target, seeded from fuzz/corpus/<target>/."""
    assert {path.stem.removeprefix("fuzz_") for path in FUZZ.glob("fuzz_*.py")} == set(TARGETS)
    assert {path.parent.name for path in SEEDS} == set(TARGETS)
    assert {path.parent.name for path in FINDINGS} <= set(TARGETS)
    assert FINDINGS, "no findings recorded: fuzz/regressions/ holds every crash a run found"
