"""The filters and tests a template can use, each charged to the render's budget.

* The domain filters for icom OS configurations (`DOMAIN_FILTERS`: `icom_bool`, `netmask`,
  `prefixlen`, `network`, `host`, `broadcast`), public for documentation and tests.
* Jinja's built-in filters, those that can amplify (padding, joining, batching, JSON, wrapping,
  rounding, parsing integers) replaced by guarded versions, minus `_REMOVED_FILTERS`; and
  Jinja's tests, with the comparing ones charged.

Every other filter is charged for the size of its input (`_charging`): by the number of items for
those that only pass references on (`map`, `list`, `batch`), by all the input prints as for those
that read it (text filters turn a list into text; `sort`, `unique`, `min`, `max` compare and fold
the case of every item), after turning a generator into a list so its items can be measured.

`environment` installs `sandbox_filters()` (which includes the parse-time guard filters of
`guards`) and `sandbox_tests()` in every sandbox. The guarded filters keep their `_name`s: a
wrong call reports them in its message (`_center() takes ...`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache, update_wrapper
from typing import Any, Final, TypeAlias, cast

from jinja2 import filters as jinja_filters
from jinja2.exceptions import FilterArgumentError
from jinja2.filters import FILTERS as JINJA_FILTERS
from jinja2.runtime import Undefined
from jinja2.tests import TESTS as JINJA_TESTS
from jinja2.utils import _PassArg, pass_environment, pass_eval_context
from markupsafe import Markup

from reconciler.core.sandbox.budgets import (
    BULK,
    MAX_INT_BITS,
    METER,
    BudgetExceeded,
    arithmetic_cost,
    case_cost,
    check_keys,
    guard_iterable,
    int_argument,
    item_cost,
    joined_size,
    materialized,
    search_cost,
    strip_cost,
    too_large,
)
from reconciler.core.sandbox.formats import check_printf
from reconciler.core.sandbox.guards import GUARD_FILTERS

_MAX_JSON_INDENT: Final = 16
# `round(x, -n)` computes 10**n: no wider than the widest integer a template may hold.
_MAX_ROUND_DIGITS: Final = MAX_INT_BITS // 3

# -- domain filters ---------------------------------------------------------------------------------

_Interface: TypeAlias = ipaddress.IPv4Interface | ipaddress.IPv6Interface


def _require_defined(value: object) -> None:
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises the "is undefined" error here


def _interface(filter_name: str, value: object) -> _Interface:
    _require_defined(value)
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network | _Interface):
        value = str(value)
    if not isinstance(value, str) or "/" not in value:
        raise FilterArgumentError(
            f"{filter_name}: expected an address with prefix length like '192.168.10.0/24', got {value!r}"
        )
    try:
        return _parsed_interface(value)
    except ValueError as error:
        raise FilterArgumentError(f"{filter_name}: {error}") from None


@lru_cache(maxsize=4096)
def _parsed_interface(value: str) -> _Interface:
    # A template asks for the host, netmask and network of the same LAN several times per router;
    # ipaddress is slow enough to show in a 20,000-device render, so each text is parsed once.
    return ipaddress.ip_interface(value)


def icom_bool(value: object) -> str:
    """icom OS booleans: truthy -> "1", falsy -> "0". Strings are refused: "false" is truthy."""
    _require_defined(value)
    if isinstance(value, str):
        raise FilterArgumentError(f"icom_bool: expected a boolean, got the string {value!r}")
    return "1" if value else "0"


def netmask(value: object) -> str:
    """'192.168.10.0/24' (or '192.168.10.1/24', or the prefix length 24) -> '255.255.255.0'."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= 32:
            raise FilterArgumentError(f"netmask: an IPv4 prefix length is 0..32, got {value}")
        return str(ipaddress.IPv4Network(f"0.0.0.0/{value}").netmask)
    return str(_interface("netmask", value).network.netmask)


