"""`costs` and `validate` rebuild billing from git history (D1.5, D3.5); `plan` reports link quality (D3.6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import GitRepo, run_cli, small_fleet, write_tree

ACCOUNT = """\
account: NL-ISC-1001
top_ups:
  - {key: ISC-KEY-0001, credits: 100, at: 2026-03-01T00:00:00+00:00}
"""
PRICES = """\
price_lists:
  - effective: 2026-01-01
    articles:
      - {article: "01-00010-001", name: PBX licence, credits_per_month: 26.28}
      - {article: "01-00020-001", name: UC user, credits_per_month: 2}
  - effective: 2026-03-15
    articles:
      - {article: "01-00010-001", name: PBX licence, credits_per_month: 52.56}
      - {article: "01-00020-001", name: UC user, credits_per_month: 4}
"""


def selection(*articles: str) -> str:
    return "pbx: pbx-ber\narticles:\n" + "".join(f"  - {{article: \"{a}\", quantity: 1}}\n" for a in articles)


def commit_at(repo: GitRepo, monkeypatch: pytest.MonkeyPatch, when: str, files: dict[str, str]) -> str:
    monkeypatch.setenv("GIT_COMMITTER_DATE", when)
    monkeypatch.setenv("GIT_AUTHOR_DATE", when)
    return repo.commit(files, f"at {when}")


def test_costs_charge_each_committed_selection_from_its_commit_at_its_price(
        git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Commit times are configuration times; a price list change between two selections; a month's consumption."""
    commit_at(git_repo, monkeypatch, "2026-03-01T00:00:00+00:00",
              {**small_fleet(), "rentals/account.yaml": ACCOUNT, "rentals/prices.yaml": PRICES,
               "rentals/selections/pbx-ber.yaml": selection("01-00010-001")})
    second = commit_at(git_repo, monkeypatch, "2026-03-20T00:00:00+00:00",
                       {"rentals/selections/pbx-ber.yaml": selection("01-00010-001", "01-00020-001")})
    code, out, _ = run_cli(["costs", str(git_repo.root), "--at", "2026-03-31T00:00:00+00:00", "--month", "2026-03",
                            "--format", "json"], capsys)
    data = json.loads(out)
    # 1–20 March at 26.28 (configured under the first list), 20–31 March at 52.56 + 4 (the list of 15 March)
    first_part = 26.28 * 19 * 86_400 / 2_628_000
    second_part = (52.56 + 4) * 11 * 86_400 / 2_628_000
    assert code == 0
    assert float(data["consumed"].replace(",", "")) == pytest.approx(first_part + second_part, abs=1e-4)
    assert float(data["month"]["consumed"].replace(",", "")) == pytest.approx(first_part + second_part, abs=1e-4)
    assert data["monthly_consumption"] == "56.5600" and data["pbx"][0]["revision"] == second

    code, out, _ = run_cli(["costs", str(git_repo.root), "--at", "2026-03-10T00:00:00+00:00"], capsys)
    assert code == 0 and "monthly consumption 26.2800 iSC" in out and "balance 92.2240 iSC" in out  # 9 days at 0.864


