"""Billing from git history: the PBX rental ledger (D1) and the hosted-telephony bill (D3.5).

Where it sits: `app.entitlements.costs`, the verdict (`app.verdicts`) and the daemon's notes call
`rental_ledger`; it reads the account and price lists of the revision, every committed version of
the selections and of the account from the repository (a `shell.git` `FleetRepository`: a work
tree, or the daemon's clone), and hands them to the core's ledger (`core.rentals`). A selection counts
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
from reconciler.shell.git.protocol import FileVersion, FleetRepository
from reconciler.shell.revisions import LoadedRevision

SELECTIONS = "rentals/selections/"


def rental_ledger(repository: FleetRepository, rev: str | None, revision: LoadedRevision,
                  moment: dt.datetime) -> tuple[rentals.Ledger | None, list[Problem], list[str]]:
    """The account's ledger at `moment` from the selections' history up to `rev` (None: the latest commit,
    and the working tree's edits are named); problems; notes."""
    specs = [located.spec for located in revision.build.entitlements]
    account = next((s for s in specs if isinstance(s, AccountFile)), None)
    prices = next((s for s in specs if isinstance(s, PriceListsFile)), None)
    if account is None or prices is None:
        selections = [p for p in revision.source.files if p.startswith(SELECTIONS)]
        if not selections:
            return None, [], []
        missing = "rentals/account.yaml" if account is None else "rentals/prices.yaml"
        return None, [error("rental-files", f"selections need {missing} (D1.3, D1.4)", Origin(selections[0]))], []
    versions, notes = _selection_versions(repository, rev, revision)
    result, problems = rentals.ledger(account.account, account.top_ups, prices.price_lists, versions, moment)
    problems += rentals.bound_credit_problems(_account_versions(repository, rev), account)
    return result, problems, notes


def _in_commit_order(versions: list[FileVersion]) -> list[tuple[FileVersion, dt.datetime]]:
    """Each version with the time it counts from. The commit order decides (D1.7, D1.12, D3.5): a commit stamped
    earlier than the one before it on the branch (a clock off, a rebase) counts from that one's time, so the
    timeline never runs backwards."""
    found: list[tuple[FileVersion, dt.datetime]] = []
    for version in versions:
        found.append((version, max(version.committed_at, found[-1][1]) if found else version.committed_at))
    return found


def _account_versions(repository: FleetRepository, rev: str | None) -> list[rentals.AccountVersion]:
    """Every committed version of rentals/account.yaml (a version that does not load is skipped: validation of
    its revision said so)."""
    kind = kind_of(rentals.ACCOUNT)
    assert kind is not None
    found = []
    for version in repository.versions(rentals.ACCOUNT, rev):
        spec = load_file(parse_yaml(version.path, version.data), kind).spec if version.data is not None else None
        if version.data is None or isinstance(spec, AccountFile):
            found.append(rentals.AccountVersion(version.commit, spec if isinstance(spec, AccountFile) else None))
    return found


def _selection_versions(repository: FleetRepository, rev: str | None,
                        revision: LoadedRevision) -> tuple[list[rentals.SelectionVersion], list[str]]:
    kind = kind_of(SELECTIONS + "x.yaml")
    assert kind is not None
    found: list[rentals.SelectionVersion] = []
    names: dict[str, str] = {}
    committed = repository.versions(SELECTIONS, rev)
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
    if rev is None:
        notes += [f"{p}: changed but not committed: billed from its commit on (D1.5)"
                  for p in repository.uncommitted(SELECTIONS) if p in in_history]
    return found, notes


UCAAS = "services/ucaas.yaml"


def telephony_bill(repository: FleetRepository, rev: str | None, revision: LoadedRevision, since: dt.datetime,
                   until: dt.datetime) -> dict[str, int] | None:
    """D3.5: the hosted-telephony licences billed for [since, until): each at its maximum that month,
    from every committed version of services/ucaas.yaml (None: the repository has none)."""
    current = next((e.spec for e in revision.build.entitlements if isinstance(e.spec, UcaasFile)), None)
    kind = kind_of(UCAAS)
    assert kind is not None
    versions: list[tuple[dt.datetime, UcaasFile | None]] = []
    for version, reached in _in_commit_order(repository.versions(UCAAS, rev)):
        spec = load_file(parse_yaml(UCAAS, version.data), kind).spec if version.data is not None else None
        if version.data is None or isinstance(spec, UcaasFile):
            versions.append((reached, spec if isinstance(spec, UcaasFile) else None))
    if not versions:
        if current is None:
            return None
        versions = [(since, current)]  # not in git: the file as it is, for the whole month
    return telephony.monthly_bill(versions, since, until)
