"""What one render may do and what it has done so far: the budget, the meter, and what work costs.

`RenderBudget` is the limit a `TemplateSet` is built with (`templatesets`). Each render gets a
fresh `Meter` in the context variable `METER`, so renders on other threads or nested renders
cannot charge each other. Every guard of the package (`guards`, `filters`, `formats`,
`environment`) reads the meter from there, charges it steps or captured text, or refuses an
oversized result by raising `BudgetExceeded`, which `problems` reports as a "budget" problem.

Steps stand in for a wall clock: loop iterations, calls, includes and bulk work on big values cost
steps, so a template fails at the same point on every machine and every run. Work done in C is
charged by the size of what it touches, at a rate per kind of work (`BULK`, `COMPARE`, `SEARCH`,
`CASE`, and for wide integers) chosen so that a step costs at most about a microsecond: the
default budget bounds a render to about a second (`bench/sandbox.py` times the costliest templates
known, `tests/core/adversarial_templates.py`).
"""

from __future__ import annotations

import contextvars
import datetime
import sys
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any, Final, cast

from jinja2.exceptions import SecurityError

# Text captured by macros, blocks and `{% set %}` blocks is counted on top of the output (a macro's
# text is captured, then output), so its bound is a multiple of the output bound.
CAPTURE_FACTOR: Final = 8
# Integers a template computes stay below this many bits: arithmetic on longer ones is quadratic.
MAX_INT_BITS: Final = 4096
# Rates, as shifts: work done in C costs one step per 2**rate characters (or items) it touches.
# Copying, converting and allocating text: 16 characters a step.
BULK: Final = 4
# Comparing and hashing what a container holds (memcmp and cached hashes): 256 characters a step.
COMPARE: Final = 8
# The inner loop of a naive substring search (CPython compares character by character, and may do
# so at every position: length of the text times length of the needle): 1024 comparisons a step.
SEARCH: Final = 10
# Case mapping of text that is not ASCII (special cases such as ß -> SS): 4 characters a step.
CASE: Final = 2
# Integers of more than a machine word: multiplying, dividing and printing them in decimal is
# quadratic in their bits (a 4096-bit division takes about 15 microseconds, printing one 50): a
# step per 2**16 (arithmetic) or 2**17 (printing) products of their bit lengths.
_INT_ARITHMETIC: Final = 16
_INT_TEXT: Final = 17
# What an object of unknown type is assumed to print as when sizing a container that holds it.
_OPAQUE_SIZE: Final = 16


@dataclass(frozen=True, slots=True)
class RenderBudget:
    """How much one render may do: steps (loop iterations, calls, bulk work) and output characters."""

    max_steps: int = 1_000_000
    max_output: int = 1_048_576

    def __post_init__(self) -> None:
        if self.max_steps < 1 or self.max_output < 1:
            raise ValueError(f"a render budget needs positive limits, got {self}")


DEFAULT_BUDGET: Final = RenderBudget()


class BudgetExceeded(Exception):
    """A render ran out of budget or was refused an oversized operation (kind "budget")."""


def too_large(what: str, size: int, limit: int) -> BudgetExceeded:
    return BudgetExceeded(f"{what} would be {size} characters long, more than the {limit} allowed")


# -- the meter --------------------------------------------------------------------------------------

_VIEW_TYPES: Final = frozenset({type({}.keys()), type({}.values()), type({}.items())})
_ITEMS_VIEW: Final[type] = type({}.items())
_VALUES_VIEW: Final[type] = type({}.values())
_CONTAINERS: Final = (list, tuple, dict, set, frozenset)
_SIZED_ITERABLES: Final = frozenset({list, tuple, dict, str, range, set, frozenset, *_VIEW_TYPES})
TEXT: Final = (str, bytes, bytearray)
_SCANNABLE: Final = (str, bytes, bytearray, list, tuple, dict, set, frozenset)