def prefixlen(value: object) -> int:
    """'192.168.10.0/24' -> 24."""
    return _interface("prefixlen", value).network.prefixlen


def network(value: object) -> str:
    """'192.168.10.5/24' -> '192.168.10.0'."""
    return str(_interface("network", value).network.network_address)


def host(value: object, n: object) -> str:
    """'192.168.10.0/24'|host(1) -> '192.168.10.1'; refused outside the network."""
    net = _interface("host", value).network
    if not isinstance(n, int) or isinstance(n, bool):
        raise FilterArgumentError(f"host: the host number must be an integer, got {n!r}")
    if not 0 <= n < net.num_addresses:
        raise FilterArgumentError(f"host: {n} is outside {net} ({net.num_addresses} addresses)")
    return str(net[n])


def broadcast(value: object) -> str:
    """'192.168.10.0/24' -> '192.168.10.255'."""
    return str(_interface("broadcast", value).network.broadcast_address)


DOMAIN_FILTERS: Final[Mapping[str, Callable[..., Any]]] = {
    "icom_bool": icom_bool,
    "netmask": netmask,
    "prefixlen": prefixlen,
    "network": network,
    "host": host,
    "broadcast": broadcast,
}


# -- guarded jinja filters --------------------------------------------------------------------------


def _center(value: Any, width: int = 80) -> str:
    METER.get().check_width("center", width)
    return jinja_filters.do_center(value, width)


