"""Sizing formatted text: how long a %-format or `str.format` result would be, before formatting.

A short format string can ask for huge widths (`'%999999999s' % x`, `'{:>999999999}'.format(x)`)
or repeat a big value in every field. These estimates let the guards refuse such a call through
`Meter.bounded` before it allocates. Used by `filters` (the `format` filter), `guards` (the `%`
operator) and `environment` (calls of `str.format` and `str.format_map`).
"""

from __future__ import annotations

import re
import string
from typing import Any, Final

from reconciler.core.sandbox.budgets import Meter, scan_cost

# The str methods whose calls `check_format_call` sizes.
FORMAT_METHODS: Final = frozenset({"format", "format_map"})
# A date formats with strftime, where `%c` (in the C locale "Sat Nov 21 12:00:00 2026") is the
# longest that two characters become.
STRFTIME_GROWTH: Final = 12

# The characters that may follow `%` (and an optional `(key)`) before the conversion letter. One
# character class, so matching is linear on any input.
_PRINTF_SPEC: Final = re.compile(r"[-+ #0-9.*hlL]*")
_DIGITS: Final = re.compile(r"\d+")
_STR_FORMATTER: Final = string.Formatter()


def check_printf(meter: Meter, fmt: str | bytes, values: object) -> None:
    """Refuse `fmt % values` if its result would exceed the output bound."""
    text = fmt if isinstance(fmt, str) else fmt.decode("latin-1")
    # Finding the fields here, and formatting each (in Python for Markup), is work per field.
    meter.charge(text.count("%") * _field_cost(fmt))
    estimate = _format_estimate(meter, text, _printf_fields(text), _printf_values(values))
    meter.bounded("formatting with %", estimate)


def check_format_call(meter: Meter, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a call of `str.format` or `str.format_map` whose result would exceed the output bound."""
    # The sandbox hands out `str.format` as a wrapper function; the format string is on the original.
    fmt = getattr(getattr(func, "__wrapped__", None), "__self__", None)
    if not isinstance(fmt, str):
        return
    # The sandbox formats field by field in Python (its formatter checks every attribute access).
    meter.charge(fmt.count("{") * _field_cost(fmt))
    if func.__name__ == "format_map":
        mapping = args[0] if args else {}
        values = list(mapping.values()) if isinstance(mapping, dict) else [mapping]
    else:
        values = [*args, *(value for key, value in kwargs.items() if not key.startswith("_"))]
    meter.bounded("str.format", _format_estimate(meter, fmt, _str_format_fields(fmt), values))


def _field_cost(fmt: object) -> int:
    # Markup (a subclass of str) escapes every value it formats, in Python.
    return 1 if type(fmt) is str or isinstance(fmt, bytes) else 3


def _numbers_in(spec: str) -> int:
    total = 0
    for digits in _DIGITS.findall(spec):
        if len(digits) > 18:
            return 10**18
        total += int(digits)
    return total


def _printf_fields(fmt: str) -> tuple[int, int, bool]:
    """Fields, the sum of their widths and precisions, and whether one is `*`, of a %-format."""
    fields = widths = 0
    star = False
    position = fmt.find("%")
    while position != -1:
        start = position + 1
        if fmt.startswith("(", start):
            close = fmt.find(")", start)
            if close == -1:
                break
            start = close + 1
        end = _PRINTF_SPEC.match(fmt, start).end()  # type: ignore[union-attr]
        spec = fmt[start:end]
        if not fmt.startswith("%", end):
            fields += 1
            widths += _numbers_in(spec)
            star = star or "*" in spec
        position = fmt.find("%", end + 1)
    return fields, widths, star


def _str_format_fields(fmt: str) -> tuple[int, int, bool]:
    """Fields, the sum of widths and precisions, and whether one is nested, of a str.format."""
    fields = widths = 0
    nested = False
    try:
        parsed = list(_STR_FORMATTER.parse(fmt))
    except ValueError:
        return 0, 0, False  # the call itself will raise the same error
    for _text, field, spec, _conversion in parsed:
        if field is not None:
            fields += 1
            widths += _numbers_in(spec or "")
            if "%" in (spec or ""):  # `'{:%c}'.format(day)`: the spec is a strftime format
                widths += STRFTIME_GROWTH * len(spec or "")
            nested = nested or "{" in (spec or "")
    return fields, widths, nested


def _format_estimate(meter: Meter, fmt: str, fields: tuple[int, int, bool], values: list[object]) -> int:
    count, widths, dynamic = fields
    meter.charge(scan_cost(fmt))
    largest = max((meter.expanded(value) for value in values), default=0)
    if dynamic:
        # Widths taken from the arguments (`%*d`, `{:{w}}`): count every integer argument.
        widths += sum(abs(value) for value in values if isinstance(value, int))
    return len(fmt) + widths + count * largest


def _printf_values(values: object) -> list[object]:
    if isinstance(values, tuple):
        return list(values)
    return [values]
