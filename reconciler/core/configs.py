"""The icom OS ASCII configuration format: text in, a normalized key → value mapping out.

Where it sits: the renderer hands the configuration text it produced for a router to
`parse_config`, and the shell hands in the text a router reports back; the comparison of desired
and observed state then works on the two `ParsedConfig.values` mappings (and on `owned_lists`, the
lists the desired state claims whole), never on text, so ordering, `[last]` and `.add` spelling
differences cannot show up as drift. `serialize` and `config_hash` give a mapping its canonical text
and identity for plans and for noticing that a desired configuration changed.

The format, one statement per line:

    administration.hostnames.hostname=ber-r01          key=value, value verbatim after the first '='
    netfilter.ip_filter.rule.delete=all                empty the list and claim it (owned list)
    netfilter.ip_filter.rule.add                       append an empty element (`.add=3`: three)
    netfilter.ip_filter.rule[last].rule_dport=443      `[last]` is the last element at this line
    certs.ca[1].cert=-----BEGIN CERTIFICATE-----       a value running over lines up to the line
    MIIB...                                            holding the matching END marker
    -----END CERTIFICATE-----

Canonical keys carry numeric 1-based indices only: `[last]` is resolved while parsing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

_NAME = r"[A-Za-z0-9_-]+"
# Up to six digits: no router list has a million entries, and int() of thousands of digits raises.
_NUMBER = r"[1-9][0-9]{0,5}"
# The common line's key: numeric indices only and no directive as the last segment. One fullmatch
# decides the fast path; everything it rejects goes the slow, precise way (which may still accept it).
_CANONICAL_KEY = re.compile(
    rf"{_NAME}(?:\[{_NUMBER}\])?(?:\.{_NAME}(?:\[{_NUMBER}\])?)*(?<!\.add)(?<!\.delete)"
)
# Any bracket content is let through here so that a bad index gets its own, more helpful message.
_LOOSE_KEY = re.compile(rf"{_NAME}(?:\[[^\[\]]*\])?(?:\.{_NAME}(?:\[[^\[\]]*\])?)*")
_ANY_INDEX = re.compile(r"\[([^\[\]]*)\]")
# Leading zeros excluded: only canonical indices compare numerically, which keeps natural_key injective.
_NUMERIC_INDEX = re.compile(rf"\[({_NUMBER})\]")
_POSITIVE = re.compile(_NUMBER)
_BEGIN = re.compile(r"-----BEGIN (.+?)-----")
_BEGIN_PREFIX = "-----BEGIN"
_LINE_END_CRS = re.compile(r"\r+\n")
_EXCERPT_CHARS = 80
_LAST = 0  # stands for [last] in a key template; never a valid explicit index, so falsy means "look up"
_KEY_SYNTAX = "dot-separated names of letters, digits, '_' or '-', each optionally indexed as [n] or [last]"


@dataclass(frozen=True, slots=True)
class ConfigError:
    """A line of configuration text that could not be understood."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class ParsedConfig:
    """A configuration as a mapping, the lists it claims whole, and what could not be parsed."""

    values: dict[str, str]
    owned_lists: frozenset[str]
    errors: tuple[ConfigError, ...]


@dataclass(slots=True)
class _Builder:
    """The state of one parse, mutated only while `parse_config` runs."""

    values: dict[str, str] = field(default_factory=dict)
    lengths: dict[str, int] = field(default_factory=dict)
    owned: set[str] = field(default_factory=set)
    errors: list[ConfigError] = field(default_factory=list)

    def fail(self, line: int, message: str) -> None:
        self.errors.append(ConfigError(line, message))

    def grow(self, refs: tuple[tuple[str, int], ...]) -> None:
        lengths = self.lengths
        for path, index in refs:
            if lengths.get(path, 0) < index:
                lengths[path] = index

    def clear(self, path: str) -> None:
        prefix = path + "["
        # In place: parse_config holds both dicts in locals for speed.
        for mapping in (self.values, self.lengths):
            for key in [key for key in mapping if key.startswith(prefix)]:
                del mapping[key]
        self.owned.difference_update([owned for owned in self.owned if owned.startswith(prefix)])
        self.owned.add(path)
        self.lengths[path] = 0

    def result(self) -> ParsedConfig:
        return ParsedConfig(self.values, frozenset(self.owned), tuple(self.errors))


