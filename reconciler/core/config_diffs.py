"""Diffs: two parsed configurations in, the key changes between them out.

Where it sits: `plans` compares a device's desired configuration with the one its router reports
(`diff_against_observed`, honouring merge/replace mode, owned lists, volatile and write-only
keys); `revision_diffs` compares the desired configurations of two revisions (`diff_desired`).
A `KeyChange` says what the key is now (`old`) and what it should become (`new`); `None` means
absent. Values may carry secret markers: present them through `secrets.redact_change`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from reconciler.core import configs
from reconciler.core.models import ConfigMode
from reconciler.core.secrets import contains_secret

# Keys that change on their own on a running router: never drift (fleet.yaml `volatile_keys` adds more).
BUILTIN_VOLATILE = (
    "status.*",
    "*.statistics.*",
    "*.counters.*",
    "*.uptime",
    "*.last_change",
    "*.timestamp",
)


@dataclass(frozen=True, slots=True)
class KeyChange:
    key: str
    old: str | None  # None: the key is absent now
    new: str | None  # None: the key should be removed

    @property
    def kind(self) -> str:
        if self.old is None:
            return "add"
        if self.new is None:
            return "remove"
        return "change"


class KeyGlobs:
    """Matches configuration keys against glob patterns: `*` is any text (dots and indices too);
    everything else, `[1]` included, is literal."""

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        globs = [_glob(pattern) for pattern in patterns]
        self._regex = re.compile("|".join(globs)) if globs else None

    def __call__(self, key: str) -> bool:
        return self._regex is not None and self._regex.fullmatch(key) is not None


class Volatile(KeyGlobs):
    """Keys that are never drift: the built-in ones and a fleet's `volatile_keys`."""

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        super().__init__((*BUILTIN_VOLATILE, *patterns))


def _glob(pattern: str) -> str:
    # As fnmatch does: each part between stars is found at its first place in an atomic group, so a
    # pattern of many stars (from a pull request) cannot make matching backtrack exponentially.
    parts = [re.escape(part) for part in pattern.split("*")]
    if len(parts) == 1:
        return f"(?:{parts[0]})"
    head, *middle, tail = parts
    return "(?:" + head + "".join(f"(?>.*?{part})" for part in middle) + ".*" + tail + ")"


def diff_against_observed(
    desired: configs.ParsedConfig,
    observed: Mapping[str, str],
    mode: ConfigMode,
    volatile: Volatile,
) -> tuple[KeyChange, ...]:
    """A purely computational function: what must change on the router to reach `desired`."""
    changes: list[KeyChange] = []
    for key, value in desired.values.items():
        current = observed.get(key)
        if current == value or volatile(key):
            continue
        if current is not None and contains_secret(value):
            continue  # write-only: routers do not report secrets back in a comparable form
        changes.append(KeyChange(key, current, value))
    changes.extend(
        KeyChange(key, value, None)
        for key, value in observed.items()
        if key not in desired.values and _extra(key, desired, mode) and not volatile(key)
    )
    return tuple(sorted(changes, key=lambda c: configs.natural_key(c.key)))


def _extra(key: str, desired: configs.ParsedConfig, mode: ConfigMode) -> bool:
    """Whether a router key the desired state does not have must go."""
    if mode is ConfigMode.REPLACE:
        return True
    return any(configs.in_list(key, owned) for owned in desired.owned_lists)


def diff_desired(base: configs.ParsedConfig, head: configs.ParsedConfig) -> tuple[KeyChange, ...]:
    """Every key whose desired value differs between two revisions."""
    changes = [
        KeyChange(key, base.values.get(key), value)
        for key, value in head.values.items()
        if base.values.get(key) != value
    ]
    changes.extend(KeyChange(key, value, None) for key, value in base.values.items() if key not in head.values)
    return tuple(sorted(changes, key=lambda c: configs.natural_key(c.key)))


def summarize(changes: Iterable[KeyChange], depth: int = 2) -> str:
    """'12 keys differ in administration.*, 2 in netfilter.*' style summary."""
    counts: dict[str, int] = {}
    for change in changes:
        prefix = ".".join(change.key.split(".")[:depth])
        prefix = re.sub(r"\[\d+\]", "", prefix)
        counts[prefix] = counts.get(prefix, 0) + 1
    parts = [f"{n} in {prefix}.*" for prefix, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    total = sum(counts.values())
    noun = "key differs" if total == 1 else "keys differ"
    if not parts:
        return "no keys differ"
    return f"{total} {noun}: " + ", ".join(parts[:4]) + (", …" if len(parts) > 4 else "")
