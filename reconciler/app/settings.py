"""The operator's settings: the command line over `RECONCILER_*` variables over `reconciler.yaml`.

Where it sits: under `cli` and `daemon`, over `reconciler.options` (the table of the options that
reach the routers). The live commands get their `sessions.LiveOptions` from `live_options`;
`daemon.config` calls `gather` for the same options and validates its own keys of the same file,
found with their positions through `SettingsFile.where`. One file serves both: each caller names
the keys it leaves to the other (the daemon's, for the live commands), and any other key is an
error at its `file:line:col`. Paths in the file are relative to the file.

Written by hand rather than with a settings library: errors must point at the file's line and
column, and the command line must build its parser from the table without importing pydantic.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reconciler import options as declared
from reconciler.app.sessions import LiveOptions
from reconciler.errors import ConfigError


@dataclass(frozen=True)
class SettingsFile:
    """A configuration file read: the options' values (parsed), the other keys (as written), the problems."""

    path: Path
    node: yaml.Node | None
    shared: dict[str, Any] = field(default_factory=dict)
    others: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def where(self, loc: tuple[Any, ...]) -> str:
        """`file:line:col: ` of the setting at `loc` (a key, then keys inside it), or `file: ` if it is not there."""
        node, found = self.node, None
        for part in loc:
            if not isinstance(node, yaml.MappingNode):
                break
            match = next(((key, value) for key, value in node.value if key.value == part), None)
            if match is None:
                break
            found = (match[0].start_mark.line + 1, match[0].start_mark.column + 1)
            node = match[1]
        return f"{self.path}:{found[0]}:{found[1]}: " if found else f"{self.path}: "


def read_file(path: Path, others: Collection[str]) -> SettingsFile:
    """The file's options parsed (paths made relative to it), its keys in `others` as written; any other key
    and every bad value is a problem with its position. An unreadable or non-YAML file is an error at once."""
    try:
        text = path.read_text(encoding="utf-8")
        values = yaml.safe_load(text) or {}
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not YAML: {exc}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}:1:1: the configuration must be a mapping of settings")
    read = SettingsFile(path, node)
    for key, value in values.items():
        option = declared.BY_KEY.get(key) if isinstance(key, str) else None
        if key in others:
            read.others[key] = value
        elif option is None:
            read.problems.append(f"{read.where((key,))}{key}: not a setting (see docs/daemon.md, "
                                 "\"The configuration file\")")
        elif value is not None:
            try:
                parsed = option.parse(value)
            except ValueError as exc:
                read.problems.append(f"{read.where((key,))}{key}: {exc}")
                continue
            read.shared[key] = path.parent / parsed if option.is_path else parsed
    return read


def gather(given: Mapping[str, Any], config: Path | None, environ: Mapping[str, str],
           others: Collection[str]) -> tuple[LiveOptions | None, SettingsFile | None, list[str]]:
    """The options from the command line (`given`, by key), the environment and the configuration file
    (`config`, else $RECONCILER_CONFIG), and every problem found on the way (the options are None if any)."""
    problems = []
    on_the_command_line = {}
    for key, value in given.items():
        option = declared.BY_KEY[key]
        if value is None:
            continue
        try:
            on_the_command_line[key] = option.parse(value)
        except ValueError as exc:
            problems.append(f"{option.flag}: {exc}")
    environment, wrong = declared.from_environment(environ)
    problems += wrong
    located = declared.config_file(config, environ)
    try:
        read = read_file(located, others) if located is not None else None
    except ConfigError as exc:
        if config is None:  # say where the name came from
            raise ConfigError(f"{exc} (named by {declared.CONFIG_VARIABLE})") from None
        raise
    if read is not None:
        problems += read.problems
    if problems:
        return None, read, problems
    return LiveOptions(**declared.resolve(on_the_command_line, environment, read.shared if read else {})), read, []


def invalid(problems: list[str]) -> ConfigError:
    return ConfigError("invalid configuration:\n  " + "\n  ".join(problems))


def live_options(given: Mapping[str, Any], config: Path | None, environ: Mapping[str, str],
                 others: Collection[str]) -> LiveOptions:
    """What a live command uses: the file's keys in `others` (the daemon's) are left alone."""
    options, _, problems = gather(given, config, environ, others)
    if options is None:
        raise invalid(problems)
    return options
