"""The router's side of icom OS ASCII configuration: statements applied to a key → value store.

Where it sits: `routers.py` keeps each virtual router's running configuration and stored profiles
as `Configuration` values; the API's `upload/perform` hands an ASCII Configuration entry's text to
`apply_text` (on a copy: an entry is atomic, a failure leaves the router as it was) and section 8's
`GET configuration` hands a configuration to `render`. This is the simulator's own reading of the
format (docs/fleet-repository.md), written apart from the project's parser on purpose: a shared
misreading could not show up as a bug if both sides used the same code.

The statements, one per line (blank lines and lines starting with `#` are skipped):

    a.b[2].c=value                      set a key; `[n]` counts from 1, `[last]` is the last element
    a.list.add        a.list.add=3      append one (three) empty elements to a list
    a.list.delete=all                   remove every element of a list
    a.cert=-----BEGIN X-----            a value running over the following lines up to the line
    ...                                 `-----END X-----` (markers are part of the value)
    -----END X-----

Keys are stored canonically, with numeric indices only. Credentials are stored hashed (`hasher`)
and keys a model rejects fail the whole text (`rejected`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import lru_cache

_SEGMENT = re.compile(r"([A-Za-z0-9_-]+)(?:\[([^\[\]]*)\])?")
_INDEX_IN_KEY = re.compile(r"\[([0-9]+)\]")
_BEGIN = re.compile(r"-----BEGIN ([^\n]+?)-----")
# Lists on a router hold tens of elements; a bound keeps `x[99999999].y=1` from meaning anything.
MAX_INDEX = 99_999
MAX_ADD = 1_000

Hasher = Callable[[str, str], str]
"""(canonical key, value) → the value to store (credentials come back hashed)."""
Rejecter = Callable[[str], bool]
"""canonical key → whether the router's model refuses it."""


class ConfigurationError(Exception):
    """A statement the router refuses; the message is the entry's `error` text."""


class Configuration:
    """Key → value (canonical keys) plus list lengths that keys alone cannot show (empty elements)."""

    __slots__ = ("lengths", "values")

    def __init__(self, values: dict[str, str] | None = None, lengths: dict[str, int] | None = None) -> None:
        self.values: dict[str, str] = values if values is not None else {}
        self.lengths: dict[str, int] | None = lengths

    def copy(self) -> Configuration:
        """An independent copy (what an atomic apply works on)."""
        return Configuration(dict(self.values), dict(self.lengths) if self.lengths else None)

    def list_lengths(self) -> dict[str, int]:
        """Length of every list: the highest index any key uses, or more where elements are empty."""
        lengths = dict(self.lengths) if self.lengths else {}
        for key in self.values:
            if "[" in key:
                for match in _INDEX_IN_KEY.finditer(key):
                    path, index = key[: match.start()], int(match.group(1))
                    if lengths.get(path, 0) < index:
                        lengths[path] = index
        return lengths


def apply_text(base: Configuration, text: str, hasher: Hasher, rejected: Rejecter, model: str) -> Configuration:
    """The configuration `base` becomes after the statements of `text`; raises ConfigurationError."""
    work = _Work(base.copy(), hasher, rejected, model)
    lines = _lines(text)
    for number, line in lines:
        work.statement(number, line, lines)
    work.config.lengths = work.lengths or None
    return work.config


def render(values: dict[str, str]) -> str:
    """ASCII configuration text of `values`: one `key=value` per key in natural key order."""
    return "".join(f"{key}={values[key]}\n" for key in sorted(values, key=natural_key))


@lru_cache(maxsize=1 << 16)
def natural_key(key: str) -> tuple[str | int, ...]:
    """Sort key: numeric indices compare as numbers, so rule[2] comes before rule[10]."""
    pieces = _INDEX_IN_KEY.split(key)
    # split() alternates text and captured index: even positions are text, odd ones numbers.
    return tuple(int(piece) if position % 2 else piece for position, piece in enumerate(pieces))


def canonical_key(key: str) -> str | None:
    """`key` if it is a canonical key (numeric indices without leading zeros), else None."""
    for segment in key.split("."):
        match = _SEGMENT.fullmatch(segment)
        if match is None:
            return None
        index = match.group(2)
        if index is not None and not (index.isdigit() and index[0] != "0" and int(index) <= MAX_INDEX):
            return None
    return key