class Meter:
    """What one render may still do. Counters count down; crossing zero raises `BudgetExceeded`.

    It also remembers how large the containers it has measured would be as text, keyed by `id`
    and holding a reference so the id cannot be reused while it is remembered. That is sound
    because the sandbox cannot mutate lists, dicts and sets, and namespaces (which it can
    mutate) print without their contents.
    """

    __slots__ = ("_held", "_sizes", "captured_left", "max_output", "max_steps", "steps_left")

    def __init__(self, budget: RenderBudget) -> None:
        self.max_steps = budget.max_steps
        self.max_output = budget.max_output
        self.steps_left = budget.max_steps
        self.captured_left = budget.max_output * CAPTURE_FACTOR
        self._sizes: dict[int, tuple[object, int]] = {}
        self._held = 0

    def charge(self, steps: int) -> None:
        # Costs are computed from template values: a negative width must not give steps back.
        if steps > 0:
            self.steps_left -= steps
        if self.steps_left < 0:
            raise BudgetExceeded(f"render budget exceeded: more than {self.max_steps} steps")

    def capture(self, chars: int) -> None:
        self.captured_left -= chars
        if self.captured_left < 0:
            limit = self.max_output * CAPTURE_FACTOR
            raise BudgetExceeded(
                f"text built by macros, blocks and set/filter blocks larger than {limit} characters"
            )

    def bounded(self, what: str, size: int) -> None:
        """Refuse an operation whose result would exceed the output bound; charge for building it."""
        if size > self.max_output:
            raise too_large(what, size, self.max_output)
        self.charge(size >> BULK)

    def check_width(self, what: str, width: object) -> None:
        """Refuse a width or count argument beyond the output bound, before anything is built."""
        if isinstance(width, int) and width > self.max_output:
            raise too_large(what, width, self.max_output)

    def size(self, value: object) -> int:
        """About how many characters `str(value)` would have, without building it, however many.

        Containers are measured once (walking one costs a step per item) and remembered, so a
        list that holds one long string a hundred thousand times counts as long as it prints.
        """
        if isinstance(value, str):
            return len(value)
        if isinstance(value, _CONTAINERS):
            known = self._sizes.get(id(value))
            return known[1] if known is not None else self._measure(value, len(value), remember=True)
        if type(value) in _VIEW_TYPES:
            view = cast("Collection[object]", value)
            return self._measure(view, len(view), remember=False)
        if isinstance(value, bytes | bytearray):
            return len(value)
        if isinstance(value, int):
            return value.bit_length() // 3 + 2
        return _OPAQUE_SIZE

    def expanded(self, value: object) -> int:
        """`size(value)`, refused for a container that would print longer than the output bound."""
        size = self.size(value)
        if size > self.max_output and not isinstance(value, (*TEXT, int)):
            raise BudgetExceeded(f"a value that would be more than {self.max_output} characters as text")
        return size

    def text_cost(self, value: object) -> int:
        """Steps for work that reads every character `value` prints as (`str`, `lower`, sorting keys)."""
        if isinstance(value, TEXT):
            return 1 + (len(value) >> BULK)
        if isinstance(value, int):
            bits = value.bit_length()
            return 1 + ((bits * bits) >> _INT_TEXT)
        return 1 + (self.size(value) >> BULK)

    def compare_cost(self, value: object) -> int:
        """Steps for comparing or hashing `value` whole: its items, and what they hold."""
        if isinstance(value, TEXT):
            return 1 + (len(value) >> BULK)
        if isinstance(value, _SCANNABLE) or type(value) in _VIEW_TYPES:
            return 1 + (len(value) >> BULK) + (self.size(value) >> COMPARE)  # type: ignore[arg-type]
        return 1

    def members_cost(self, container: object) -> int:
        """Steps for `x in container`, beyond hashing or comparing `x` itself."""
        # A list, tuple or dict's values compare x with every item, as deep as they are equal; a
        # range compares every number with anything but an integer; text is searched; a dict, a
        # set or the keys or items of a dict only hash x.
        if isinstance(container, list | tuple) or type(container) is _VALUES_VIEW:
            return self.compare_cost(container)
        if isinstance(container, (*TEXT, range)):
            return 1 + (len(container) >> BULK)
        return 1

    def contains_cost(self, needle: object, container: object) -> int:
        """Steps for `needle in container`."""
        if isinstance(container, str) and isinstance(needle, str):
            return search_cost(len(container), len(needle))
        return self.compare_cost(needle) + self.members_cost(container)

    def remember(self, value: object, length: int, size: int) -> None:
        self._sizes[id(value)] = (value, size)
        self._held += length + 1
        # Remembering keeps values alive; past this much, forgetting is cheaper than holding.
        if self._held > self.max_output * 4:
            self._sizes.clear()
            self._held = 0

    def _measure(self, value: Iterable[object], length: int, *, remember: bool) -> int:
        self.charge(1 + length)
        total = 2
        for child in _children(value):
            total += self.size(child) + 2
        if remember:
            self.remember(value, length, total)
        return total


def _children(value: Iterable[object]) -> Iterable[object]:
    if isinstance(value, dict):
        return chain(value.keys(), value.values())
    if type(value) is _ITEMS_VIEW:
        return chain.from_iterable(value)  # type: ignore[arg-type]
    return value


METER: contextvars.ContextVar[Meter] = contextvars.ContextVar("reconciler_render_meter")


# -- what work costs --------------------------------------------------------------------------------


def scan_cost(value: object) -> int:
    """Steps for work done in C over the items of `value` once, not what they hold (copy, slice, scan)."""
    if isinstance(value, _SCANNABLE):
        return 1 + (len(value) >> BULK)
    return 1


def item_cost(value: object) -> int:
    """Steps for work done in Python per item of `value` (most filters)."""
    if isinstance(value, TEXT):
        return 1 + (len(value) >> BULK)
    if type(value) in _SIZED_ITERABLES:
        return 1 + len(value)  # type: ignore[arg-type]
    return 1


