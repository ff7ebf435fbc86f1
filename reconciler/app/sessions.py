"""Sessions: a revision judged fit to apply, and everything needed to reach its routers.

Where it sits: the live commands (`app.live`) open one per command with `open_session`; the
daemon makes one per cycle for its last good revision with `session_for`. A session holds the
driver settings (fleet.yaml `management`, overridden by `LiveOptions`), the operator's
credentials, the unsealer, the store, and the clock; `app.reconciling` plans and applies with it.
`LiveOptions` is the typed form of the option table in `reconciler.options` (one field per option,
its default from there); `app.settings` fills it from the command line, environment and file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reconciler import options as declared
from reconciler.app.outcomes import Outcome, problems_outcome
from reconciler.app.stopping import stops_deferred
from reconciler.app.verdicts import History, judge_revision
from reconciler.core.fleets import Fleet
from reconciler.errors import UsageError
from reconciler.shell.clock import SYSTEM, Clock
from reconciler.shell.drivers import Target
from reconciler.shell.drivers.icom import DriverSettings, IcomDriver
from reconciler.shell.revisions import FleetLoader, LoadedRevision
from reconciler.shell.store import ClosedRun, Store
from reconciler.shell.targets import CredentialsFile, Unsealer, read_credentials, targets


@dataclass(frozen=True)
class LiveOptions:
    """How to reach the routers and where to keep state: one field per option of `reconciler.options.OPTIONS`,
    in its order, with its default (a test holds them to the table)."""

    simulator: str | None = declared.SIMULATOR.default
    data_dir: Path = declared.DATA_DIR.default
    credentials: Path | None = declared.CREDENTIALS.default
    secrets_key: Path | None = declared.SECRETS_KEY.default
    ca: Path | None = declared.CA.default
    insecure: bool = declared.INSECURE.default
    max_parallel: int | None = declared.MAX_PARALLEL.default
    connect_timeout: float | None = declared.CONNECT_TIMEOUT.default
    read_timeout: float | None = declared.READ_TIMEOUT.default
    poll_interval: float = declared.POLL_INTERVAL.default
    retry_backoff: float = declared.RETRY_BACKOFF.default


@dataclass
class Session:
    """A loaded revision and everything needed to talk to its routers."""

    revision: LoadedRevision
    store: Store
    settings: DriverSettings
    credentials: CredentialsFile
    unsealer: Unsealer
    options: LiveOptions
    clock: Clock = SYSTEM
    tokens: dict[str, str] = field(default_factory=dict)  # the routers' login tokens, kept from observe to apply
    closed: list[ClosedRun] = field(default_factory=list)  # runs a killed process had left open, closed now

    def driver(self) -> IcomDriver:
        """A driver for the current event loop; the login tokens carry over from the session's earlier drivers."""
        return IcomDriver(self.settings, self.tokens, self.clock)

    @property
    def fleet(self) -> Fleet:
        fleet = self.revision.build.fleet
        assert fleet is not None
        return fleet

    @property
    def max_parallel(self) -> int:
        return self.options.max_parallel or self.fleet.spec.management.max_parallel

    @property
    def notes(self) -> list[str]:
        return [f"run {run.id} ({run.kind}) was left open by a process that ended; closed as interrupted, with an "
                f"audit row naming the {len(run.devices)} routers it changed" for run in self.closed]

    def targets(self) -> dict[str, Target]:
        return targets(self.fleet, self.credentials, self.unsealer, self.options.simulator)


def open_session(path: Path, rev: str | None, options: LiveOptions, writes: bool = False,
                 clock: Clock = SYSTEM) -> Session | Outcome:
    """Load and judge the fleet (a revision `validate` rejects is never used live), open the store, close runs
    a killed process left open; a command that `writes` refuses a store its audit anchor does not vouch for."""
    revision = FleetLoader().load(path, rev)
    verdict = judge_revision(revision, clock.now(), History(path, rev))
    if not verdict.ok:
        return problems_outcome(verdict.errors, revision.label, "text")
    store = Store(options.data_dir)
    if writes:
        store.require_anchor()
    session = session_for(revision, store, options, clock)
    if store.anchor_problem() is None:
        with stops_deferred():  # each run closed with its audit row, never one without
            session.closed = store.close_interrupted_runs()
    return session


def session_for(revision: LoadedRevision, store: Store, options: LiveOptions, clock: Clock = SYSTEM) -> Session:
    """A session for a revision already loaded and judged (the daemon's last good one)."""
    fleet = revision.build.fleet
    assert fleet is not None
    return Session(revision, store, _settings(revision, options), read_credentials(options.credentials),
                   Unsealer(fleet, options.secrets_key), options, clock)


def _settings(revision: LoadedRevision, options: LiveOptions) -> DriverSettings:
    assert revision.build.fleet is not None
    management = revision.build.fleet.spec.management
    ca_pem = _ca(revision, management.ca, options.ca)
    return DriverSettings(
        connect_timeout=options.connect_timeout or management.connect_timeout.total_seconds(),
        read_timeout=options.read_timeout or management.read_timeout.total_seconds(),
        retries=management.retries,
        reboot_timeout=management.reboot_timeout.total_seconds(),
        poll_interval=options.poll_interval,
        backoff=options.retry_backoff,
        ca_pem=ca_pem,
        verify_tls=management.verify_tls and not options.insecure,
        connections=max(100, (options.max_parallel or management.max_parallel) + 10),
    )


def _ca(revision: LoadedRevision, in_repository: str | None, override: Path | None) -> str | None:
    if override is not None:
        try:
            return override.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read the CA file {override}: {exc.strerror}") from exc
    if in_repository is None:
        return None
    source = revision.source.files.get(in_repository)
    if source is None:
        raise UsageError(f"fleet.yaml management.ca names {in_repository}, which the repository does not have")
    return source.data.decode("utf-8", errors="replace")