def _lines(text: str) -> Iterator[tuple[int, str]]:
    text = text.removeprefix("\ufeff")
    for number, line in enumerate(text.split("\n"), start=1):
        yield number, line.removesuffix("\r")


class _Work:
    """One apply in progress: the copy being changed and the list lengths at this line."""

    __slots__ = ("config", "hasher", "lengths", "model", "rejected")

    def __init__(self, config: Configuration, hasher: Hasher, rejected: Rejecter, model: str) -> None:
        self.config = config
        self.lengths = config.list_lengths()
        self.hasher = hasher
        self.rejected = rejected
        self.model = model

    def statement(self, number: int, line: str, rest: Iterator[tuple[int, str]]) -> None:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            return
        key, equals, value = line.lstrip().partition("=")
        if key.endswith(".add"):
            self.add(number, key.removesuffix(".add"), value if equals else "1")
        elif key.endswith(".delete"):
            self.delete(number, key.removesuffix(".delete"), value if equals else None)
        elif not equals:
            raise ConfigurationError(f"line {number}: expected 'key=value' or '<list>.add': {_excerpt(line)}")
        else:
            if _BEGIN.match(value):
                value = _block(number, value, rest)
            self.assign(number, key, value)

    def assign(self, number: int, key: str, value: str) -> None:
        canonical = self.resolve(number, key, is_list=False)
        if canonical.startswith("status."):
            raise ConfigurationError(f"line {number}: read-only status key: {canonical}")
        self.check_supported(canonical)
        self.config.values[canonical] = self.hasher(canonical, value)

    def add(self, number: int, list_key: str, count_text: str) -> None:
        if not (count_text.isdigit() and 1 <= int(count_text) <= MAX_ADD):
            raise ConfigurationError(f"line {number}: '.add=' takes an element count from 1 to {MAX_ADD}")
        path = self.resolve(number, list_key, is_list=True)
        self.check_supported(path)
        self.lengths[path] = self.lengths.get(path, 0) + int(count_text)

    def delete(self, number: int, list_key: str, value: str | None) -> None:
        if value != "all":
            raise ConfigurationError(f"line {number}: '.delete' takes only '=all'")
        path = self.resolve(number, list_key, is_list=True)
        self.check_supported(path)
        prefix = path + "["
        values = self.config.values
        for key in [key for key in values if key.startswith(prefix)]:
            del values[key]
        for nested in [nested for nested in self.lengths if nested.startswith(prefix)]:
            del self.lengths[nested]
        self.lengths[path] = 0

    def resolve(self, number: int, key: str, *, is_list: bool) -> str:
        """Canonical form of `key` with `[last]` replaced; lists grow to an explicit index."""
        canonical = ""
        for segment in key.split("."):
            match = _SEGMENT.fullmatch(segment)
            if match is None:
                raise ConfigurationError(f"line {number}: not a configuration key: {_excerpt(key)}")
            canonical = f"{canonical}.{match.group(1)}" if canonical else match.group(1)
            if match.group(2) is not None:
                canonical = f"{canonical}[{self.index(number, canonical, match.group(2))}]"
        if is_list and canonical.endswith("]"):
            raise ConfigurationError(f"line {number}: '.add' and '.delete' apply to a list, not to an element")
        return canonical

    def index(self, number: int, path: str, text: str) -> int:
        length = self.lengths.get(path, 0)
        if text == "last":
            if length == 0:
                raise ConfigurationError(f"line {number}: [last] of the empty list {path}")
            return length
        if not text.isdigit() or not 1 <= int(text) <= MAX_INDEX:
            raise ConfigurationError(f"line {number}: list index must be 1 to {MAX_INDEX} or 'last': [{text}]")
        index = int(text)
        if index > length:
            self.lengths[path] = index
        return index

    def check_supported(self, key: str) -> None:
        if self.rejected(key):
            raise ConfigurationError(f"key not supported by {self.model}: {key}")


def _block(number: int, first: str, rest: Iterator[tuple[int, str]]) -> str:
    """A multi-line value: from the BEGIN marker through the line with the matching END marker."""
    begin = _BEGIN.match(first)
    assert begin is not None
    end = f"-----END {begin.group(1)}-----"
    if first.rstrip().endswith(end) and first.rstrip() != begin.group(0):
        return first
    lines = [first]
    for _number, line in rest:
        lines.append(line)
        if line.strip() == end:
            return "\n".join(lines)
    raise ConfigurationError(f"line {number}: no '{end}' after the value begun here")


def _excerpt(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")
