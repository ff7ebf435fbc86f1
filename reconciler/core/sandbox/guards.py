"""Amplification guards: where one operation could allocate, compare or loop far more than it reads.

Two kinds, both charging the render's `Meter` (`budgets`) or refusing with `BudgetExceeded`:

* Guards the parse step inserts into every template: `InsertGuards` (run by `environment` on
  every parsed template) wraps loop iterables, `~` and its operands, compared values, slices,
  built containers, what `{{ }}` prints and what `*args` / `**kwargs` spread in the filters of
  `GUARD_FILTERS` (installed by `filters`).
* Operators: `BINARY_GUARDS` for `+`, `-`, `*`, `**`, `%` and `//` (`environment` intercepts
  those). Integers stay within `MAX_INT_BITS`, and multiplying and dividing them is charged for
  their width (quadratic); adding, subtracting and comparing them is linear.

Methods of builtins are guarded in `methods`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from itertools import chain
from typing import Any, Final

from jinja2 import nodes
from jinja2.visitor import NodeTransformer

from reconciler.core.sandbox.budgets import (
    MAX_INT_BITS,
    MAX_SHARED_HASH,
    METER,
    TEXT,
    BudgetExceeded,
    Meter,
    arithmetic_cost,
    check_keys,
    guard_iterable,
    hash_chosen,
    materialized,
    scan_cost,
    shared_hash,
)
from reconciler.core.sandbox.formats import check_printf

# -- guards the parse step inserts into every template ---------------------------------------------

_LOOP_GUARD: Final = "sandbox:loop"
_TEXT_GUARD: Final = "sandbox:text"
_SCAN_GUARD: Final = "sandbox:scan"
_COMPARE_GUARD: Final = "sandbox:compare"
_MEMBERS_GUARD: Final = "sandbox:members"
_BUILT_GUARD: Final = "sandbox:built"
_PRINT_GUARD: Final = "sandbox:print"
_SPREAD_GUARD: Final = "sandbox:spread"
_CONTAINS_GUARD: Final = "sandbox:contains"
_DICT_GUARD: Final = "sandbox:dict"


def _loop_guard(iterable: Any) -> Any:
    return guard_iterable(METER.get(), iterable)


def _text_guard(text: str) -> str:
    METER.get().bounded("a concatenation (~)", len(text))
    return text


def _scan_guard(value: Any) -> Any:
    METER.get().charge(scan_cost(value))
    return value


def _compare_guard(value: Any) -> Any:
    meter = METER.get()
    meter.charge(meter.compare_cost(value))
    return value


def _members_guard(container: Any) -> Any:
    meter = METER.get()
    meter.charge(meter.members_cost(container))
    return container


def _built_guard(value: Any) -> Any:
    METER.get().expanded(value)
    return value


def _print_guard(value: Any) -> Any:
    # `{{ value }}` and `~` turn a value into text before anything counts it: size a container
    # first, and charge for printing a big one (or a wide integer: decimal printing is quadratic).
    if type(value) is not str:
        meter = METER.get()
        meter.expanded(value)
        meter.charge(meter.text_cost(value) - 1)
    return value


def _contains_guard(needle: Any, container: Any) -> bool:
    # `needle in container`, with both in hand: a text search costs what both lengths make it.
    meter = METER.get()
    meter.charge(meter.contains_cost(needle, container))
    return needle in container


def _spread_guard(value: Any) -> Any:
    # `m(*values)` builds a tuple (a macro's `varargs`) from any iterable: as `[...]` does.
    meter = METER.get()
    if not isinstance(value, dict):  # a dict spreads its keys, and measures as itself
        value = materialized(meter, value)
    meter.expanded(value)
    return value


def _dict_guard(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    # `{k1: v1, ...}` with many keys that are not all literal text: built here, its keys checked first.
    check_keys(METER.get(), (key for key, _ in pairs), "a dict")
    return dict(pairs)


GUARD_FILTERS: Final[Mapping[str, Callable[..., Any]]] = {
    _LOOP_GUARD: _loop_guard,
    _TEXT_GUARD: _text_guard,
    _SCAN_GUARD: _scan_guard,
    _COMPARE_GUARD: _compare_guard,
    _MEMBERS_GUARD: _members_guard,
    _BUILT_GUARD: _built_guard,
    _PRINT_GUARD: _print_guard,
    _SPREAD_GUARD: _spread_guard,
    _CONTAINS_GUARD: _contains_guard,
    _DICT_GUARD: _dict_guard,
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


def _guard_comparison(node: nodes.Compare) -> nodes.Expr:
    if len(node.ops) == 1 and node.ops[0].op in ("in", "notin"):
        # `a in b`: one guard sees both sides (a search costs what both lengths make it).
        operand = node.ops[0]
        contains = nodes.Filter(node.expr, _CONTAINS_GUARD, [operand.expr], [], None, None, lineno=node.lineno)
        return contains if operand.op == "in" else nodes.Not(contains, lineno=node.lineno)
    # Comparing with a literal costs at most the literal's size; anything else may be a big value
    # compared item by item (`==` on long lists); `in` compares or hashes its left side.
    for operand in node.ops:
        if isinstance(operand.expr, nodes.Const):
            continue
        guard = _MEMBERS_GUARD if operand.op in ("in", "notin") else _COMPARE_GUARD
        operand.expr = _guarded(operand.expr, guard)
    if any(operand.op in ("in", "notin") for operand in node.ops) and not isinstance(node.expr, nodes.Const):
        node.expr = _guarded(node.expr, _COMPARE_GUARD)
    return node


def _printed(node: nodes.Expr) -> nodes.Expr:
    return node if isinstance(node, nodes.Const | nodes.TemplateData) else _guarded(node, _PRINT_GUARD)


def _guard_spreads(node: nodes.Call | nodes.Filter | nodes.Test) -> None:
    if node.dyn_args is not None:
        node.dyn_args = _guarded(node.dyn_args, _SPREAD_GUARD)
    if node.dyn_kwargs is not None:  # `m(**mapping)` builds a dict (a macro's `kwargs`)
        node.dyn_kwargs = _guarded(node.dyn_kwargs, _BUILT_GUARD)


def _guard_dict(node: nodes.Dict) -> nodes.Expr:
    # Python builds a dict display (and Jinja's optimizer a literal one, at compile time) before
    # anything can look at its keys: crafted to share a hash, they make building it quadratic.
    # A dict of a few keys, or of literal keys whose hashes cannot be chosen, is left as it is.
    if len(node.items) <= MAX_SHARED_HASH or all(
        isinstance(pair.key, nodes.Const) and not hash_chosen(pair.key.value) for pair in node.items
    ):
        return node
    pairs = [nodes.Tuple([pair.key, pair.value], "load", lineno=pair.lineno) for pair in node.items]
    return _guarded(nodes.List(pairs, lineno=node.lineno), _DICT_GUARD)


def _with_guard(node: nodes.Node) -> nodes.Node:
    if isinstance(node, nodes.For):
        node.iter = _guarded(node.iter, _LOOP_GUARD)
    elif isinstance(node, nodes.Output):
        node.nodes = [_printed(child) for child in node.nodes]
    elif isinstance(node, nodes.Concat):
        node.nodes = [_printed(child) for child in node.nodes]
        return _guarded(node, _TEXT_GUARD)
    elif isinstance(node, nodes.Compare):
        return _guard_comparison(node)
    elif isinstance(node, nodes.Call | nodes.Filter | nodes.Test):
        _guard_spreads(node)
    elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Slice):
        # Jinja compiles slices to a plain subscript, bypassing the sandbox's getitem: a copy.
        return _guarded(node, _SCAN_GUARD)
    elif isinstance(node, nodes.Dict) and (guarded := _guard_dict(node)) is not node:
        return _guarded(guarded, _BUILT_GUARD)
    elif (
        isinstance(node, nodes.List | nodes.Dict | nodes.Tuple)
        and getattr(node, "ctx", "load") == "load"
        and not _is_static(node)
    ):
        # `[x, x]` doubles what `x` prints as; nested, that is exponential in a few lines.
        return _guarded(node, _BUILT_GUARD)
    return node


class InsertGuards(NodeTransformer):
    """Wraps loop iterables, `~`, compared and printed values, slices, spreads and built containers.

    The guard names contain a colon, so a template cannot name them itself. It also collects the
    literals whose hash a template can choose (very large integers, tuples): Jinja's optimizer and
    Python's compiler put every literal of a template in a table of constants when it is compiled,
    which takes quadratic time if they share a hash (`colliding_literal`).
    """

    def __init__(self) -> None:
        self._literals: list[tuple[object, int]] = []

    def visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> Any:
        self.generic_visit(node)
        if isinstance(node, nodes.Const | nodes.Tuple):
            value = _literal(node)
            if value is not _NOT_LITERAL and hash_chosen(value):
                self._literals.append((value, node.lineno))
        return _with_guard(node)

    def colliding_literal(self) -> int | None:
        """The line of a literal that shares its hash with more than `MAX_SHARED_HASH` others, if any."""
        shared = shared_hash([value for value, _ in self._literals])
        if shared is None:
            return None
        return next(line for value, line in self._literals if hash(value) == shared)


_NOT_LITERAL: Final = object()


def _literal(node: nodes.Node) -> object:
    """The value of a literal constant or tuple of them, or `_NOT_LITERAL`."""
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, nodes.Tuple):
        items = [_literal(item) for item in node.items]
        return _NOT_LITERAL if any(item is _NOT_LITERAL for item in items) else tuple(items)
    return _NOT_LITERAL


# -- guarded operators ------------------------------------------------------------------------------

_SEQUENCES: Final = (str, bytes, bytearray, list, tuple)


def _add(left: Any, right: Any) -> Any:
    if isinstance(left, TEXT) and isinstance(right, TEXT):
        METER.get().bounded("joining two strings with +", len(left) + len(right))
    elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return _concatenate(METER.get(), left, right)
    return _bounded_int(left + right, "a sum")


# What `-` makes a set of: the keys or items of a dict, a set, and what they are subtracted from.
_SET_OPERANDS: Final[tuple[type, ...]] = (set, frozenset, type({}.keys()), type({}.items()))


def _subtract(left: Any, right: Any) -> Any:
    if not isinstance(left, int | float) or not isinstance(right, int | float):
        # The keys of two dicts: a set difference hashes every key.
        meter = METER.get()
        meter.charge(meter.compare_cost(left) + meter.compare_cost(right))
        if isinstance(left, _SET_OPERANDS) or isinstance(right, _SET_OPERANDS):
            operands = (materialized(meter, side) for side in (left, right) if isinstance(side, Iterable))
            check_keys(meter, chain.from_iterable(operands), "a set difference")
    return _bounded_int(left - right, "a difference")


def _bounded_int(result: Any, what: str) -> Any:
    # Doubling a number in a loop adds a bit per step; arithmetic on such numbers is quadratic.
    if isinstance(result, int) and result.bit_length() > MAX_INT_BITS:
        raise BudgetExceeded(f"{what} of more than {MAX_INT_BITS} bits")
    return result


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
        METER.get().charge(arithmetic_cost(left, right))
        return left * right
    if isinstance(right, int) and isinstance(left, _SEQUENCES):
        return _repeat(left, right)
    if isinstance(left, int) and isinstance(right, _SEQUENCES):
        return _repeat(right, left)
    return left * right


def _power(base: Any, exponent: Any) -> Any:
    # Decide from bit lengths before computing: `2 ** (10 ** 10)` would take hours and gigabytes.
    # The result has between (bits - 1) * exponent + 1 and bits * exponent bits.
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and exponent > 0
        and abs(base) > 1
        and (base.bit_length() - 1) * exponent >= MAX_INT_BITS
    ):
        raise BudgetExceeded(f"a power of more than {MAX_INT_BITS} bits")
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        widest = 1 << min(base.bit_length() * exponent, 2 * MAX_INT_BITS)
        METER.get().charge(arithmetic_cost(widest, widest))  # squaring up to the result's width
    return _bounded_int(base**exponent, "a power")


def _modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str | bytes):
        check_printf(METER.get(), left, right)
    elif isinstance(left, int) and isinstance(right, int):
        METER.get().charge(arithmetic_cost(left, right))
    return left % right


def _floor_divide(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int):
        METER.get().charge(arithmetic_cost(left, right))
    return left // right


BINARY_GUARDS: Final[Mapping[str, Callable[[Any, Any], Any]]] = {
    "+": _add,
    "-": _subtract,
    "*": _multiply,
    "**": _power,
    "%": _modulo,
    "//": _floor_divide,
}