def parse_config(text: str) -> ParsedConfig:
    """Parse icom OS ASCII configuration text; every malformed line is reported, none stops parsing."""
    builder = _Builder()
    values, lengths = builder.values, builder.lengths
    numbered = enumerate(_lines(text), 1)
    for number, line in numbered:
        if not line or line[0] == "#":
            continue
        key, equals, value = line.partition("=")
        if equals and not value.startswith(_BEGIN_PREFIX):
            refs = _canonical_refs(key)
            if refs is None:
                # `[last]` keys are about a third of a templated configuration: resolve them here too.
                resolved = _resolved_last(key, lengths)
                if resolved is not None:
                    key, refs = resolved
        else:
            refs = None
        if refs is None:
            _parse_line(builder, number, line, numbered)
            continue
        values[key] = value
        # Builder.grow inlined: this loop is the hot path of a whole-fleet plan.
        for path, index in refs:
            if lengths.get(path, 0) < index:
                lengths[path] = index
    return builder.result()


def _resolved_last(key: str, lengths: Mapping[str, int]) -> tuple[str, tuple[tuple[str, int], ...]] | None:
    """The canonical key of a well-formed assignment with `[last]`, or None for the slow, reporting path."""
    if key.endswith((".add", ".delete")):
        return None
    template = _template(key)
    if isinstance(template, str):
        return None
    resolved = _with_lengths(template, lengths)
    return None if isinstance(resolved, str) else resolved


def _with_lengths(template: tuple[tuple[tuple[str, int], ...], str],
                  lengths: Mapping[str, int]) -> tuple[str, tuple[tuple[str, int], ...]] | str:
    """A key template made canonical with the current list lengths, or the path of an empty `[last]` list."""
    steps, tail = template
    canonical = ""
    refs = []
    for text, explicit in steps:
        path = canonical + text
        index = explicit or lengths.get(path, 0)
        if not index:
            return path
        refs.append((path, index))
        canonical = f"{path}[{index}]"
    return canonical + tail, tuple(refs)


def natural_key(key: str) -> tuple[str | int, ...]:
    """Sort key for configuration keys: indices compare as numbers, so rule[2] sorts before rule[10]."""
    if "[" not in key:
        return (key,)
    pieces = _NUMERIC_INDEX.split(key)
    # split() alternates text and captured index, so position i holds the same type in every key.
    return tuple(int(piece) if position % 2 else piece for position, piece in enumerate(pieces))


# Serializing a fleet sorts the same keys once per router; the regex split is the expensive part.
_cached_natural_key = lru_cache(maxsize=1 << 16)(natural_key)


def serialize(values: Mapping[str, str]) -> str:
    """Canonical text of a mapping as `parse_config` produces it: one `key=value` line per key."""
    return "".join([f"{key}={values[key]}\n" for key in sorted(values, key=_cached_natural_key)])


def config_hash(values: Mapping[str, str]) -> str:
    """Identity of a configuration: sha256 hex of its canonical text, independent of key order."""
    # surrogatepass: text decoded from router bytes with surrogateescape must hash, not crash.
    return hashlib.sha256(serialize(values).encode("utf-8", "surrogatepass")).hexdigest()


def in_list(key: str, list_path: str) -> bool:
    """Whether `key` belongs to an element of the list at `list_path` (canonical paths)."""
    return key.startswith(list_path + "[")


def _lines(text: str) -> list[str]:
    text = text.removeprefix("\ufeff")
    if "\r" in text:
        # Every CR that ends a line is the line end ("\r\r\n" is CRLF text converted twice): a value
        # ending in CR could not be written back as canonical text and read as the same value.
        text = _LINE_END_CRS.sub("\n", text).rstrip("\r")
    return text.split("\n")


@lru_cache(maxsize=1 << 16)
def _canonical_refs(key: str) -> tuple[tuple[str, int], ...] | None:
    """The (list path, index) pairs a canonical key references; None sends the line the slow way."""
    # Cached because the regex costs more than the rest of a line's parse and the same keys recur
    # in every router's configuration of a fleet.
    if _CANONICAL_KEY.fullmatch(key) is None:
        return None
    return tuple((key[: match.start()], int(match.group(1))) for match in _NUMERIC_INDEX.finditer(key))


def _excerpt(text: str) -> str:
    return repr(text[:_EXCERPT_CHARS]) + ("…" if len(text) > _EXCERPT_CHARS else "")


def _parse_line(builder: _Builder, number: int, line: str, rest: Iterator[tuple[int, str]]) -> None:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return
    key, equals, value = line.partition("=")
    if not equals:
        _bare_line(builder, number, line.rstrip())
        return
    if value.startswith(_BEGIN_PREFIX):
        block = _read_block(builder, number, key, value, rest)
        if block is None:
            return
        value = block
    _statement(builder, number, key, value)


