"""The verdict on a revision: may it be applied? One judgement for `validate`, the live commands, the daemon
and `serve --watch`.

Where it sits: callers hand `judge_revision` a loaded revision (`shell.revisions`), the moment to
judge at, and where its git history is (the rental ledger is rebuilt from it); it collects the
core's validation problems, the entitlement problems at that moment (`core.entitlements.judging`),
the devices that fail to render, and the rental ledger's problems (`shell.billing`), and returns
a `Verdict`.

The policy, as users are promised it: **a revision `reconciler validate` rejects is never applied,
by any command or by the daemon.** Any error blocks the whole revision, including an error of one
device (its template does not render for it, its telephony site's ports are closed): applying the
others would leave the fleet at a state no commit describes. Warnings never block. Some problems
appear with time (a licence lapses, credit runs out): the daemon judges its revision again before
every cycle, and a revision that stops passing is not undone on the routers; the daemon applies
nothing more and says why until a commit fixes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.core.entitlements.judging import entitlement_problems
from reconciler.core.problems import Problem, collapse, sort_key
from reconciler.core.rendering import Renderer
from reconciler.shell import billing
from reconciler.shell.git.protocol import FleetRepository
from reconciler.shell.git.repositories import WorkTree
from reconciler.shell.parallel import map_slices
from reconciler.shell.revisions import LoadedRevision


@dataclass(frozen=True)
class History:
    """Where a revision's git history is read from: a work tree at `rev`, or the daemon's bare clone."""

    path: Path
    rev: str | None = None
    clone: FleetRepository | None = None  # the daemon's bare clone (`shell.git.clones.Clone`)

    @property
    def repository(self) -> FleetRepository:
        return self.clone if self.clone is not None else WorkTree(self.path)


@dataclass(frozen=True)
class Verdict:
    """What is wrong with a revision at a moment, sorted by position."""

    label: str
    problems: tuple[Problem, ...]
    rendered: tuple[Problem, ...] = ()  # render failures (do not change with time: reused by `judge_again`)

    @property
    def ok(self) -> bool:
        """No error of any kind: the revision may be applied."""
        return not any(problem.is_error for problem in self.problems)

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(problem for problem in self.problems if problem.is_error)

    @property
    def blocking(self) -> tuple[Problem, ...]:
        """Errors of the revision as a whole (a file, a licence, the ledger)."""
        return tuple(problem for problem in self.errors if problem.device is None)

    @property
    def device_problems(self) -> tuple[Problem, ...]:
        """Errors of one device: they block the whole revision too (see the module's policy)."""
        return tuple(problem for problem in self.errors if problem.device is not None)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(problem for problem in self.problems if not problem.is_error)

    def reason(self) -> str:
        """One line for a log or a status: how many errors, and the first one."""
        errors = self.errors
        if not errors:
            return f"{self.label} passes validation"
        return f"{self.label} fails validation ({len(errors)} errors; the first: {errors[0]})"


def judge_revision(revision: LoadedRevision, now: dt.datetime, history: History | None,
                   jobs: int | None = None, rendered: Sequence[Problem] | None = None) -> Verdict:
    """The verdict at `now`; `history` None skips the rental ledger (no git history to read);
    `rendered` reuses the render failures an earlier verdict on the same revision found."""
    problems = list(revision.problems)
    fleet = revision.build.fleet
    renderer = _renderer(revision)
    if fleet is not None:
        found = entitlement_problems(fleet, revision.build.entitlements, revision.source.files, renderer, now)
        problems.extend(revision.locate(found))
        if history is not None:
            ledger = billing.rental_ledger(history.repository, history.rev, revision, now)[1]
            problems.extend(revision.locate(ledger))
    failures = list(rendered) if rendered is not None else _render_failures(revision, renderer, jobs)
    problems.extend(failures)
    return Verdict(revision.label, tuple(sorted(collapse(problems), key=sort_key)), tuple(failures))


def judge_again(verdict: Verdict, revision: LoadedRevision, now: dt.datetime, history: History | None) -> Verdict:
    """The same revision judged at a later moment (its render failures cannot have changed)."""
    return judge_revision(revision, now, history, rendered=verdict.rendered)


def _renderer(revision: LoadedRevision) -> Renderer | None:
    return revision.renderer() if revision.build.fleet is not None and revision.build.templates else None


def _render_failures(revision: LoadedRevision, renderer: Renderer | None, jobs: int | None) -> list[Problem]:
    """The devices validation found nothing wrong with that still fail to render."""
    if renderer is None:
        return []
    invalid = revision.build.invalid_devices
    names = [name for name in renderer.fleet.devices if name not in invalid]
    return revision.locate(map_slices(_failures_of, renderer, names, jobs))


def _failures_of(renderer: Renderer, names: Sequence[str]) -> list[Problem]:
    return renderer.failures(names)