def search_cost(text: int, needle: int, *, reverse: bool = False) -> int:
    """Steps for searching a needle of `needle` characters in a text of `text` characters.

    CPython (3.11) searches from the right, and from the left in short texts or for short
    needles, by comparing up to the whole needle at every position; otherwise it searches in
    linear time (two-way), which the scan of the text pays for.
    """
    naive = reverse or text < 2500 or (needle < 100 and text < 30000) or needle < 6
    return 1 + (text >> BULK) + ((max(text - needle + 1, 0) * needle) >> SEARCH if naive else 0)


def strip_cost(text: int, chars: int) -> int:
    """Steps for stripping characters from the ends of a text: each is looked for among `chars`."""
    return (text * chars) >> SEARCH


def case_cost(value: object) -> int:
    """Steps for mapping the case of `value` beyond its scan: text that is not ASCII takes a slow path."""
    if isinstance(value, str) and not value.isascii():
        return len(value) >> CASE
    return 0


def arithmetic_cost(left: int, right: int) -> int:
    """Steps for multiplying or dividing two integers (quadratic in their digits)."""
    left_bits, right_bits = left.bit_length(), right.bit_length()
    return 1 + ((left_bits + right_bits) >> 8) + ((left_bits * right_bits) >> _INT_ARITHMETIC)


# -- keys whose hashes a template can choose ------------------------------------------------------

# CPython hashes an integer modulo this prime, so its multiples all hash alike; tuples, ranges and
# other values are hashed from their parts by a mix a pair of small integers can be solved for.
# Text, bytes and dates are hashed with a key secret to the process, floats and small integers
# are their own hash: those cannot be made to collide in numbers.
_HASH_MODULUS: Final = sys.hash_info.modulus
_SECRET_HASHED: Final = (str, bytes, datetime.date, datetime.time)
# Keys sharing one hash a dict or set may hold: inserting or looking up one compares it with up to
# this many others.
MAX_SHARED_HASH: Final = 16


def hash_chosen(key: object) -> bool:
    """Whether a template can choose `key`'s hash (see `check_keys`)."""
    kind = type(key)
    if kind is int:
        return not -_HASH_MODULUS < key < _HASH_MODULUS  # type: ignore[operator]
    return not (kind is bool or kind is float or key is None or isinstance(key, _SECRET_HASHED))


def check_keys(meter: Meter, keys: Iterable[object], what: str) -> None:
    """Refuse to build a dict or set whose keys were crafted to share a hash (building it is quadratic).

    Only keys whose hash a template can choose are looked at (a step each).
    """
    chosen = [key for key in keys if hash_chosen(key)]
    meter.charge(len(chosen))
    if shared_hash(chosen) is not None:
        raise SecurityError(f"{what}: {SHARED_HASH_REFUSED}")


SHARED_HASH_REFUSED: Final = (f"more than {MAX_SHARED_HASH} different keys share one hash value (very large "
                              "integers or tuples built to collide)")


def shared_hash(keys: Collection[object]) -> int | None:
    """A hash value more than `MAX_SHARED_HASH` different `keys` share, if there is one (linear time)."""
    if len(keys) <= MAX_SHARED_HASH:
        return None
    by_hash: defaultdict[int, list[object]] = defaultdict(list)
    for key in keys:
        by_hash[hash(key)].append(key)
    for value, alike in by_hash.items():
        if len(alike) > MAX_SHARED_HASH and _distinct_beyond(alike, MAX_SHARED_HASH):
            return value
    return None


def _distinct_beyond(alike: list[object], limit: int) -> bool:
    """Whether `alike` (keys with one hash) holds more than `limit` different values (at most limit compares each)."""
    distinct: list[object] = []
    for key in alike:
        if all(key != other for other in distinct):
            distinct.append(key)
            if len(distinct) > limit:
                return True
    return False


def int_argument(value: object) -> int:
    return value if isinstance(value, int) else 0


def guard_iterable(meter: Meter, iterable: Any) -> Any:
    """`iterable`, charged one step per item."""
    # A sized builtin is charged up front and iterated untouched: same cost, no per-item overhead,
    # and `loop.length` keeps using `len`.
    if type(iterable) in _SIZED_ITERABLES:
        meter.charge(len(iterable))
        return iterable
    return _charge_per_item(meter, iterable)


def _charge_per_item(meter: Meter, iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        meter.steps_left -= 1
        if meter.steps_left < 0:
            meter.charge(0)
        yield item


def materialized(meter: Meter, value: Any) -> list[Any] | tuple[Any, ...]:
    """`value` as a list or tuple, its iteration charged (for joining it)."""
    if isinstance(value, list | tuple):
        return value
    return list(guard_iterable(meter, value))


def joined_size(meter: Meter, items: list[Any] | tuple[Any, ...], separator: int) -> int:
    """About how many characters joining `items` with a separator of that length gives."""
    if all(type(item) is str for item in items):
        size = sum(map(len, items))
    else:
        size = sum(meter.expanded(item) for item in items)
    return size + max(len(items) - 1, 0) * separator
