"""Amplification guards: where one operation could allocate or loop far more than it reads.

Three kinds, all charging the render's `Meter` (`budgets`) or refusing with `BudgetExceeded`:

* Guards the parse step inserts into every template: `InsertGuards` (run by `environment` on
  every parsed template) wraps loop iterables, `~`, compared values, slices and built containers
  in the filters of `GUARD_FILTERS` (installed by `filters`).
* Operators: `BINARY_GUARDS` for `+`, `*`, `**` and `%` (`environment` intercepts those).
* Methods of builtins: `call_builtin` (called by `environment`) charges the scan of receiver and
  arguments and sizes the padding, joining, replacing and translating methods first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeAlias

from jinja2 import nodes
from jinja2.runtime import Context
from jinja2.visitor import NodeTransformer

from reconciler.core.sandbox.budgets import (
    BULK,
    METER,
    TEXT,
    BudgetExceeded,
    Meter,
    guard_iterable,
    int_argument,
    joined_size,
    materialized,
    scan_cost,
)
from reconciler.core.sandbox.formats import check_printf

MAX_INT_BITS: Final = 4096

Args: TypeAlias = tuple[Any, ...]

# -- guards the parse step inserts into every template ---------------------------------------------

_LOOP_GUARD: Final = "sandbox:loop"
_TEXT_GUARD: Final = "sandbox:text"
_SCAN_GUARD: Final = "sandbox:scan"
_BUILT_GUARD: Final = "sandbox:built"


def _loop_guard(iterable: Any) -> Any:
    return guard_iterable(METER.get(), iterable)


def _text_guard(text: str) -> str:
    METER.get().bounded("a concatenation (~)", len(text))
    return text


def _scan_guard(value: Any) -> Any:
    METER.get().charge(scan_cost(value))
    return value


def _built_guard(value: Any) -> Any:
    METER.get().expanded(value)
    return value


GUARD_FILTERS: Final[Mapping[str, Callable[[Any], Any]]] = {
    _LOOP_GUARD: _loop_guard,
    _TEXT_GUARD: _text_guard,
    _SCAN_GUARD: _scan_guard,
    _BUILT_GUARD: _built_guard,
}


def _is_static(node: nodes.Node) -> bool:
    if isinstance(node, nodes.Const):
        return True
    if isinstance(node, nodes.List | nodes.Tuple):
        return all(_is_static(item) for item in node.items)
    if isinstance(node, nodes.Dict):
        return all(_is_static(pair.key) and _is_static(pair.value) for pair in node.items)
    return False


def _guarded(node: nodes.Node, guard: str) -> nodes.Filter:
    return nodes.Filter(node, guard, [], [], None, None, lineno=node.lineno)


def _guard_comparison(node: nodes.Compare) -> None:
    # Comparing with a literal costs at most the literal's size; anything else may be a big value
    # scanned element by element (`in`, `==` on long lists), and `in` also hashes its left side.
    for operand in node.ops:
        if not isinstance(operand.expr, nodes.Const):
            operand.expr = _guarded(operand.expr, _SCAN_GUARD)
    if any(operand.op in ("in", "notin") for operand in node.ops) and not isinstance(node.expr, nodes.Const):
        node.expr = _guarded(node.expr, _SCAN_GUARD)


def _with_guard(node: nodes.Node) -> nodes.Node:
    if isinstance(node, nodes.For):
        node.iter = _guarded(node.iter, _LOOP_GUARD)
    elif isinstance(node, nodes.Concat):
        return _guarded(node, _TEXT_GUARD)
    elif isinstance(node, nodes.Compare):
        _guard_comparison(node)
    elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Slice):
        # Jinja compiles slices to a plain subscript, bypassing the sandbox's getitem: a copy.
        return _guarded(node, _SCAN_GUARD)
    elif (
        isinstance(node, nodes.List | nodes.Dict | nodes.Tuple)
        and getattr(node, "ctx", "load") == "load"
        and not _is_static(node)
    ):
        # `[x, x]` doubles what `x` prints as; nested, that is exponential in a few lines.
        return _guarded(node, _BUILT_GUARD)
    return node


class InsertGuards(NodeTransformer):
    """Wraps loop iterables, `~`, compared values, slices and built containers in guard filters.

    The guard names contain a colon, so a template cannot name them itself.
    """

    def visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> Any:
        self.generic_visit(node)
        return _with_guard(node)


# -- guarded methods --------------------------------------------------------------------------------


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


_MethodGuard: TypeAlias = Callable[[Meter, object, Args, dict[str, Any]], Args]
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
}


def call_builtin(meter: Meter, context: Context, method: Any, args: Args, kwargs: dict[str, Any]) -> Any:
    """Call a method of a builtin (`str.center`, `dict.items`, ...) with its cost charged."""
    receiver = method.__self__
    meter.charge(scan_cost(receiver) + sum(map(scan_cost, args)))
    guard = _METHOD_GUARDS.get(method.__name__)
    if guard is not None:
        args = guard(meter, receiver, args, kwargs)
    result = context.call(method, *args, **kwargs)
    if method.__name__ == "fromkeys":
        meter.expanded(result)  # one value under every key
    return result


# -- guarded operators ------------------------------------------------------------------------------

_SEQUENCES: Final = (str, bytes, bytearray, list, tuple)


def _add(left: Any, right: Any) -> Any:
    if isinstance(left, TEXT) and isinstance(right, TEXT):
        METER.get().bounded("joining two strings with +", len(left) + len(right))
    elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return _concatenate(METER.get(), left, right)
    return left + right


def _concatenate(meter: Meter, left: Any, right: Any) -> Any:
    size = meter.expanded(left) + meter.expanded(right)
    meter.bounded("joining two sequences with +", max(size, len(left) + len(right)))
    result = left + right
    meter.remember(result, len(result), size)
    return result


def _repeat(sequence: Any, count: int) -> Any:
    if count <= 0 or not sequence:
        return sequence * count
    meter = METER.get()
    if isinstance(sequence, TEXT):
        meter.bounded("repeating a string with *", len(sequence) * count)
        return sequence * count
    size = meter.expanded(sequence) * count
    meter.bounded("repeating a sequence with *", max(size, len(sequence) * count))
    result = sequence * count
    meter.remember(result, len(result), size)
    return result


def _multiply(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise BudgetExceeded(f"a product of more than {MAX_INT_BITS} bits")
        return left * right
    if isinstance(right, int) and isinstance(left, _SEQUENCES):
        return _repeat(left, right)
    if isinstance(left, int) and isinstance(right, _SEQUENCES):
        return _repeat(right, left)
    return left * right


def _power(base: Any, exponent: Any) -> Any:
    # Decide from bit lengths before computing: `2 ** (10 ** 10)` would take hours and gigabytes.
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and exponent > 0
        and abs(base) > 1
        and base.bit_length() * exponent > MAX_INT_BITS
    ):
        raise BudgetExceeded(f"a power of more than {MAX_INT_BITS} bits")
    return base**exponent


def _modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str | bytes):
        check_printf(METER.get(), left, right)
    return left % right


BINARY_GUARDS: Final[Mapping[str, Callable[[Any, Any], Any]]] = {
    "+": _add,
    "*": _multiply,
    "**": _power,
    "%": _modulo,
}
