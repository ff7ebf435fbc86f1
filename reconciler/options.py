"""The options that reach the routers, declared once: key, type, default, help text, variable.

Where it sits: beside `errors`, below every layer, and light (the standard library only when
imported), because the command line builds its parser from this table before anything else loads.
From `OPTIONS` come the command-line options of `observe`, `plan`, `apply`, `audit`, `token` and
`serve` (`cli.arguments`), the shared keys of the configuration file and the `RECONCILER_*`
variables (`app.settings`, which makes `app.sessions.LiveOptions` of them), and the same keys in
the daemon's configuration (`daemon.config`, which adds its own keys).

Each value is parsed by its option's `parse`, wherever it comes from; the order is: the command
line, then the environment, then the configuration file, then the default here. A duration given as
text ('30s', '5m') is parsed by the core's duration parser, imported only then.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")

PREFIX = "RECONCILER_"
CONFIG_VARIABLE = "RECONCILER_CONFIG"  # the configuration file, when --config is not given
PARALLEL_LIMIT = 10_000
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class Option(NamedTuple, Generic[T]):
    """One option: `key` in the file and in `LiveOptions`, `--key-with-dashes` on the command line.

    A named tuple rather than a dataclass: `dataclasses` would add a third to the command line's start-up.
    """

    key: str
    parse: Callable[[object], T]  # text (command line, environment) or a YAML value; ValueError if wrong
    default: T
    help: str
    metavar: str | None = None  # None: a switch, given without a value
    env: str | None = None  # the variable's name when it is not RECONCILER_<KEY>
    hidden: bool = False  # for tests and demos: not in --help nor in the documentation
    is_path: bool = False  # in the file: relative to the file

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")

    @property
    def variable(self) -> str:
        return self.env or PREFIX + self.key.upper()

    @property
    def switch(self) -> bool:
        return self.metavar is None


# --- the parsers: each takes text or an already typed value, and says what it expected -----------------------


def url(value: object) -> str:
    """An http:// or https:// URL with a host."""
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL, not {value!r}")
    return str(value)


def path(value: object) -> Path:
    if isinstance(value, Path):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a path, not {value!r}")
    return Path(value)


def count(value: object) -> int:
    """A whole number from 1 to PARALLEL_LIMIT."""
    number = value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        number = int(value)
    if number is None or not 1 <= number <= PARALLEL_LIMIT:
        raise ValueError(f"expected a whole number from 1 to {PARALLEL_LIMIT}, not {value!r}")
    return number


def seconds(value: object) -> float:
    """'60s', '5m', '1h30m' or a plain number of seconds ('0.5'); more than zero."""
    if isinstance(value, str):
        number = float(value) if re.fullmatch(r"\s*\d+(\.\d+)?\s*", value) else _duration(value.strip())
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        number = -1.0
    if number <= 0:
        raise ValueError(f"expected a positive duration such as '30s', '5m' or '0.5', not {value!r}")
    return number


def _duration(text: str) -> float:
    """Seconds of '30s', '5m', '1h30m' (the fleet files' durations), or -1."""
    from reconciler.core.models.common import parse_duration  # noqa: PLC0415 - brings pydantic: only when needed

    try:
        return parse_duration(text).total_seconds()
    except ValueError:
        return -1.0


def switch(value: object) -> bool:
    """true or false (also yes/no, on/off, 1/0 as text)."""
    if isinstance(value, bool):
        return value
    text = value.strip().lower() if isinstance(value, str) else None
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(f"expected true or false, not {value!r}")


# --- the table ---------------------------------------------------------------------------------------------------

SIMULATOR: Option[str | None] = Option(
    "simulator", url, None, "send each router's traffic to URL/d/<serial> (a `reconciler simulate` server) "
    "instead of its address", "URL")
DATA_DIR: Option[Path] = Option(
    "data_dir", path, Path(".reconciler"), "where the store (journal, device state, audit log, tokens) lives, "
    "and serve's clone (default: .reconciler)", "DIR", is_path=True)
CREDENTIALS: Option[Path | None] = Option(
    "credentials", path, None, "operator-side router logins (YAML: default/groups/devices → username, password)",
    "FILE", is_path=True)
SECRETS_KEY: Option[Path | None] = Option(
    "secrets_key", path, None, "the fleet's private sealing key (variable: RECONCILER_SECRETS_KEY_FILE)", "FILE",
    env="RECONCILER_SECRETS_KEY_FILE", is_path=True)
CA: Option[Path | None] = Option(
    "ca", path, None, "verify routers' TLS against this CA (PEM) instead of fleet.yaml management.ca", "FILE",
    is_path=True)
INSECURE: Option[bool] = Option("insecure", switch, False, "do not verify routers' TLS certificates")
MAX_PARALLEL: Option[int | None] = Option(
    "max_parallel", count, None, "routers talked to at once (default: fleet.yaml management.max_parallel, 20)", "N")
CONNECT_TIMEOUT: Option[float | None] = Option(
    "connect_timeout", seconds, None, "give up connecting to a router after this long "
    "(default: fleet.yaml management.connect_timeout, 10s)", "SECONDS")
READ_TIMEOUT: Option[float | None] = Option(
    "read_timeout", seconds, None, "give up waiting for a router's answer after this long "
    "(default: fleet.yaml management.read_timeout, 60s)", "SECONDS")
POLL_INTERVAL: Option[float] = Option(
    "poll_interval", seconds, 2.0, "how often a rebooting router is asked whether it is back (default: 2s)",
    "SECONDS", hidden=True)
RETRY_BACKOFF: Option[float] = Option(
    "retry_backoff", seconds, 0.5, "the first wait before a request is retried (default: 0.5s)", "SECONDS",
    hidden=True)

OPTIONS: tuple[Option[Any], ...] = (SIMULATOR, DATA_DIR, CREDENTIALS, SECRETS_KEY, CA, INSECURE, MAX_PARALLEL,
                                    CONNECT_TIMEOUT, READ_TIMEOUT, POLL_INTERVAL, RETRY_BACKOFF)
BY_KEY: Mapping[str, Option[Any]] = {option.key: option for option in OPTIONS}


# --- where the values come from ------------------------------------------------------------------------------


def config_file(given: Path | None, environ: Mapping[str, str]) -> Path | None:
    """The configuration file: --config, else $RECONCILER_CONFIG (empty counts as unset), else none."""
    if given is not None:
        return given
    named = environ.get(CONFIG_VARIABLE, "")
    return Path(named) if named else None


def from_environment(environ: Mapping[str, str], keys: Iterable[str] = BY_KEY) -> tuple[dict[str, Any], list[str]]:
    """The options set in the environment, parsed, and a problem naming the variable for each bad value.

    An empty variable counts as unset (`RECONCILER_CA=` in a compose file means "no CA").
    """
    values: dict[str, Any] = {}
    problems = []
    for option in (BY_KEY[key] for key in keys):
        raw = environ.get(option.variable, "")
        if not raw:
            continue
        try:
            values[option.key] = option.parse(raw)
        except ValueError as exc:
            problems.append(f"{option.variable} (in the environment): {exc}")
    return values, problems


def resolve(given: Mapping[str, Any], environment: Mapping[str, Any], file: Mapping[str, Any]) -> dict[str, Any]:
    """Every option's value: the command line's, else the environment's, else the file's, else its default."""
    return {option.key: next((source[option.key] for source in (given, environment, file)
                              if source.get(option.key) is not None), option.default) for option in OPTIONS}
