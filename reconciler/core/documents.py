"""Documents: YAML text of one file in, plain Python data (or problems) out, in bounded time and memory.

Where it sits: the shell reads a file's bytes (from a git blob or the working tree) and calls
`parse_yaml`; `loading` validates the returned data against the models. Positions are not kept
on the fast path: when a problem needs `file:line:col`, a `PositionIndex` composes the text again
and walks to the offending node.

The YAML dialect is YAML 1.2's core schema (`yes`, `no`, `on`, `off` stay strings; no
sexagesimal numbers; `0o17` is octal) plus: timestamps as dates, merge keys (`<<: *anchor`) and
the `!secret name` tag. Duplicate keys are errors.

Hostile input is refused before it can hurt (the bounds are in `limits`): large files, files of
more lines and items than a fleet needs, binary data, nesting deeper than `YAML_DEPTH` (libyaml's
composer recurses in C and would crash the process), alias expansion ("billion laughs"), recursive
aliases, and numbers that are not finite or do not fit 64 bits.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.events import CollectionEndEvent, CollectionStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

from reconciler.core import limits
from reconciler.core.problems import Origin, PathElement, Problem, YamlPath, error
from reconciler.core.secrets import SECRET_NAME_PATTERN, SecretRef

MAX_FILE_BYTES = limits.READ_BYTES
MAX_DEPTH = limits.YAML_DEPTH
MAX_EXPANDED_NODES = limits.YAML_EXPANDED_NODES
MAX_EXPANSION_RATIO = limits.YAML_EXPANSION_RATIO

_BaseLoader: type[yaml.SafeLoader]
try:
    _BaseLoader = yaml.CSafeLoader  # type: ignore[assignment,unused-ignore]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader

_PLAIN = "?plain"  # tag of a plain scalar; converted in `_Builder` instead of resolved twice
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_SECRET = "!secret"

_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_SPECIAL_FLOAT = frozenset({".inf", "+.inf", "-.inf", ".nan"})
_INT64 = (-(2**63), 2**63 - 1)  # what hashing, JSON and a router's configuration can hold
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?"
    r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::?[0-9]{2})?))?"
)
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_SECRET_NAME = re.compile(SECRET_NAME_PATTERN)
_FLOW_BRACKETS = re.compile(r"[\[\]{}]")
_COMPACT_NESTING = re.compile(rf"(?:[-?][ \t]+){{{MAX_DEPTH},}}")


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """libyaml's parser and composer; scalar resolution is left to `_Builder`."""

    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            if implicit[0]:
                return "tag:yaml.org,2002:merge" if value == "<<" else _PLAIN
            return _STR
        return "tag:yaml.org,2002:map" if kind is MappingNode else "tag:yaml.org,2002:seq"


@dataclass(frozen=True, slots=True)
class Document:
    """One parsed file: its path in the fleet repository, raw bytes (for positions) and data."""

    path: str
    raw: bytes
    data: Any
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


