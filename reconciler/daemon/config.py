"""The daemon's configuration: `reconciler.yaml` (`--config`), the environment, the command line.

Where it sits: `cli` reads the `serve` options and `load_config` makes one `DaemonConfig` of them
for `service.serve`. The options that reach the routers (data directory, credentials, simulator,
…) are the live commands' too: they are declared in `reconciler.options` and gathered by
`app.settings` (command line > `RECONCILER_*` variables > file > default) into `options`; this
module adds the daemon's own keys (listen, poll, webhooks, autoupdate, http, …) from the same
file, and the live commands leave those alone (`DAEMON_KEYS`). Paths in the file are relative
to the file. Secrets (the webhook secret) may be given inline, in a file, or in an environment
variable; the file itself belongs to the operator, never to the fleet repository. See
docs/daemon.md for the reference.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, InstanceOf, ValidationError, field_validator, model_validator

from reconciler import options as declared
from reconciler.app import settings
from reconciler.app.sessions import LiveOptions
from reconciler.errors import ConfigError
from reconciler.options import seconds

_LISTEN = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[^:\s]+):(?P<port>\d{1,5})$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _secret(value: str | None, file: Path | None, env: str | None, what: str) -> str | None:
    """A secret given inline, in a file, or in an environment variable (the first of file, env, value)."""
    if file is not None:
        try:
            return file.read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise ConfigError(f"cannot read the {what} file {file}: {exc.strerror}") from None
    if env is not None:
        found = os.environ.get(env)
        if not found:
            raise ConfigError(f"the {what}'s environment variable {env} is not set")
        return found
    return value


class Webhooks(_Strict):
    """The secret webhook calls are signed with (GitHub, Gitea, generic HMAC) or carry (GitLab)."""

    secret: str | None = Field(default=None, description="the secret itself (prefer secret_file or secret_env)")
    secret_file: Path | None = None
    secret_env: str | None = None

    def resolve(self) -> str | None:
        return _secret(self.secret, self.secret_file, self.secret_env, "webhook secret")


class AutoUpdate(_Strict):
    """The auto-update endpoint routers pull from (off unless enabled: its packets carry credentials)."""

    enabled: bool = False
    username: str | None = Field(default=None, description="HTTP basic auth the routers send (recommended)")
    password: str | None = None
    password_file: Path | None = None
    password_env: str | None = None

    def resolve(self) -> str | None:
        return _secret(self.password, self.password_file, self.password_env, "auto-update password")


class Http(_Strict):
    """Limits of the HTTP server: everything reachable from the network is bounded in size, count and time."""

    header_timeout: float = Field(default=10.0, description="a new connection sends its request headers within this")
    body_timeout: float = Field(default=30.0, description="a request body arrives within this")
    idle_timeout: float = Field(default=75.0, description="a connection with no request in progress is closed "
                                                          "after this long (kept-alive ones between requests)")
    max_connections: int = Field(default=512, ge=1, le=1_000_000, description="connections served at once "
                                 "(lowered at start if the descriptor limit cannot also cover the daemon's own work)")

    @field_validator("header_timeout", "body_timeout", "idle_timeout", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> float:
        return seconds(value)


class DaemonConfig(_Strict):
    """Every setting of `reconciler serve` (file keys = option names with `_` for `-`); the options shared with
    the live commands are in `options`, which is not a key of the file."""

    source: str = Field(description="what to follow: a path inside a work tree, a repository, or a URL")
    branch: str | None = None
    path: str | None = Field(default=None, description="the fleet's subdirectory in the repository")
    listen: str = "127.0.0.1:8080"
    poll: float = Field(default=60.0, description="how often to fetch the branch (seconds)")
    simulate: bool = False
    watch: bool = False
    log_format: Literal["auto", "json", "text"] = "auto"
    shutdown_grace: float = Field(default=30.0, description="seconds in-flight device steps get after SIGTERM")
    webhooks: Webhooks = Webhooks()
    autoupdate: AutoUpdate = AutoUpdate()
    http: Http = Http()
    # test and demo knobs for the simulated routers and the loop's restarts
    simulator_reboot_seconds: float = 1.0
    restart_backoff: float = Field(default=1.0, description="first wait before a failed reconcile loop is restarted "
                                                            "(then twice as long each time, up to a minute)")
    options: InstanceOf[LiveOptions] = LiveOptions()

    @field_validator("poll", "shutdown_grace", "restart_backoff", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> float:
        return seconds(value)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        match = _LISTEN.match(value)
        if match is None or not 0 <= int(match["port"]) <= 65535:
            raise ValueError("expected HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080")
        return value

    @model_validator(mode="after")
    def _one_simulator(self) -> DaemonConfig:
        if self.simulate and self.options.simulator:
            raise ValueError("simulate (embedded routers) and simulator (a URL) exclude each other")
        return self

    @property
    def data_dir(self) -> Path:
        """The daemon's clone and store: the shared option's value."""
        return self.options.data_dir

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


# The file's keys only `serve` reads; the live commands leave them alone in the file they share with it.
DAEMON_KEYS = frozenset(DaemonConfig.model_fields) - {"options"}


def load_config(file: Path | None, overrides: Mapping[str, Any],
                environ: Mapping[str, str] = os.environ) -> DaemonConfig:
    """The file's settings (`file`, else $RECONCILER_CONFIG) under the environment's and the command line's
    (`overrides`, by key; None: not given); every problem at once, each with where it is."""
    given = {key: value for key, value in overrides.items() if value is not None}
    shared = {key: given.pop(key) for key in list(given) if key in declared.BY_KEY}
    options, read, problems = settings.gather(shared, file, environ, DAEMON_KEYS)
    values = _relative(read.others, read.path.parent) if read is not None else {}
    values.update(given)
    try:
        config = DaemonConfig.model_validate({**values, "options": options or LiveOptions()})
    except ValidationError as exc:
        problems += _describe(exc, read)
    if problems:
        raise settings.invalid(problems)
    return config


def _relative(values: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The daemon's own paths in the file (secret files), relative to the file."""
    for section, key in (("webhooks", "secret_file"), ("autoupdate", "password_file")):
        nested = values.get(section)
        if isinstance(nested, dict) and isinstance(nested.get(key), str):
            nested[key] = str(folder / nested[key])
    return values


def _describe(exc: ValidationError, read: settings.SettingsFile | None) -> list[str]:
    lines = []
    for error in exc.errors():
        where = read.where(error["loc"]) if read is not None else ""
        lines.append(f"{where}{'.'.join(str(part) for part in error['loc'])}: {error['msg']}")
    return lines
