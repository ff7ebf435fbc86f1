"""The daemon's configuration: `reconciler.yaml` (`--config`), overridden by the command line.

Where it sits: `cli` reads the `serve` options, `load_config` merges them over the file, and
`service.serve` gets one `DaemonConfig`. Paths in the file are relative to the file. Secrets (the
webhook secret) may be given inline, in a file, or in an environment variable; the file itself
belongs to the operator, never to the fleet repository. See docs/daemon.md for the reference.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from reconciler.core.models.common import parse_duration
from reconciler.errors import ConfigError

_LISTEN = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[^:\s]+):(?P<port>\d{1,5})$")


def seconds(value: Any) -> float:
    """'60s', '5m', '1h30m' or a plain number of seconds ('0.5')."""
    plain = isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value.strip()) is not None
    if (isinstance(value, int | float) and not isinstance(value, bool)) or plain:
        number = float(value)
    else:
        number = parse_duration(value).total_seconds() if isinstance(value, str) else -1.0
    if number <= 0:
        raise ValueError(f"expected a positive duration such as '30s', '5m' or '0.5', not {value!r}")
    return number


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
    """Every setting of `reconciler serve` (file keys = option names with `_` for `-`)."""

    source: str = Field(description="what to follow: a path inside a work tree, a repository, or a URL")
    branch: str | None = None
    path: str | None = Field(default=None, description="the fleet's subdirectory in the repository")
    data_dir: Path = Path(".reconciler")
    listen: str = "127.0.0.1:8080"
    poll: float = Field(default=60.0, description="how often to fetch the branch (seconds)")
    simulate: bool = False
    simulator: str | None = Field(default=None, description="send router traffic to a `reconciler simulate` URL")
    watch: bool = False
    credentials: Path | None = None
    secrets_key: Path | None = None
    ca: Path | None = None
    insecure: bool = False
    max_parallel: int | None = Field(default=None, ge=1, le=10_000)
    log_format: Literal["auto", "json", "text"] = "auto"
    shutdown_grace: float = Field(default=30.0, description="seconds in-flight device steps get after SIGTERM")
    webhooks: Webhooks = Webhooks()
    autoupdate: AutoUpdate = AutoUpdate()
    http: Http = Http()
    # test and demo knobs for the simulated routers, the driver and the loop's restarts
    simulator_reboot_seconds: float = 1.0
    poll_interval: float | None = None
    retry_backoff: float | None = None
    restart_backoff: float = Field(default=1.0, description="first wait before a failed reconcile loop is restarted "
                                                            "(then twice as long each time, up to a minute)")

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
        if self.simulate and self.simulator:
            raise ValueError("simulate (embedded routers) and simulator (a URL) exclude each other")
        return self

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


def load_config(file: Path | None, overrides: dict[str, Any]) -> DaemonConfig:
    """The file's settings (paths made relative to it) with the command line's over them."""
    values: dict[str, Any] = {}
    node: yaml.Node | None = None
    if file is not None:
        values, node = _read(file)
    values.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return DaemonConfig.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, file, node)) from None


def _read(file: Path) -> tuple[dict[str, Any], yaml.Node | None]:
    try:
        text = file.read_text(encoding="utf-8")
        values = yaml.safe_load(text) or {}
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except OSError as exc:
        raise ConfigError(f"cannot read the daemon configuration {file}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not YAML: {exc}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{file}:1:1: the daemon configuration must be a mapping of settings")
    for key in ("data_dir", "credentials", "secrets_key", "ca"):
        if isinstance(values.get(key), str):
            values[key] = str(file.parent / values[key])
    for section, key in (("webhooks", "secret_file"), ("autoupdate", "password_file")):
        nested = values.get(section)
        if isinstance(nested, dict) and isinstance(nested.get(key), str):
            nested[key] = str(file.parent / nested[key])
    return values, node


def _describe(exc: ValidationError, file: Path | None, node: yaml.Node | None) -> str:
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        position = _position(node, error["loc"]) if node is not None else None
        prefix = f"{file}:{position[0]}:{position[1]}: " if position else (f"{file}: " if file else "")
        lines.append(f"{prefix}{where}: {error['msg']}")
    return "invalid daemon configuration:\n  " + "\n  ".join(lines)


def _position(node: yaml.Node, loc: tuple[Any, ...]) -> tuple[int, int] | None:
    """line and column (1-based) of the setting at `loc` in the file, if the file has it."""
    found: tuple[int, int] | None = None
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        match = next(((key, value) for key, value in node.value if key.value == part), None)
        if match is None:
            break
        found = (match[0].start_mark.line + 1, match[0].start_mark.column + 1)
        node = match[1]
    return found
