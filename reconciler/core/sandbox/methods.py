"""Methods of builtins a template calls (`'x'.center(9)`, `xs.index(1)`), each charged by what it touches.

`environment` hands every call of a method of a builtin (and of `Markup`, whose methods wrap the
str ones) to `call_builtin`. It charges the scan of the receiver and the reading of the arguments
(`budgets`), and for the methods whose work or result is not linear in those, it sizes first:

* padding, joining, replacing, translating and tab expansion grow their result: refused beyond
  the output bound through `Meter.bounded`;
* substring searches (`find`, `count`, `split`, `replace`, ... and from the right `rfind`,
  `rsplit`, ...) compare up to the whole needle at every position in CPython when they search
  from the right, or a short text, or with a short needle: charged for that (`search_cost`);
* case mapping (`upper`, `title`, ...) of text that is not ASCII takes a slow path: charged;
* `count` and `index` of lists and tuples compare every item with the argument: charged for the
  items' contents, not only their number;
* codecs: only utf-8, ascii and latin-1, with error handlers whose growth is known. Others can be
  far from linear (punycode and idna take minutes on a long string of distinct characters) and
  are refused as a "security" problem at the line;
* integers: `from_bytes` and `to_bytes` stay within `MAX_INT_BITS` and the output bound;
* dates: `strftime` is sized (`%c` writes 24 characters for 2);
* methods of a class (`date.today()`, `datetime.now()`, `datetime.strptime(...)`, reached from a
  date in the context) are refused unless they only build a value from their arguments
  (`dict.fromkeys`, `str.maketrans`, ...): a render must not read the clock, nor match a regular
  expression built from a template's format. So are `astimezone` and `timestamp`, which read the
  machine's time zone;
* `Markup`'s `striptags` and `unescape` work in Python per tag and per entity: charged for those;
* `strip`, `lstrip` and `rstrip` with characters to strip look each stripped character up among
  them (text length times their number): charged for that;
* `dict.fromkeys` and the set methods that insert (`union`, `symmetric_difference`, `issubset`)
  refuse keys crafted to share a hash (`budgets.check_keys`).

The other methods are linear in what they read and return at most a few times as much
(`startswith`, `splitlines`, `isdigit`), which the scan charge covers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from itertools import chain
from typing import Any, Final, TypeAlias

from jinja2.exceptions import SecurityError
from jinja2.runtime import Context

from reconciler.core.sandbox.budgets import (
    BULK,
    MAX_INT_BITS,
    TEXT,
    BudgetExceeded,
    Meter,
    case_cost,
    check_keys,
    int_argument,
    joined_size,
    materialized,
    scan_cost,
    search_cost,
    strip_cost,
)
from reconciler.core.sandbox.formats import STRFTIME_GROWTH

Args: TypeAlias = tuple[Any, ...]
_MethodGuard: TypeAlias = Callable[[Meter, object, Args, dict[str, Any]], Args]

# The codecs a template may use, as Python normalizes their names (lower case, `-` and spaces to `_`).
CODECS: Final = frozenset({"utf_8", "utf8", "ascii", "us_ascii", "latin_1", "latin1", "iso_8859_1", "iso8859_1"})
# Error handlers a template may use, with how many bytes (encoding) or characters (decoding) one
# character or byte can become at most.
_ENCODE_GROWTH: Final[Mapping[str, int]] = {
    "strict": 1, "ignore": 1, "replace": 1, "surrogateescape": 1, "backslashreplace": 10, "xmlcharrefreplace": 10,
}
_DECODE_GROWTH: Final[Mapping[str, int]] = {
    "strict": 1, "ignore": 1, "replace": 1, "surrogateescape": 1, "backslashreplace": 4,
}


def _pad_guard(meter: Meter, receiver: object, args: Args, kwargs: dict[str, Any]) -> Args:
    if isinstance(receiver, TEXT) and args:
        meter.check_width("padding", args[0])
        meter.charge(int_argument(args[0]) >> BULK)
    return args


def _expandtabs_guard(meter: Meter, receiver: object, args: Args, kwargs: dict[str, Any]) -> Args:
    if isinstance(receiver, str | bytes):
        tabsize = int_argument(args[0] if args else kwargs.get("tabsize", 8))
        tabs = receiver.count("\t" if isinstance(receiver, str) else b"\t")  # type: ignore[arg-type]
        meter.bounded("expandtabs", len(receiver) + tabs * max(tabsize, 0))
    return args


def _same_text_type(receiver: str | bytes, *values: object) -> bool:
    kind = str if isinstance(receiver, str) else bytes
    return all(isinstance(value, kind) for value in values)


def _replace_guard(meter: Meter, receiver: object, args: Args, kwargs: dict[str, Any]) -> Args:
    if isinstance(receiver, str | bytes) and len(args) >= 2 and _same_text_type(receiver, *args[:2]):
        old, new = args[0], args[1]
        meter.charge(2 * search_cost(len(receiver), len(old)))  # counting here, replacing there
        hits = receiver.count(old)
        limit = args[2] if len(args) > 2 else kwargs.get("count", -1)
        if isinstance(limit, int) and limit >= 0:
            hits = min(hits, limit)
        meter.bounded("replace", len(receiver) + hits * (len(new) - len(old)))
    return args


def _join_guard(meter: Meter, receiver: object, args: Args, kwargs: dict[str, Any]) -> Args:
    if not isinstance(receiver, TEXT) or not args:
        return args
    items = materialized(meter, args[0])
    meter.bounded("join", joined_size(meter, items, len(receiver)))
    if type(receiver) is not str and isinstance(receiver, str):
        meter.charge(len(items))  # Markup escapes every item
    return (items, *args[1:])


def _translate_guard(meter: Meter, receiver: object, args: Args, kwargs: dict[str, Any]) -> Args:
    if isinstance(receiver, str) and args:
        table = args[0]
        values: Iterable[object] = ()
        if isinstance(table, dict):
            values = table.values()
        elif isinstance(table, list | tuple):
            values = table
        meter.charge(scan_cost(table))
        longest = max((len(value) for value in values if isinstance(value, str)), default=1)
        meter.bounded("translate", len(receiver) * longest)
    return args


def _to_bytes_guard(meter: Meter, receiver: object, args: Args, kwargs: dict[str, Any]) -> Args:
    meter.check_width("to_bytes", args[0] if args else kwargs.get("length", 1))
    return args


def _from_bytes_guard(meter: Meter, receiver: object, args: Args, kwargs: dict[str, Any]) -> Args:
    if not args:
        return args
    data = args[0] if isinstance(args[0], TEXT) else materialized(meter, args[0])
    if len(data) * 8 > MAX_INT_BITS:
        raise BudgetExceeded(f"from_bytes: an integer of more than {MAX_INT_BITS} bits")
    return (data, *args[1:])


def _lengths_guard(cost: Callable[[int, int], int], keyword: str) -> _MethodGuard:
    """A guard charging `cost(length of the text, length of its first argument)` (or of `keyword`)."""

    def guard(meter: Meter, receiver: object, args: Args, kwargs: dict[str, Any]) -> Args:
        other = args[0] if args else kwargs.get(keyword)
        if isinstance(receiver, TEXT) and isinstance(other, TEXT):
            meter.charge(cost(len(receiver), len(other)))
        return args

    return guard


def _reverse_search_cost(text: int, needle: int) -> int:
    return search_cost(text, needle, reverse=True)


def _case_guard(meter: Meter, receiver: object, args: Args, kwargs: dict[str, Any]) -> Args:
    meter.charge(case_cost(receiver))
    return args


def _fromkeys_guard(meter: Meter, receiver: object, args: Args, kwargs: dict[str, Any]) -> Args:
    if not args:
        return args
    keys = materialized(meter, args[0])
    check_keys(meter, keys, "dict.fromkeys")
    return (keys, *args[1:])


def _inserting_guard(meter: Meter, receiver: object, args: Args, kwargs: dict[str, Any]) -> Args:
    if not isinstance(receiver, set | frozenset):
        return args
    others = tuple(materialized(meter, other) for other in args)
    check_keys(meter, chain(receiver, *others), "a set")
    return others


def _strftime_guard(meter: Meter, receiver: object, args: Args, kwargs: dict[str, Any]) -> Args:
    fmt = args[0] if args else kwargs.get("format")
    if isinstance(fmt, str):
        meter.bounded("strftime", len(fmt) * STRFTIME_GROWTH)
    return args


def _markup_guard(meter: Meter, receiver: object, args: Args, kwargs: dict[str, Any]) -> Args:
    if isinstance(receiver, str):
        meter.charge(receiver.count("<") + receiver.count("&"))
    return args


def _astimezone_guard(meter: Meter, receiver: object, args: Args, kwargs: dict[str, Any]) -> Args:
    if not args and not kwargs:
        raise SecurityError("astimezone() converts to the machine's time zone: give the zone")
    return args


def _timestamp_guard(meter: Meter, receiver: object, args: Args, kwargs: dict[str, Any]) -> Args:
    if getattr(receiver, "tzinfo", None) is None:
        raise SecurityError("timestamp() of a date and time without a zone reads the machine's time zone")
    return args


def _codec_guard(meter: Meter, receiver: object, args: Args, kwargs: dict[str, Any]) -> Args:
    encoding = args[0] if args else kwargs.get("encoding", "utf-8")
    errors = args[1] if len(args) > 1 else kwargs.get("errors", "strict")
    method = "str.encode" if isinstance(receiver, str) else "bytes.decode"
    if isinstance(encoding, str) and encoding.lower().replace("-", "_").replace(" ", "_") not in CODECS:
        raise SecurityError(f"{method}: the codec {encoding!r} is not available in templates "
                            "(use 'utf-8', 'ascii' or 'latin-1')")
    if isinstance(errors, str) and isinstance(receiver, TEXT):
        growth = (_ENCODE_GROWTH if isinstance(receiver, str) else _DECODE_GROWTH).get(errors)
        if growth is None:
            raise SecurityError(f"{method}: the error handler {errors!r} is not available in templates")
        if growth > 1:
            meter.bounded(f"{method} with errors={errors!r}", len(receiver) * growth)
    return args


# Methods of a class that only build a value from their arguments; the others (`today`, `now`,
# `strptime`, `fromtimestamp`) read the clock or the time zone, or build a regular expression.
CLASS_METHODS: Final = frozenset(
    {"fromkeys", "maketrans", "fromhex", "from_bytes", "fromordinal", "fromisoformat", "fromisocalendar"}
)

_METHOD_GUARDS: Final[Mapping[str, _MethodGuard]] = {
    "center": _pad_guard,
    "ljust": _pad_guard,
    "rjust": _pad_guard,
    "zfill": _pad_guard,
    "expandtabs": _expandtabs_guard,
    "replace": _replace_guard,
    "join": _join_guard,
    "translate": _translate_guard,
    "to_bytes": _to_bytes_guard,
    "from_bytes": _from_bytes_guard,
    **dict.fromkeys(("find", "index", "count", "split", "partition"), _lengths_guard(search_cost, "sep")),
    **dict.fromkeys(("rfind", "rindex", "rpartition", "rsplit"), _lengths_guard(_reverse_search_cost, "sep")),
    "encode": _codec_guard,
    "decode": _codec_guard,
    "upper": _case_guard,
    "lower": _case_guard,
    "title": _case_guard,
    "capitalize": _case_guard,
    "swapcase": _case_guard,
    "casefold": _case_guard,
    **dict.fromkeys(("strip", "lstrip", "rstrip"), _lengths_guard(strip_cost, "chars")),
    "fromkeys": _fromkeys_guard,
    "union": _inserting_guard,
    "symmetric_difference": _inserting_guard,
    "issubset": _inserting_guard,
    "strftime": _strftime_guard,
    "striptags": _markup_guard,
    "unescape": _markup_guard,
    "timestamp": _timestamp_guard,
    "astimezone": _astimezone_guard,
}
# Methods that compare every item of their receiver with their argument.
_ITEM_COMPARING: Final = frozenset({"count", "index"})


def call_builtin(meter: Meter, context: Context, method: Any, args: Args, kwargs: dict[str, Any]) -> Any:
    """Call a method of a builtin (`str.center`, `dict.items`, ...) with its cost charged."""
    receiver = method.__self__
    name = method.__name__
    if isinstance(receiver, type) and name not in CLASS_METHODS:
        raise SecurityError(f"{receiver.__name__}.{name} is not available in templates")
    receiver_cost = scan_cost(receiver)
    if name in _ITEM_COMPARING and isinstance(receiver, list | tuple):
        receiver_cost = meter.compare_cost(receiver)
    meter.charge(receiver_cost + sum(map(meter.compare_cost, args)) + sum(map(meter.compare_cost, kwargs.values())))
    guard = _METHOD_GUARDS.get(name)
    if guard is not None:
        args = guard(meter, receiver, args, kwargs)
    result = context.call(method, *args, **kwargs)
    if name == "fromkeys":
        meter.expanded(result)  # one value under every key
    return result
