"""Loading: parsed documents in, validated specs (one per file) and schema problems out.

Where it sits: after `documents.parse_yaml`, before `validation.build_fleet`. Each file is checked
against the model of its kind (`models.kind_of`); pydantic's errors become `Problem`s that say
what is wrong in the operator's words ("unknown key 'tempalte' (did you mean 'template'?)") and
point at the offending node. Positions are filled in by `locate_problems` at the very end, only
for the problems that exist.
"""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from reconciler.core import limits
from reconciler.core.documents import Document, PositionIndex
from reconciler.core.models import FileKind, Spec
from reconciler.core.models.common import PATTERN_HINTS
from reconciler.core.problems import Origin, PathElement, Problem, YamlPath, did_you_mean, error


@dataclass(frozen=True, slots=True)
class LoadedFile:
    """One file of a kind, validated: `spec` is None when the file has errors."""

    path: str
    kind: FileKind
    spec: Spec | None
    problems: tuple[Problem, ...]


def load_file(document: Document, kind: FileKind) -> LoadedFile:
    """A purely computational function: validate a parsed document against its kind's model."""
    if document.problems:
        return LoadedFile(document.path, kind, None, document.problems)
    data = document.data
    origin = Origin(document.path)
    if data is None:
        return LoadedFile(document.path, kind, None, (error("empty-file", f"empty {kind.description}", origin),))
    if not isinstance(data, dict):
        message = f"expected a mapping at the top of {kind.description}, got {_describe(data)}"
        return LoadedFile(document.path, kind, None, (error("type", message, origin),))
    try:
        spec = kind.model.model_validate(data)
    except ValidationError as exc:
        return LoadedFile(document.path, kind, None, tuple(_problems(exc, document, kind)))
    return LoadedFile(document.path, kind, spec, ())


def _problems(exc: ValidationError, document: Document, kind: FileKind) -> Iterable[Problem]:
    seen: set[YamlPath] = set()
    errors = exc.errors(include_url=False)
    for item in errors:
        loc = tuple(item["loc"])
        path = _data_path(document.data, loc)
        if path in seen:  # one problem per node: a union reports each of its members
            continue
        if len(seen) == limits.PROBLEMS_PER_FILE:
            more = len(errors) - len(seen)
            yield error("too-many-problems", f"… and up to {more:,} more problems in this file (fix these first)",
                        Origin(document.path, path))
            return
        seen.add(path)
        yield _problem(item, loc, path, document, kind)


def _problem(item: Any, loc: YamlPath, path: YamlPath, document: Document, kind: FileKind) -> Problem:
    kind_of_error = item["type"]
    device = _device_name(document.data, path)
    if kind_of_error == "extra_forbidden":
        key = str(loc[-1])
        allowed = _allowed_keys(kind.model, loc[:-1])
        message = f"unknown key {key!r}{did_you_mean(key, allowed)}"
        return error("unknown-key", message, Origin(document.path, path, at_key=True), device)
    if kind_of_error == "missing":
        message = f"missing required key {loc[-1]!r}"
        return error("missing-key", message, Origin(document.path, path[:-1]), device)
    message = f"{_label(path)}: {_explain(item)}"
    code = "type" if kind_of_error.endswith("_type") else "value"
    return error(code, message, Origin(document.path, path), device)


def _data_path(data: Any, loc: YamlPath) -> YamlPath:
    """The part of pydantic's `loc` that exists in the data (drops union member tags)."""
    path: list[PathElement] = []
    node = data
    for element in loc:
        if _has(node, element):
            node = node[element]
            path.append(element)
        elif isinstance(node, dict) and isinstance(element, str) and not _is_union_tag(element, node):
            path.append(element)  # a missing or unknown key: keep it, it names the problem
            node = None
    return tuple(path)


def _has(node: Any, element: PathElement) -> bool:
    if isinstance(node, dict):
        return element in node
    return isinstance(node, list) and isinstance(element, int) and 0 <= element < len(node)


_UNION_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "none", "date", "datetime"})


def _is_union_tag(element: str, node: dict[Any, Any]) -> bool:
    return element in _UNION_TAGS or element == node.get("type") or "[" in element


def _device_name(data: Any, path: YamlPath) -> str | None:
    if len(path) >= 2 and path[0] == "devices" and isinstance(path[1], int):
        try:
            name = data["devices"][path[1]].get("name")
        except (AttributeError, IndexError, KeyError, TypeError):
            return None
        return name if isinstance(name, str) else None
    return None