def _read_block(
    builder: _Builder, number: int, key: str, value: str, rest: Iterator[tuple[int, str]]
) -> str | None:
    begin = _BEGIN.match(value)
    if begin is None:
        return value
    end = f"-----END {begin.group(1)}-----"
    if end in value[begin.end() :]:
        return value
    parts = [value]
    for _, line in rest:
        parts.append(line)
        if end in line:
            return "\n".join(parts)
    builder.fail(
        number, f"multi-line value of {_excerpt(key)} never ends: no {_excerpt(end)} before the end of text"
    )
    return None


def _bare_line(builder: _Builder, number: int, line: str) -> None:
    head, dot, last = line.rpartition(".")
    if dot and last == "add":
        _add(builder, number, head, None)
    elif dot and last == "delete":
        builder.fail(number, f"'.delete' needs '=all': {_excerpt(line)}")
    else:
        builder.fail(number, f"expected 'key=value' or '<list>.add': {_excerpt(line)}")


def _statement(builder: _Builder, number: int, key: str, value: str) -> None:
    head, dot, last = key.rpartition(".")
    if dot and last == "add":
        _add(builder, number, head, value)
    elif dot and last == "delete":
        _delete(builder, number, head, value)
    else:
        _assign(builder, number, key, value)


def _assign(builder: _Builder, number: int, key: str, value: str) -> None:
    resolved = _resolve(builder, number, key)
    if resolved is not None:
        canonical, refs = resolved
        builder.grow(refs)
        builder.values[canonical] = value


def _add(builder: _Builder, number: int, list_key: str, count_text: str | None) -> None:
    count_text = "1" if count_text is None else count_text.strip()
    if not _POSITIVE.fullmatch(count_text):  # at most 999,999 elements at once
        builder.fail(number, f"'.add=' takes a positive element count, not {_excerpt(count_text)}")
        return
    path = _list_path(builder, number, list_key)
    if path is not None:
        builder.lengths[path] = builder.lengths.get(path, 0) + int(count_text)


def _delete(builder: _Builder, number: int, list_key: str, value: str) -> None:
    if value.strip() != "all":
        builder.fail(number, f"'.delete=' accepts only 'all', not {_excerpt(value)}")
        return
    path = _list_path(builder, number, list_key)
    if path is not None:
        builder.clear(path)


def _list_path(builder: _Builder, number: int, list_key: str) -> str | None:
    resolved = _resolve(builder, number, list_key)
    if resolved is None:
        return None
    path, refs = resolved
    if path.endswith("]"):
        builder.fail(number, f"a directive needs a list, not the list element {_excerpt(path)}")
        return None
    builder.grow(refs)
    return path


def _resolve(builder: _Builder, number: int, key: str) -> tuple[str, tuple[tuple[str, int], ...]] | None:
    """The canonical key and the (list path, index) pairs it references, or None after reporting."""
    template = _template(key)
    if isinstance(template, str):
        builder.fail(number, template)
        return None
    resolved = _with_lengths(template, builder.lengths)
    if isinstance(resolved, str):
        builder.fail(number, f"{_excerpt(key)}: [last] refers to the empty list {_excerpt(resolved)}")
        return None
    return resolved


@lru_cache(maxsize=1 << 14)
def _template(key: str) -> tuple[tuple[tuple[str, int], ...], str] | str:
    """`key` as (text before an index, the index or _LAST) steps and the text after the last index,
    or the message saying why it is malformed. Independent of list lengths, hence cacheable."""
    if not _LOOSE_KEY.fullmatch(key):
        return f"malformed key {_excerpt(key)}: expected {_KEY_SYNTAX}"
    pieces = _ANY_INDEX.split(key)
    steps: list[tuple[str, int]] = []
    for text, index_text in zip(pieces[0:-1:2], pieces[1::2], strict=True):
        index = _index(index_text)
        if isinstance(index, str):
            return f"{_excerpt(key)}: {index}"
        steps.append((text, index))
    return tuple(steps), pieces[-1]


def _index(text: str) -> int | str:
    """The index `text` stands for (_LAST for [last]), or why it stands for none."""
    if len(text) > 6 and text.isdigit():
        return f"index [{text[:12]}…] is too large (at most 999999)"
    if _POSITIVE.fullmatch(text):
        return int(text)
    if text == "last":
        return _LAST
    if text and not text.strip("0"):
        return f"index [{text}] is not allowed, list indices start at 1"
    return f"bad index [{text[:_EXCERPT_CHARS]}], expected a positive integer or 'last'"
