"""Billing from git history: the commit order decides (D1.7, D1.12), what was charged stays charged (D1.5, D1.8),
and bound credits are never removed or moved (D1.6): real repositories, real commits."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_costs_and_links import ACCOUNT, PRICES, commit_at, selection
from tests.conftest import GitRepo, run_cli, small_fleet

SELECTION = "rentals/selections/pbx-ber.yaml"


def start(repo: GitRepo, monkeypatch: pytest.MonkeyPatch, account: str = ACCOUNT, **files: str) -> None:
    """The fleet, the account (100 credits on 1 March 2026) and the price lists, committed on 1 March 2026."""
    commit_at(repo, monkeypatch, "2026-03-01T00:00:00+00:00", {**small_fleet(), "rentals/account.yaml": account,
                                                               "rentals/prices.yaml": PRICES, **files})


def test_a_selection_committed_and_deleted_in_the_same_second_never_needed_credit(
        git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Credit arrives on 5 March; a selection added and removed again at 2 March 00:00:00 never ran, so validation
    has nothing to refuse and costs show nothing rented."""
    start(git_repo, monkeypatch, ACCOUNT.replace("2026-03-01T00:00:00", "2026-03-05T00:00:00"))
    commit_at(git_repo, monkeypatch, "2026-03-02T00:00:00+00:00", {SELECTION: selection("01-00010-001")})
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2026-03-02T00:00:00+00:00")
    git_repo.commit({}, "removed again", remove=(SELECTION,))
    code, out, _ = run_cli(["validate", str(git_repo.root)], capsys)
    assert code == 0 and "rental-no-credit" not in out
    code, out, _ = run_cli(["costs", str(git_repo.root), "--at", "2026-03-10T00:00:00+00:00"], capsys)
    assert code == 0 and "nothing rented" in out and "balance 100.0000 iSC" in out


def test_a_commit_stamped_earlier_than_its_predecessor_still_comes_after_it(
        git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """1 March: the PBX licence (26.28); 10 March: plus a user; then a commit stamped 5 March (a clock off) back to
    the PBX licence alone. It is the current selection, from 10 March: 19 days at 0.864 a day = 16.416 by 20 March."""
    start(git_repo, monkeypatch, **{SELECTION: selection("01-00010-001")})
    commit_at(git_repo, monkeypatch, "2026-03-10T00:00:00+00:00", {SELECTION: selection("01-00010-001",
                                                                                         "01-00020-001")})
    last = commit_at(git_repo, monkeypatch, "2026-03-05T00:00:00+00:00", {SELECTION: selection("01-00010-001")})
    code, out, _ = run_cli(["costs", str(git_repo.root), "--at", "2026-03-20T00:00:00+00:00", "--format", "json"],
                           capsys)
    data = json.loads(out)
    assert code == 0 and data["monthly_consumption"] == "26.2800" and data["consumed"] == "16.4160"
    assert data["pbx"][0]["revision"] == last and data["pbx"][0]["configured_at"] == "2026-03-10T00:00:00+00:00"


def test_a_change_that_keeps_an_old_effective_time_counts_from_its_commit(
        git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Configured 1 March (`effective:`), committed 2 March; on 11 March a user is added, `effective:` left as it
    was. 1–11 March stay at 26.28 (10 × 0.864 = 8.64), 11–21 March cost 28.28 (10 days = 9.2975 rounded): 17.9375;
    validation warns at the `effective:` line."""
    effective = "pbx: pbx-ber\neffective: 2026-03-01T00:00:00+00:00\narticles:\n"
    first = effective + '  - {article: "01-00010-001", quantity: 1}\n'
    start(git_repo, monkeypatch)
    commit_at(git_repo, monkeypatch, "2026-03-02T00:00:00+00:00", {SELECTION: first})
    commit_at(git_repo, monkeypatch, "2026-03-11T00:00:00+00:00",
              {SELECTION: first + '  - {article: "01-00020-001", quantity: 1}\n'})
    code, out, _ = run_cli(["costs", str(git_repo.root), "--at", "2026-03-21T00:00:00+00:00", "--format", "json"],
                           capsys)
    data = json.loads(out)
    assert code == 0 and data["consumed"] == "17.9375" and data["monthly_consumption"] == "28.2800"
    monkeypatch.setenv("RECONCILER_NOW", "2026-03-21T00:00:00+00:00")  # before the 100 credits run out
    code, out, _ = run_cli(["validate", str(git_repo.root)], capsys)
    assert code == 0
    assert f"{SELECTION}:2:12: warning: pbx-ber: `effective: 2026-03-01T00:00:00+00:00` lies before commit" in out


def test_validation_refuses_a_history_that_removes_bound_credit(
        git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A second key is committed, then deleted again: validate and costs refuse it, naming the key; restored, fine."""
    second = ACCOUNT + "  - {key: ISC-KEY-0002, credits: 50, at: 2026-03-05T00:00:00+00:00}\n"
    start(git_repo, monkeypatch, second)
    bound = git_repo.git("rev-parse", "HEAD")
    commit_at(git_repo, monkeypatch, "2026-03-08T00:00:00+00:00", {"rentals/account.yaml": ACCOUNT})
    code, out, _ = run_cli(["validate", str(git_repo.root)], capsys)
    assert code == 1
    assert (f"rentals/account.yaml:3:3: error: activation key ISC-KEY-0002 (50 iSC at 2026-03-05T00:00:00+00:00, "
            f"bound by commit {bound[:10]}) is no longer in the account: credits cannot be removed (D1.6)") in out
    code, out, _ = run_cli(["costs", str(git_repo.root)], capsys)
    assert code == 1 and "ISC-KEY-0002" in out
    commit_at(git_repo, monkeypatch, "2026-03-09T00:00:00+00:00", {"rentals/account.yaml": second})
    assert run_cli(["validate", str(git_repo.root)], capsys)[0] == 0


def test_validation_refuses_a_renamed_account(
        git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Renaming the account moves its credits: refused at `account`, naming the key."""
    start(git_repo, monkeypatch)
    commit_at(git_repo, monkeypatch, "2026-03-08T00:00:00+00:00",
              {"rentals/account.yaml": ACCOUNT.replace("NL-ISC-1001", "NL-ISC-2002")})
    code, out, _ = run_cli(["validate", str(git_repo.root)], capsys)
    assert code == 1 and ("rentals/account.yaml:1:10: error: the account is 'NL-ISC-2002', but the credits of "
                          "ISC-KEY-0001 are bound to 'NL-ISC-1001'") in out