def _label(path: YamlPath) -> str:
    named = [str(p) for p in path if isinstance(p, str)]
    return named[-1] if named else "value"


_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "date_type": "a date (YYYY-MM-DD)",
    "datetime_type": "a date and time",
}


def _explain(item: Any) -> str:
    kind = item["type"]
    value = item.get("input")
    if kind in _TYPE_WORDS:
        return f"expected {_TYPE_WORDS[kind]}, got {_describe(value)}{_quote_hint(kind, value)}"
    if kind in ("literal_error", "enum"):
        expected = item.get("ctx", {}).get("expected", "")
        return f"{value!r} is not allowed; expected {expected}{did_you_mean(str(value), _choices(expected))}"
    if kind == "string_pattern_mismatch":
        return f"{value!r} is not valid here ({_pattern_hint(item)})"
    if kind == "union_tag_invalid":
        tags = item.get("ctx", {}).get("expected_tags", "")
        return f"unknown type {item['ctx'].get('tag')!r}; expected one of {tags}"
    message = str(item.get("msg", "invalid value"))
    return message[0].lower() + message[1:]


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, dt.date):
        return f"the date {value.isoformat()}"
    if isinstance(value, str):
        return f"the string {value[:60]!r}"
    return _CONTAINER_WORDS.get(type(value), type(value).__name__)


_CONTAINER_WORDS: dict[type, str] = {list: "a list", dict: "a mapping"}


def _quote_hint(kind: str, value: Any) -> str:
    if kind == "string_type" and isinstance(value, int | float | dt.date) and not isinstance(value, bool):
        text = value.isoformat() if isinstance(value, dt.date) else str(value)
        what = "date" if isinstance(value, dt.date) else "number"
        return f" (YAML read it as a {what}: quote it, \"{text}\")"
    if kind == "string_type" and isinstance(value, bool):
        return " (YAML 1.2 reads true/false as booleans: quote it)"
    return ""


def _choices(expected: str) -> list[str]:
    return [part.strip().strip("'\"") for part in expected.replace(" or ", ",").split(",")]


def _pattern_hint(item: Any) -> str:
    pattern = str(item.get("ctx", {}).get("pattern", ""))
    return PATTERN_HINTS.get(pattern, f"must match {pattern}" if pattern else "wrong format")


# --- the model at a location, for "did you mean" -------------------------------------------------


def _allowed_keys(model: type[BaseModel], loc: YamlPath) -> list[str]:
    target = _type_at(model, loc)
    if isinstance(target, type) and issubclass(target, BaseModel):
        return list(target.model_fields)
    return []


def _type_at(tp: Any, loc: YamlPath) -> Any:
    for element in loc:
        tp = _step_type(_unwrap(tp), element)
        if tp is None:
            return None
    return _unwrap(tp)


def _step_type(tp: Any, element: PathElement) -> Any:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(str(element))
        return field.annotation if field is not None else None
    origin, args = get_origin(tp), get_args(tp)
    if origin is list and isinstance(element, int):
        return args[0]
    if origin is dict:
        return args[1]
    if origin in (Union, types.UnionType):
        return _union_member(args, element)
    return None


def _union_member(members: tuple[Any, ...], tag: PathElement) -> Any:
    for candidate in members:
        member = _unwrap(candidate)
        if isinstance(member, type) and issubclass(member, BaseModel):
            type_field = member.model_fields.get("type")
            if type_field is not None and tag in get_args(type_field.annotation):
                return member
    return None


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType) and type(None) in get_args(tp):
            rest = [arg for arg in get_args(tp) if arg is not type(None)]
            if len(rest) != 1:
                return tp
            tp = rest[0]
        elif origin is Literal:
            return tp
        else:
            return tp


# --- positions ------------------------------------------------------------------------------------


def locate_problems(problems: Iterable[Problem], raw_files: Mapping[str, bytes]) -> list[Problem]:
    """Fill in line and column of every problem that has none, composing each file at most once."""
    indexes: dict[str, PositionIndex] = {}
    located: list[Problem] = []
    for problem in problems:
        origin = problem.origin
        raw = raw_files.get(origin.file)
        if origin.line is not None or raw is None or not origin.file.endswith((".yaml", ".yml", ".licence")):
            located.append(problem)
            continue
        index = indexes.get(origin.file)
        if index is None:
            index = indexes[origin.file] = PositionIndex(raw)
        line, col = index.locate(origin.path, origin.at_key)
        located.append(problem.located(line, col))
    return located