def test_an_uncommitted_selection_is_named_not_billed(
        git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The working tree's change counts from its commit on; until then costs say so."""
    commit_at(git_repo, monkeypatch, "2026-03-01T00:00:00+00:00",
              {**small_fleet(), "rentals/account.yaml": ACCOUNT, "rentals/prices.yaml": PRICES,
               "rentals/selections/pbx-ber.yaml": selection("01-00010-001")})
    (git_repo.root / "rentals/selections/pbx-ber.yaml").write_text(selection("01-00010-001", "01-00020-001"))
    code, out, _ = run_cli(["costs", str(git_repo.root), "--at", "2026-03-10T00:00:00+00:00"], capsys)
    assert code == 0 and "monthly consumption 26.2800 iSC" in out
    assert "rentals/selections/pbx-ber.yaml: changed but not committed" in out


def test_validate_refuses_hardware_rentals_and_a_start_without_credit(
        git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """D1.1 and D1.7 are validation errors with file:line:col."""
    account = ACCOUNT.replace("2026-03-01T00:00:00", "2026-03-05T00:00:00")  # credit only after the start
    commit_at(git_repo, monkeypatch, "2026-03-01T00:00:00+00:00",
              {**small_fleet(), "rentals/account.yaml": account, "rentals/prices.yaml": PRICES,
               "rentals/selections/pbx-ber.yaml": selection("01-00010-001", "01-00500-002")})
    code, out, _ = run_cli(["validate", str(git_repo.root)], capsys)
    assert code == 1
    assert "rentals/selections/pbx-ber.yaml:4:15: error: pbx-ber: article 01-00500-002 is a hardware licence" in out
    assert "cannot start: the account has no credit (load credit first, D1.7) [rental-no-credit]" in out


UCAAS = """\
customers:
  - pbx: acme
    licences: [base]
    locations: [{{name: hq, address: Main St 1}}]
    users:
{users}"""


def ucaas(users: int) -> str:
    lines = (f"      - {{name: u{i}, location: hq, packages: [klar]}}\n" for i in range(users))
    return UCAAS.format(users="".join(lines))


def test_costs_month_bills_hosted_telephony_at_the_months_maximum_from_git_history(
        git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """D3.5: 2 users from February, 6 from 10 March, 4 from 20 March: March bills 6 klar, April 4."""
    commit_at(git_repo, monkeypatch, "2026-02-01T00:00:00+00:00", {**small_fleet(), "services/ucaas.yaml": ucaas(2)})
    commit_at(git_repo, monkeypatch, "2026-03-10T00:00:00+00:00", {"services/ucaas.yaml": ucaas(6)})
    commit_at(git_repo, monkeypatch, "2026-03-20T00:00:00+00:00", {"services/ucaas.yaml": ucaas(4)})
    code, out, _ = run_cli(["costs", str(git_repo.root), "--month", "2026-03"], capsys)
    assert code == 0 and "hosted telephony 2026-03 (D3.5, the month's maximum of each licence): 6 klar, 1 base" in out
    code, out, _ = run_cli(["costs", str(git_repo.root), "--month", "2026-04", "--format", "json"], capsys)
    assert json.loads(out)["telephony"] == {"klar": 4, "base": 1}


def test_plan_reports_telephony_sites_whose_links_break_d3_6(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The observed link metrics of a location's routers: delay 150 ms is fine, 151 ms and 1 % loss are not."""
    files = {**small_fleet(), "services/ucaas.yaml": UCAAS.format(users="      - {name: u, location: hq, "
                                                                        "packages: [klar]}\n").replace(
        "{name: hq, address: Main St 1}", "{name: hq, address: Main St 1, site: berlin}")}
    root = write_tree(tmp_path / "fleet", files)
    snapshot = {"format": "reconciler/observed-v1", "taken_at": "2026-11-21T10:00:00+00:00", "devices": [
        {"serial": "24130001", "metrics": {"delay_ms": 150, "jitter_ms": 20, "loss_percent": 0.5}},
        {"serial": "24130002", "metrics": {"delay_ms": 151, "jitter_ms": 3, "loss_percent": 1.0}}]}
    observed = tmp_path / "observed.json"
    observed.write_text(json.dumps(snapshot))
    code, _, err = run_cli(["plan", str(root), "--observed", str(observed)], capsys)
    assert code == 0
    assert "warning: berlin (acme/hq): ber-r02: delay 151 ms > 150, loss 1 % ≥ 1 (D3.6)" in err
    assert "ber-r01" not in err


def test_sla_prints_deadlines_phone_support_and_support_channels(capsys: pytest.CaptureFixture[str]) -> None:
    """D2.12: Professional phones only for critical incidents; D4.10: gold's channels include remote support."""
    code, out, _ = run_cli(["sla", "--plan", "professional", "--priority", "P2", "--opened",
                            "2026-10-30T15:00:00+01:00"], capsys)
    assert code == 0 and "Mon 2026-11-02 15:00 CET" in out and "phone support: no (the support centre only)" in out
    _, out, _ = run_cli(["sla", "--plan", "professional", "--priority", "P1", "--opened",
                         "2026-10-30T15:00:00+01:00"], capsys)
    assert "phone support: yes (D2.12)" in out
    _, out, _ = run_cli(["sla", "--plan", "gold", "--priority", "P1", "--opened", "2026-12-24T17:30:00+01:00"], capsys)
    assert "escalation 1: team leader" in out and "remote support (D4.10)" in out
    code, _, err = run_cli(["sla", "--plan", "gold", "--priority", "P1", "--opened", "yesterday"], capsys)
    assert code == 2 and "--opened: expected an ISO date or time" in err


def test_a_selection_merged_from_a_branch_counts_from_the_merge(
        git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Committed on a branch on 5 March, merged to main on 10 March: billed from 10 March."""
    commit_at(git_repo, monkeypatch, "2026-03-01T00:00:00+00:00",
              {**small_fleet(), "rentals/account.yaml": ACCOUNT, "rentals/prices.yaml": PRICES,
               "rentals/selections/pbx-ber.yaml": selection("01-00010-001")})
    git_repo.git("checkout", "--quiet", "-b", "more-users")
    commit_at(git_repo, monkeypatch, "2026-03-05T00:00:00+00:00",
              {"rentals/selections/pbx-ber.yaml": selection("01-00010-001", "01-00020-001")})
    git_repo.git("checkout", "--quiet", "main")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2026-03-10T00:00:00+00:00")
    git_repo.git("merge", "--quiet", "--no-ff", "-m", "merge more users", "more-users")
    code, out, _ = run_cli(["costs", str(git_repo.root), "--at", "2026-03-12T00:00:00+00:00", "--format", "json"],
                           capsys)
    assert code == 0 and json.loads(out)["pbx"][0]["configured_at"] == "2026-03-10T00:00:00+00:00"
