"""`costs --month` cuts months where the fleet's time zone does (D3.5: the provider bills its own calendar month;
Europe/Berlin here), and measures them in elapsed time."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_costs_and_links import PRICES, commit_at, selection, ucaas
from tests.conftest import GitRepo, run_cli, small_fleet

ACCOUNT = """\
account: NL-ISC-1001
top_ups:
  - {key: ISC-KEY-0001, credits: 1000, at: 2026-02-01T00:00:00+00:00}
"""


def test_a_change_at_00_30_on_1_april_berlin_time_is_billed_in_april(
        git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """2 users from February; 6 from 31 March 22:30 UTC, which is 1 April 00:30 in Berlin (CEST): March bills 2
    klar, April 6."""
    commit_at(git_repo, monkeypatch, "2026-02-01T00:00:00+00:00", {**small_fleet(), "services/ucaas.yaml": ucaas(2)})
    commit_at(git_repo, monkeypatch, "2026-03-31T22:30:00+00:00", {"services/ucaas.yaml": ucaas(6)})
    code, out, _ = run_cli(["costs", str(git_repo.root), "--month", "2026-03", "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["telephony"] == {"klar": 2, "base": 1}
    code, out, _ = run_cli(["costs", str(git_repo.root), "--month", "2026-04", "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["telephony"] == {"klar": 6, "base": 1}


def test_march_in_berlin_is_743_hours_of_rent(
        git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The PBX licence at 26.28 a month is 0.036 an hour; March 2026 in Berlin runs from 28 February 23:00 UTC to
    31 March 22:00 UTC (DST from 29 March): 743 hours, 26.748 credits."""
    commit_at(git_repo, monkeypatch, "2026-02-01T00:00:00+00:00",
              {**small_fleet(), "rentals/account.yaml": ACCOUNT, "rentals/prices.yaml": PRICES,
               "rentals/selections/pbx-ber.yaml": selection("01-00010-001")})
    code, out, _ = run_cli(["costs", str(git_repo.root), "--at", "2026-04-10T00:00:00+00:00", "--month", "2026-03",
                            "--format", "json"], capsys)
    month = json.loads(out)["month"]
    assert code == 0 and month["consumed"] == "26.7480"
    assert (month["from"], month["until"]) == ("2026-03-01T00:00:00+01:00", "2026-04-01T00:00:00+02:00")
    code, out, _ = run_cli(["costs", str(git_repo.root), "--at", "2026-04-10T00:00:00+00:00", "--month", "2026-03"],
                           capsys)
    assert "consumed 2026-03: 26.7480 iSC" in out