class _YamlProblem(Exception):
    def __init__(self, code: str, message: str, line: int | None = None, col: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.line, self.col = code, message, line, col

    def at(self, node: Node) -> _YamlProblem:
        """This problem, placed at `node` unless it already has a place."""
        if self.line is None:
            self.line, self.col = node.start_mark.line + 1, node.start_mark.column + 1
        return self


def parse_yaml(path: str, raw: bytes) -> Document:
    """A purely computational function: parse `raw` (the bytes of `path`) into plain data."""
    try:
        text = _decode(raw)
        _check_items(text)
        _check_nesting(text)
        data = _load(text)
    except _YamlProblem as exc:
        origin = Origin(path, line=exc.line, col=exc.col)
        return Document(path, raw, None, (error(exc.code, exc.message, origin),))
    return Document(path, raw, data)


def too_large(path: str, size: int) -> Document:
    """The document for a file the shell did not read because of its size."""
    message = limits.size_message(size, limits.YAML_BYTES, "the file") + " (split it)"
    return Document(path, b"", None, (error("file-too-large", message, Origin(path)),))


def _decode(raw: bytes) -> str:
    if len(raw) > limits.YAML_BYTES:
        message = limits.size_message(len(raw), limits.YAML_BYTES, "the file") + " (split it)"
        raise _YamlProblem("file-too-large", message)
    if b"\x00" in raw:
        line, col = _line_col(raw, raw.index(b"\x00"))
        raise _YamlProblem("not-text", "binary data (NUL byte): not a YAML text file", line, col)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _line_col(raw, exc.start)
        raise _YamlProblem("not-text", f"not UTF-8 text (byte 0x{raw[exc.start]:02x})", line, col) from None
    return text.removeprefix("\ufeff")


def _check_items(text: str) -> None:
    """Refuse a file of more lines and flow items than any fleet needs, before libyaml builds its nodes."""
    items = text.count("\n") + text.count(",")
    if items > limits.YAML_ITEMS:
        raise _YamlProblem("yaml-too-large", f"{items:,} lines and list items; the limit is {limits.YAML_ITEMS:,} "
                           "(split the file)")


def _line_col(raw: bytes, offset: int) -> tuple[int, int]:
    line_start = raw.rfind(b"\n", 0, offset) + 1
    return raw.count(b"\n", 0, offset) + 1, offset - line_start + 1


def _check_nesting(text: str) -> None:
    """Refuse nesting that would overflow libyaml's recursive composer, cheaply where possible."""
    compact = _COMPACT_NESTING.search(text) if ("- -" in text or "? " in text) else None
    if compact is not None or _flow_depth_estimate(text) > MAX_DEPTH:
        depth, mark = _exact_depth(text)
        if depth > MAX_DEPTH:
            raise _YamlProblem(
                "yaml-too-deep", f"nesting deeper than {MAX_DEPTH} levels", mark.line + 1, mark.column + 1
            )


def _flow_depth_estimate(text: str) -> int:
    """An upper-bound-ish estimate of flow nesting from the brackets alone (quotes ignored)."""
    if "[" not in text and "{" not in text:
        return 0
    depth = deepest = 0
    for bracket in _FLOW_BRACKETS.findall(text):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif depth:
            depth -= 1
    return deepest


def _exact_depth(text: str) -> tuple[int, Any]:
    loader = _Loader(text)
    depth = deepest = 0
    mark = None
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > deepest:
                    deepest, mark = depth, event.start_mark
                if depth > MAX_DEPTH:
                    break
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as exc:
        raise _syntax_problem(exc, text) from None
    finally:
        loader.dispose()
    return deepest, mark


def _load(text: str) -> Any:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        raise _syntax_problem(exc, text) from None
    finally:
        loader.dispose()
    if node is None:
        return None
    aliases = "&" in text
    if aliases:
        _check_aliases(node)
    return _Builder(aliases).build(node)


def _syntax_problem(exc: yaml.YAMLError, text: str) -> _YamlProblem:
    if isinstance(exc, ReaderError):  # a control character; its position is a UTF-8 byte offset
        raw = text.encode()
        line, _ = _line_col(raw, exc.position)
        line_start = raw.rfind(b"\n", 0, exc.position) + 1
        col = len(raw[line_start : exc.position].decode(errors="replace")) + 1
        return _YamlProblem("yaml-syntax", str(exc).splitlines()[0], line, col)
    if not isinstance(exc, yaml.MarkedYAMLError):
        return _YamlProblem("yaml-syntax", str(exc).splitlines()[0])
    mark = exc.problem_mark or exc.context_mark
    message = " ".join(part for part in (exc.context, exc.problem) if part)
    if mark is None:
        return _YamlProblem("yaml-syntax", message or "invalid YAML")
    return _YamlProblem("yaml-syntax", message or "invalid YAML", mark.line + 1, mark.column + 1)


def _check_aliases(root: Node) -> None:
    """Count the nodes the document would expand to; refuse bombs and recursive aliases."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > MAX_EXPANDED_NODES:
                break
            continue
        if key in sizes:
            continue
        if key in on_path:
            mark = node.start_mark
            raise _YamlProblem("yaml-alias", "recursive alias: a node contains itself", mark.line + 1)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    expanded = sizes.get(id(root), MAX_EXPANDED_NODES + 1)
    if expanded > MAX_EXPANDED_NODES or expanded > MAX_EXPANSION_RATIO * max(len(sizes), 1_000):
        raise _YamlProblem(
            "yaml-alias",
            f"aliases expand to more than {min(expanded, MAX_EXPANDED_NODES + 1):,} nodes "
            f"from {len(sizes):,} written ones (alias bomb?)",
            root.start_mark.line + 1,
        )


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


class _Builder:
    """Builds plain data from composed nodes: dicts, lists, str, int, float, bool, None, dates, secrets.

    The hot path of loading a 20,000-device fleet: scalars are converted once per distinct text,
    and the alias memo is only kept when the document has anchors at all.
    """

    def __init__(self, aliases: bool) -> None:
        self._built: dict[int, Any] | None = {} if aliases else None
        self._plain: dict[str, Any] = {}

    def build(self, node: Node, depth: int = 0) -> Any:
        built = self._built
        if built is not None and id(node) in built:  # an alias: the anchored node was built already
            return built[id(node)]
        kind = node.__class__
        if kind is ScalarNode:
            try:
                value = self._plain_scalar(node.value) if node.tag == _PLAIN else self._scalar(node)
            except _YamlProblem as problem:
                raise problem.at(node) from None
        elif depth >= MAX_DEPTH:
            # Flow and compact nesting was refused before composing; this catches block nesting.
            raise _YamlProblem("yaml-too-deep", f"nesting deeper than {MAX_DEPTH} levels").at(node)
        elif node.tag not in _COLLECTION_TAGS:
            raise _YamlProblem("yaml-tag", f"unsupported tag {node.tag}").at(node)
        elif kind is SequenceNode:
            value = [self.build(child, depth + 1) for child in node.value]
        else:
            value = self._mapping(node, depth + 1)
        if built is not None:
            built[id(node)] = value
        return value

    def _plain_scalar(self, text: str) -> Any:
        value = self._plain.get(text, _MISSING)
        if value is _MISSING:
            value = self._plain[text] = _convert_plain(text)
        return value

    def _scalar(self, node: Node) -> Any:
        tag = node.tag
        if tag in (_STR, "!"):
            return node.value
        if tag == _SECRET:
            return _secret(node)
        return _typed_scalar(node)

    def _mapping(self, node: Node, depth: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        merged: set[Any] = set()
        build = self.build
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                # explicit keys win over merged ones, wherever the `<<` stands
                for merged_key, merged_value in self._merged(value_node, depth).items():
                    if merged_key not in result:
                        result[merged_key] = merged_value
                        merged.add(merged_key)
                continue
            key = build(key_node, depth)
            try:
                duplicate = key in result and key not in merged
            except TypeError:
                mark = key_node.start_mark
                raise _YamlProblem("yaml-key", "a mapping key must be a scalar", mark.line + 1,
                                   mark.column + 1) from None
            if duplicate:
                first = next(k for k, _ in node.value if k.tag != _MERGE and build(k, depth) == key)
                raise _duplicate(key, first, key_node)
            merged.discard(key)
            result[key] = build(value_node, depth)
        return result

    def _merged(self, node: Node, depth: int) -> dict[Any, Any]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        merged: dict[Any, Any] = {}
        for source in sources:
            value = self.build(source, depth)
            if not isinstance(value, dict):
                mark = source.start_mark
                raise _YamlProblem("yaml-merge", "a merge key (<<) needs a mapping or a list of mappings",
                                   mark.line + 1, mark.column + 1)
            for key, item in value.items():
                merged.setdefault(key, item)
        return merged


_MISSING = object()
_COLLECTION_TAGS = frozenset({"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"})


def _duplicate(key: Any, first: Node, second: Node) -> _YamlProblem:
    message = f"duplicate key {key!r} (first defined at line {first.start_mark.line + 1})"
    return _YamlProblem("yaml-duplicate-key", message, second.start_mark.line + 1, second.start_mark.column + 1)


def _convert_plain(text: str) -> Any:
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    first = text[0]
    if first in "0123456789+-.":
        return _number_or_date(text)
    return text


def _number_or_date(text: str) -> Any:
    if _INT.fullmatch(text):
        return _int(text)
    if _FLOAT.fullmatch(text):
        return _float(text)
    if text.lower() in _SPECIAL_FLOAT:
        raise _YamlProblem("yaml-number", f"{text} is not supported here: numbers must be finite")
    if _DATE.fullmatch(text):
        return _date(text)
    if _DATETIME.fullmatch(text):
        return _datetime(text)
    return text


def _int(text: str) -> int:
    if len(text) > 24:  # longer than any 64-bit number, and int() refuses 4,300 digits with an exception
        raise _YamlProblem("yaml-number", f"the integer {text[:24]}… is out of range (64-bit)")
    if text.startswith("0o"):
        value = int(text[2:], 8)
    elif text.startswith("0x"):
        value = int(text[2:], 16)
    else:
        value = int(text, 10)
    if not _INT64[0] <= value <= _INT64[1]:
        raise _YamlProblem("yaml-number", f"the integer {text} is out of range (64-bit)")
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _YamlProblem("yaml-number", f"{text} is out of range: numbers must be finite")
    return value


def _date(text: str) -> Any:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return text


def _datetime(text: str) -> Any:
    normalized = re.sub(r"[ \t]+", " ", text.replace("t", "T"))
    normalized = re.sub(r" ?(Z|[-+][0-9].*)$", lambda m: "+00:00" if m.group(1) == "Z" else m.group(1),
                        normalized)
    try:
        return dt.datetime.fromisoformat(normalized.replace(" ", "T", 1))
    except ValueError:
        return text


def _secret(node: Node) -> SecretRef:
    name = node.value.strip()
    if not _SECRET_NAME.fullmatch(name):
        mark = node.start_mark
        raise _YamlProblem("secret-name", f"invalid secret name {name!r} after !secret",
                           mark.line + 1, mark.column + 1)
    return SecretRef(name)


_TYPED: dict[str, Callable[[str], Any]] = {
    "tag:yaml.org,2002:int": lambda s: _int(s) if _INT.fullmatch(s) else None,
    "tag:yaml.org,2002:float": lambda s: _float(s) if _FLOAT.fullmatch(s) else None,
    "tag:yaml.org,2002:bool": _BOOLS.get,
    "tag:yaml.org,2002:null": lambda _: None,
}


def _typed_scalar(node: Node) -> Any:
    mark = node.start_mark
    convert = _TYPED.get(node.tag)
    if convert is None:
        raise _YamlProblem("yaml-tag", f"unsupported tag {node.tag}", mark.line + 1, mark.column + 1)
    value = convert(node.value)
    if value is None and node.tag != "tag:yaml.org,2002:null":
        raise _YamlProblem("yaml-tag", f"{node.value!r} is not a valid {node.tag.rsplit(':', 1)[-1]}",
                           mark.line + 1, mark.column + 1)
    return value


# --- positions (slow path, only for problems that exist) ------------------------------------------


class PositionIndex:
    """Positions in one document, composed once and reused for many lookups.

    `locate(path)` is the 1-based (line, col) of the node at `path` (or of its nearest parent).
    """

    def __init__(self, raw: bytes) -> None:
        try:
            self._root: Node | None = _compose(raw)
        except (yaml.YAMLError, UnicodeDecodeError, _YamlProblem):
            self._root = None

    def locate(self, path: YamlPath, at_key: bool = False) -> tuple[int, int]:
        if self._root is None:
            return 1, 1
        node = _walk(self._root, path, at_key)
        return node.start_mark.line + 1, node.start_mark.column + 1


def _compose(raw: bytes) -> Node | None:
    # The same checks as parse_yaml: a file refused for its size or shape is never composed here either.
    text = _decode(raw)
    _check_items(text)
    _check_nesting(text)
    loader = _Loader(text)
    try:
        return loader.get_single_node()  # type: ignore[no-any-return]
    finally:
        loader.dispose()


def _walk(node: Node, path: YamlPath, at_key: bool) -> Node:
    """Follow `path` as far as it leads; elements that do not match (pydantic's union tags) are skipped."""
    for index, element in enumerate(path):
        last = index == len(path) - 1
        found = _step(node, element, key_node=last and at_key)
        if found is not None:
            node = found
    return node


def _step(node: Node, element: PathElement, key_node: bool) -> Node | None:
    if isinstance(node, SequenceNode) and isinstance(element, int):
        return node.value[element] if 0 <= element < len(node.value) else None
    if isinstance(node, MappingNode):
        for key, value in _pairs(node):
            if isinstance(key, ScalarNode) and key.value == str(element):
                return key if key_node else value
    return None


def _pairs(node: MappingNode, seen: frozenset[int] = frozenset()) -> list[tuple[Node, Node]]:
    pairs: list[tuple[Node, Node]] = []
    merged: list[tuple[Node, Node]] = []
    for key, value in node.value:
        if key.tag == _MERGE and id(value) not in seen:
            sources = value.value if isinstance(value, SequenceNode) else [value]
            for source in sources:
                if isinstance(source, MappingNode):
                    merged.extend(_pairs(source, seen | {id(value)}))
        else:
            pairs.append((key, value))
    return pairs + merged
