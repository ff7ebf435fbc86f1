"""`reconciler licences` on the example fleet: it names the last valid day (D0.26, D0.32), and a licence file
that does not load fails it (D0.34), as it fails `validate`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE, run_cli


@pytest.fixture
def example(tmp_path: Path) -> Path:
    return Path(shutil.copytree(EXAMPLE, tmp_path / "fleet"))


def test_the_api_licence_is_shown_with_its_last_valid_day(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Activated 1 October 2026 for 12 months: valid until the end of 30 September 2027, none on 1 October."""
    code, out, _ = run_cli(["licences", str(example), "--at", "2026-11-21"], capsys)
    assert code == 0 and "API licence: valid until the end of 2027-09-30" in out
    assert "2027-10-01" not in out
    code, out, _ = run_cli(["licences", str(example), "--at", "2027-10-01", "--format", "json"], capsys)
    data = json.loads(out)
    api = next(row for row in data["licences"] if row["key"] == "LIC-2026-API-0001")
    assert code == 0 and not data["api_licence"] and data["api_last_day"] is None
    assert (api["last_day"], api["state"]) == ("2027-09-30", "expired")


def test_a_licence_file_with_a_malformed_signature_fails_the_command(
        example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A signature that is not even base64 of the right length: `licences` names the file, exits 1, and so does
    `validate`; JSON lists the problem."""
    path = example / "licences/api.licence"
    path.write_text(path.read_text().replace("value: XU4NN", "value: XU4N!"))
    code, out, _ = run_cli(["licences", str(example), "--at", "2026-11-21"], capsys)
    assert code == 1 and "API licence: none valid (D0.23)" in out
    assert "licences/api.licence: not counted: the file does not load (D0.34)" in out
    assert "licences/api.licence:11:10: error:" in out
    code, out, _ = run_cli(["licences", str(example), "--format", "json"], capsys)
    assert code == 1 and [p["file"] for p in json.loads(out)["problems"]] == ["licences/api.licence"]
    code, out, _ = run_cli(["validate", str(example)], capsys)
    assert code == 1 and "licences/api.licence:11:10: error:" in out