def _indent(s: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    meter = METER.get()
    if isinstance(s, str):
        indention = len(width) if isinstance(width, str) else int_argument(width)
        meter.bounded("indent", len(s) + (s.count("\n") + 2) * indention)
    return jinja_filters.do_indent(s, width, first, blank)


@pass_environment
def _truncate(env: Any, s: Any, length: int = 255, killwords: bool = False, end: str = "...",
              leeway: int | None = None) -> str:
    meter = METER.get()
    meter.check_width("truncate", length)
    meter.check_width("truncate", leeway)
    return jinja_filters.do_truncate(env, s, length, killwords, end, leeway)


@pass_environment
def _wordwrap(env: Any, s: Any, width: int = 79, break_long_words: bool = True,
              wrapstring: str | None = None, break_on_hyphens: bool = True) -> str:
    meter = METER.get()
    meter.check_width("wordwrap", width)
    if isinstance(s, str) and isinstance(width, int) and width > 0:
        # Lines: at most one per word (words are space separated), plus the breaks of long words;
        # textwrap expands a tab to up to 8 spaces first.
        length = len(s) + 7 * s.count("\t")
        lines = length // 2 + length // width + s.count("\n") + 1
        separator = len(wrapstring) if isinstance(wrapstring, str) else 1
        meter.bounded("wordwrap", length + lines * separator)
        # textwrap does Python work for every word and every space between words.
        meter.charge(length >> 1)
        if break_long_words:
            meter.charge(_long_chunks_cost(s, width))
    return jinja_filters.do_wordwrap(env, s, width, break_long_words, wrapstring, break_on_hyphens)


# What textwrap splits text into: runs of its six whitespace characters (no other: a no-break or
# ideographic space is part of a word to it), and what lies between them.
_TEXTWRAP_SPACES: Final = re.compile(r"[\t\n\x0b\x0c\r ]+")


def _long_chunks_cost(text: str, width: int) -> int:
    # textwrap breaks a chunk longer than a line by copying what is left of it for every line:
    # quadratic in the chunk's length (a 300,000-character word at width 1 takes seconds). A run
    # of spaces is a chunk too (the first one of the text is broken, not dropped), with its tabs
    # expanded to up to 8 spaces.
    lengths = [len(word) for word in _TEXTWRAP_SPACES.split(text) if len(word) > width]
    lengths += [8 * len(run) for run in _TEXTWRAP_SPACES.findall(text) if 8 * len(run) > width]
    return sum(length * length for length in lengths) // (2 * width) >> BULK


def _trim(value: Any, chars: str | None = None) -> str:
    # Stripping looks every stripped character up among `chars`.
    if isinstance(chars, str):
        meter = METER.get()
        meter.charge(strip_cost(meter.size(value), len(chars)))
    return jinja_filters.do_trim(value, chars)


@pass_environment
def _unique(env: Any, value: Any, case_sensitive: bool = False, attribute: str | int | None = None) -> Iterator[Any]:
    # A set of the keys is built: refuse keys crafted to share a hash before building it.
    meter = METER.get()
    items = materialized(meter, value)
    postprocess = None if case_sensitive else jinja_filters.ignore_case
    check_keys(meter, map(jinja_filters.make_attrgetter(env, attribute, postprocess), items), "unique")
    unique: Iterator[Any] = jinja_filters.do_unique(env, items, case_sensitive, attribute)
    return unique


def _int(value: Any, default: int = 0, base: int = 10) -> int:
    # int() of a long hexadecimal or binary string is fast, but arithmetic on the result is not.
    number = jinja_filters.do_int(value, default, base)
    if isinstance(number, int) and number.bit_length() > MAX_INT_BITS:
        raise BudgetExceeded(f"int: a number of more than {MAX_INT_BITS} bits")
    return number


def _round(value: Any, precision: int = 0, method: str = "common") -> float:
    if isinstance(precision, int) and abs(precision) > _MAX_ROUND_DIGITS:
        raise BudgetExceeded(f"round: a precision beyond {_MAX_ROUND_DIGITS} digits")
    return jinja_filters.do_round(value, precision, method)  # type: ignore[arg-type]


def _format(value: Any, *args: Any, **kwargs: Any) -> str:
    if isinstance(value, str):
        check_printf(METER.get(), value, tuple(kwargs.values()) or args)
    return jinja_filters.do_format(value, *args, **kwargs)


@pass_eval_context
def _join(eval_ctx: Any, value: Any, d: Any = "", attribute: str | int | None = None) -> str:
    meter = METER.get()
    items = materialized(meter, value)
    if attribute is not None:
        items = list(map(jinja_filters.make_attrgetter(eval_ctx.environment, attribute), items))
    meter.bounded("join", joined_size(meter, items, meter.expanded(d)))
    return jinja_filters.sync_do_join(eval_ctx, items, d)


@pass_eval_context
def _replace(eval_ctx: Any, s: Any, old: Any, new: Any, count: int | None = None) -> str:
    meter = METER.get()
    text, old_text, new_text = str(s), str(old), str(new)
    meter.charge(2 * search_cost(len(text), len(old_text)))  # counting here, replacing there
    hits = text.count(old_text)
    if count is not None and count >= 0:
        hits = min(hits, count)
    meter.bounded("replace", len(text) + hits * (len(new_text) - len(old_text)))
    return jinja_filters.do_replace(eval_ctx, s, old, new, count)


def _batch(value: Any, linecount: int, fill_with: Any = None) -> Iterator[list[Any]]:
    meter = METER.get()
    meter.check_width("batch", linecount)
    if fill_with is not None:
        meter.bounded("batch filling", int_argument(linecount) * meter.expanded(fill_with))
    return jinja_filters.do_batch(value, linecount, fill_with)


def _slice(value: Any, slices: int, fill_with: Any = None) -> Iterator[list[Any]]:
    meter = METER.get()
    meter.check_width("slice", slices)
    meter.charge(int_argument(slices))
    if fill_with is not None:
        meter.bounded("slice filling", int_argument(slices) * meter.expanded(fill_with))
    return jinja_filters.sync_do_slice(value, slices, fill_with)


@pass_environment
def _sum(env: Any, iterable: Any, attribute: str | int | None = None, start: Any = 0) -> Any:
    # Summing lists or tuples copies the running total at every item: quadratic.
    if not isinstance(start, int | float):
        raise BudgetExceeded(f"sum: start must be a number, got {type(start).__name__}")
    return jinja_filters.sync_do_sum(env, iterable, attribute, start)


def _json_shape(value: object, seen: dict[int, tuple[int, int]]) -> tuple[int, int]:
    """Elements of `value` as JSON, and the sum of their nesting depths (for the indentation)."""
    if not isinstance(value, list | tuple | dict):
        return 1, 0
    known = seen.get(id(value))
    if known is not None:
        return known
    count, depths = 1, 0
    for child in value.values() if isinstance(value, dict) else value:
        child_count, child_depths = _json_shape(child, seen)
        count += child_count
        depths += child_depths + child_count
    seen[id(value)] = (count, depths)
    return count, depths


@pass_eval_context
def _tojson(eval_ctx: Any, value: Any, indent: int | None = None) -> Markup:
    meter = METER.get()
    size = meter.expanded(value)
    if indent is not None:
        if not isinstance(indent, int) or not 0 <= indent <= _MAX_JSON_INDENT:
            raise BudgetExceeded(f"tojson: indent must be an integer 0..{_MAX_JSON_INDENT}")
        count, depths = _json_shape(value, {})
        meter.charge(count)
        size += 2 * count + indent * depths
    meter.bounded("tojson", size)
    return jinja_filters.do_tojson(eval_ctx, value, indent)


_GUARDED_FILTERS: Final[Mapping[str, Callable[..., Any]]] = {
    "batch": _batch,
    "center": _center,
    "format": _format,
    "indent": _indent,
    "int": _int,
    "join": _join,
    "replace": _replace,
    "round": _round,
    "slice": _slice,
    "sum": _sum,
    "tojson": _tojson,
    "trim": _trim,
    "truncate": _truncate,
    "unique": _unique,
    "wordwrap": _wordwrap,
}
# O(1) on any input and never larger than it: not worth a wrapper.
_FREE_FILTERS: Final = frozenset({"abs", "attr", "count", "d", "default", "first", "length"})
# Filters that pass references to their input's items on, without reading what the items hold: an
# item's contents cost whoever reads them (printing, comparing, sorting).
_PASSING_FILTERS: Final = frozenset(
    {"batch", "items", "last", "list", "map", "reject", "rejectattr", "reverse", "select", "selectattr", "slice",
     "sum"}
)
# Filters that compare, hash or case-fold every item: a generator is listed first so they can be charged.
_COMPARING_FILTERS: Final = frozenset({"dictsort", "groupby", "max", "min", "sort", "unique"})


def _words(value: object) -> int:
    # `title` capitalizes word by word in Python (a word at most every second character).
    return (len(value) >> 1) + case_cost(value) if isinstance(value, str) else 0


def _tags(value: object) -> int:
    # `striptags` removes tag by tag, then unescapes entity by entity, in Python.
    return value.count("<") + value.count("&") if isinstance(value, str) else 0


def _matches(value: object) -> int:
    # `wordcount` builds a regex match for every word.
    return len(value) >> 2 if isinstance(value, str) else 0


def _pairs(value: object) -> int:
    # `urlencode` and `xmlattr` quote or escape every key and value in Python.
    return 2 * len(value) if isinstance(value, dict) else 0


# Work per piece of the input (words, tags, pairs) that the size of the input does not pay for.
_PIECE_COSTS: Final[Mapping[str, Callable[[object], int]]] = {
    "capitalize": case_cost,
    "lower": case_cost,
    "striptags": _tags,
    "title": _words,
    "upper": case_cost,
    "urlencode": _pairs,
    "wordcount": _matches,
    "xmlattr": _pairs,
}
# `random` is not deterministic; `pprint` indents by nesting depth (an amplifier) and is for
# debugging; `urlize` is for HTML and its e-mail pattern backtracks quadratically on crafted words.
_REMOVED_FILTERS: Final = frozenset({"random", "pprint", "urlize"})


# -- the tables the environment installs ------------------------------------------------------------


def _charging(func: Callable[..., Any], check_result: bool = True, reads_items: bool = True,
              lists_generators: bool = False, pieces: Callable[[object], int] | None = None) -> Callable[..., Any]:
    """Wraps a filter or test: it costs steps for the size of its input; its text result is bounded.

    `reads_items`: the input is charged for all it prints as, not only its number of items.
    `lists_generators`: a generator input is listed (a step per item) and measured first.
    `pieces`: steps for the Python work the filter does per piece of its input, on top.
    """
    position = 1 if _PassArg.from_obj(func) is not None else 0

    def charged(*args: Any, **kwargs: Any) -> Any:
        meter = METER.get()
        value = args[position]
        if lists_generators and isinstance(value, Iterator):
            value = list(guard_iterable(meter, value))
            args = (*args[:position], value, *args[position + 1:])
        cost = item_cost(value)
        if reads_items:
            cost = max(cost, meter.text_cost(value))
        if pieces is not None:
            cost += pieces(value)
        meter.charge(cost)
        result = func(*args, **kwargs)
        if check_result and isinstance(result, str) and len(result) > meter.max_output:
            raise too_large(f"the result of {func.__name__}", len(result), meter.max_output)
        if isinstance(result, Iterator):
            # A lazy result (`map`, `select`, `batch`, ...) works when it is read, item by item,
            # through every stage of a chain: each stage charges its items as they pass.
            return guard_iterable(meter, result)
        return result

    return update_wrapper(charged, func)


def _charging_division(func: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps `divisibleby`: dividing wide integers is quadratic in their width."""

    def charged(value: Any, num: Any) -> Any:
        if isinstance(value, int) and isinstance(num, int):
            METER.get().charge(arithmetic_cost(value, num))
        return func(value, num)

    return update_wrapper(charged, func)


def _charging_argument(func: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps a test that compares its value with its argument (`==`, `<`) or looks it up (`in`)."""
    membership = func is JINJA_TESTS["in"]

    def charged(value: Any, other: Any) -> Any:
        meter = METER.get()
        meter.charge(meter.contains_cost(value, other) if membership
                     else meter.compare_cost(value) + meter.compare_cost(other))
        return func(value, other)

    return update_wrapper(charged, func)


def sandbox_filters() -> dict[str, Callable[..., Any]]:
    """Every filter of the sandbox, by name, the parse-time guards included."""
    table: dict[str, Callable[..., Any]] = {}
    for name, func in JINJA_FILTERS.items():
        if name in _REMOVED_FILTERS:
            continue
        chosen = _GUARDED_FILTERS.get(name, func)
        if name in _FREE_FILTERS:
            table[name] = chosen
        else:
            table[name] = _charging(chosen, reads_items=name not in _PASSING_FILTERS,
                                    lists_generators=name in _COMPARING_FILTERS, pieces=_PIECE_COSTS.get(name))
    for name, func in DOMAIN_FILTERS.items():
        table[name] = _charging(func)
    table.update(GUARD_FILTERS)
    return table


_COMPARING_TESTS: Final = frozenset(
    {"in", "==", "eq", "equalto", "!=", "ne", ">", "gt", "greaterthan", ">=", "ge",
     "<", "lt", "lessthan", "<=", "le"}
)


def sandbox_tests() -> dict[str, Callable[..., Any]]:
    """Every test of the sandbox, by name: Jinja's, those that compare values charged."""
    table = dict(cast("Mapping[str, Callable[..., Any]]", JINJA_TESTS))
    for name in _COMPARING_TESTS:
        table[name] = _charging_argument(table[name])
    for name in ("lower", "upper"):
        table[name] = _charging(table[name], check_result=False, pieces=case_cost)
    table["divisibleby"] = _charging_division(table["divisibleby"])
    return table
