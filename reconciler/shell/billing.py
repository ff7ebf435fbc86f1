"""Billing from git history: the PBX rental ledger (D1) and the hosted-telephony bill (D3.5).

Where it sits: `app.entitlements.costs` and `app.offline.validate` call `rental_ledger`; it reads
the account and price lists of the revision, every committed version of the selections and of
the account (`history`), and hands them to the core's ledger (`core.rentals`). A selection counts
from the commit that made it (or its `effective:` time, which only a first version may set
before its commit); the commit order on the branch decides which version is current;
uncommitted changes are named, not billed. A history that removes, changes or moves bound
credits is refused (D1.6).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from reconciler.core.documents import parse_yaml
from reconciler.core.entitlements import rentals, telephony
from reconciler.core.loading import load_file
from reconciler.core.models import AccountFile, PriceListsFile, SelectionFile, UcaasFile, kind_of
from reconciler.core.problems import Origin, Problem, error
from reconciler.shell import history
from reconciler.shell.revisions import LoadedRevision

SELECTIONS = "rentals/selections/"


def rental_ledger(path: Path, rev: str | None, revision: LoadedRevision, moment: dt.datetime,
                  clone: tuple[Path, str] | None = None) -> tuple[rentals.Ledger | None, list[Problem], list[str]]:
    """The account's ledger at `moment` from the selections' git history; problems; notes."""
    specs = [located.spec for located in revision.build.entitlements]
    account = next((s for s in specs if isinstance(s, AccountFile)), None)
    prices = next((s for s in specs if isinstance(s, PriceListsFile)), None)
    if account is None or prices is None:
        selections = [p for p in revision.source.files if p.startswith(SELECTIONS)]
        if not selections:
            return None, [], []
        missing = "rentals/account.yaml" if account is None else "rentals/prices.yaml"
        return None, [error("rental-files", f"selections need {missing} (D1.3, D1.4)", Origin(selections[0]))], []
    versions, notes = _selection_versions(path, rev, revision, clone)
    result, problems = rentals.ledger(account.account, account.top_ups, prices.price_lists, versions, moment)
    problems += rentals.bound_credit_problems(_account_versions(path, rev, revision, clone), account)
    return result, problems, notes


def _in_commit_order(versions: list[history.FileVersion]) -> list[tuple[history.FileVersion, dt.datetime]]:
    """Each version with the time it counts from. The commit order decides (D1.7, D1.12, D3.5): a commit stamped
    earlier than the one before it on the branch (a clock off, a rebase) counts from that one's time, so the
    timeline never runs backwards."""
    found: list[tuple[history.FileVersion, dt.datetime]] = []
    for version in versions:
        found.append((version, max(version.committed_at, found[-1][1]) if found else version.committed_at))
    return found


def _account_versions(path: Path, rev: str | None, revision: LoadedRevision,
                      clone: tuple[Path, str] | None) -> list[rentals.AccountVersion]:
    """Every committed version of rentals/account.yaml (a version that does not load is skipped: validation of
    its revision said so)."""
    kind = kind_of(rentals.ACCOUNT)
    assert kind is not None
    found = []
    for version in _history(path, rev, revision, clone, rentals.ACCOUNT):
        spec = load_file(parse_yaml(version.path, version.data), kind).spec if version.data is not None else None
        if version.data is None or isinstance(spec, AccountFile):
            found.append(rentals.AccountVersion(version.commit, spec if isinstance(spec, AccountFile) else None))
    return found


def _history(path: Path, rev: str | None, revision: LoadedRevision, clone: tuple[Path, str] | None,
             directory: str) -> list[history.FileVersion]:
    if clone is not None:  # the daemon's bare clone: the history up to the revision it reconciles
        return history.versions_in(clone[0], clone[1], directory, revision.source.revision or "HEAD")
    return history.versions(path, directory, rev)


def _selection_versions(path: Path, rev: str | None, revision: LoadedRevision,
                        clone: tuple[Path, str] | None) -> tuple[list[rentals.SelectionVersion], list[str]]:
    kind = kind_of(SELECTIONS + "x.yaml")
    assert kind is not None
    found: list[rentals.SelectionVersion] = []
    names: dict[str, str] = {}
    committed = _history(path, rev, revision, clone, SELECTIONS)
    for version, reached in _in_commit_order(committed):
        spec = None
        if version.data is not None:
            loaded = load_file(parse_yaml(version.path, version.data), kind)
            if not isinstance(loaded.spec, SelectionFile):
                continue  # a broken version in the past: validation of that revision said so
            spec = loaded.spec
            names[version.path] = spec.pbx
        configured = spec.effective if spec is not None and spec.effective is not None else reached
        pbx = names.get(version.path, Path(version.path).stem)
        found.append(rentals.SelectionVersion(pbx, configured, spec, Origin(version.path), version.commit, reached))
    in_history = {version.path for version in committed}
    notes = []
    for located in revision.build.entitlements:  # never committed: counted only with an explicit `effective:`
        spec, where = located.spec, located.origin.file
        if isinstance(spec, SelectionFile) and where not in in_history:
            if spec.effective is not None:
                found.append(rentals.SelectionVersion(spec.pbx, spec.effective, spec, Origin(where)))
            else:
                notes.append(f"{where} is not committed and has no `effective:` time: not billed yet")
    if rev is None and clone is None:
        notes += [f"{p}: changed but not committed: billed from its commit on (D1.5)"
                  for p in history.uncommitted(path, SELECTIONS) if p in in_history]
    return found, notes


UCAAS = "services/ucaas.yaml"


def telephony_bill(path: Path, rev: str | None, revision: LoadedRevision, since: dt.datetime,
                   until: dt.datetime) -> dict[str, int] | None:
    """D3.5: the hosted-telephony licences billed for [since, until): each at its maximum that month,
    from every committed version of services/ucaas.yaml (None: the repository has none)."""
    current = next((e.spec for e in revision.build.entitlements if isinstance(e.spec, UcaasFile)), None)
    kind = kind_of(UCAAS)
    assert kind is not None
    versions: list[tuple[dt.datetime, UcaasFile | None]] = []
    for version, reached in _in_commit_order(history.versions(path, UCAAS, rev)):
        spec = load_file(parse_yaml(UCAAS, version.data), kind).spec if version.data is not None else None
        if version.data is None or isinstance(spec, UcaasFile):
            versions.append((reached, spec if isinstance(spec, UcaasFile) else None))
    if not versions:
        if current is None:
            return None
        versions = [(since, current)]  # not in git: the file as it is, for the whole month
    return telephony.monthly_bill(versions, since, until)
