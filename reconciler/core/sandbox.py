"""Sandboxed Jinja2 for untrusted router templates, bounded by a deterministic budget.

Where it sits: the rendering step of the core builds one `TemplateSet` per revision from the
template files it was handed (name -> source, the project's template library included) and calls
`render(name, context)` for each router; the text goes on to diffing and planning, and a
`TemplateProblem` goes on as that router's problem, with the template and line to show. `check`,
`undeclared_variables` and `closure` serve validation and change detection without rendering.

Templates arrive in pull requests, so they are hostile until proven otherwise. Three layers keep
a render harmless:

* Jinja's `ImmutableSandboxedEnvironment` (no `_` attributes, no Python internals, no mutation of
  lists and dicts), a curated set of globals, and no loader but the in-memory mapping.
* A step budget instead of a wall clock: loop iterations, calls, includes and bulk work on big
  values cost steps, so a template fails at the same point on every machine and every run.
* Size guards wherever one operation can allocate far more than it reads (`*`, `**`, `%`, `+`,
  `~`, padding and joining filters and methods, list literals that repeat a big value), and a
  bound on text captured by macros and `{% set %}` blocks, which the output counter cannot see.

The meter of the render in progress lives in a context variable, so renders on other threads or
nested renders cannot charge each other. Every failure becomes a `TemplateProblem`.
"""

from __future__ import annotations

import contextvars
import ipaddress
import re
import string
from collections.abc import Callable, Collection, Generator, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from functools import update_wrapper
from itertools import chain, islice
from types import BuiltinMethodType, FunctionType, MethodType, TracebackType
from typing import Any, Final, Literal, TypeAlias, cast

from jinja2 import filters as jinja_filters
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.environment import Template, TemplateModule
from jinja2.exceptions import (
    FilterArgumentError,
    SecurityError,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
)
from jinja2.filters import FILTERS as JINJA_FILTERS
from jinja2.loaders import BaseLoader
from jinja2.meta import find_referenced_templates, find_undeclared_variables
from jinja2.runtime import BlockReference, Context, LoopContext, Macro, StrictUndefined, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.tests import TESTS as JINJA_TESTS
from jinja2.utils import Namespace, _PassArg, concat, pass_environment, pass_eval_context
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

ProblemKind: TypeAlias = Literal["syntax", "render", "budget", "security"]

MAX_RANGE: Final = 100_000
MAX_INT_BITS: Final = 4096
# Text captured by macros, blocks and `{% set %}` blocks is counted on top of the output (a macro's
# text is captured, then output), so its bound is a multiple of the output bound.
CAPTURE_FACTOR: Final = 8
# Bulk work done in C (copying, scanning, converting text) costs one step per this many items.
_BULK: Final = 4
_MAX_JSON_INDENT: Final = 16
# What an object of unknown type is assumed to print as when sizing a container that holds it.
_OPAQUE_SIZE: Final = 16
# Output is pulled from the template generator in batches so the counting stays in C.
_OUTPUT_BATCH: Final = 64
_MAX_MESSAGE: Final = 500


@dataclass(frozen=True, slots=True)
class RenderBudget:
    """How much one render may do: steps (loop iterations, calls, bulk work) and output characters."""

    max_steps: int = 1_000_000
    max_output: int = 1_048_576

    def __post_init__(self) -> None:
        if self.max_steps < 1 or self.max_output < 1:
            raise ValueError(f"a render budget needs positive limits, got {self}")


DEFAULT_BUDGET: Final = RenderBudget()


class TemplateProblem(Exception):
    """A template that cannot be compiled or rendered, with where it went wrong.

    `template` is the template the error happened in (which may be a library file the rendered
    template imports), `line` is 1-based in that template, 0 when there is no position (the
    template itself does not exist, or the output bound was crossed after the last statement).
    """

    template: str
    line: int
    message: str
    kind: ProblemKind

    def __init__(self, template: str, line: int, message: str, kind: ProblemKind) -> None:
        super().__init__(template, line, message, kind)
        self.template = template
        self.line = line
        self.message = message
        self.kind = kind

    def __str__(self) -> str:
        where = f"{self.template}:{self.line}" if self.line else self.template
        return f"{where}: {self.message} ({self.kind})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TemplateProblem):
            return NotImplemented
        return self.args == other.args

    def __hash__(self) -> int:
        return hash(self.args)


class _BudgetExceeded(Exception):
    """A render ran out of budget or was refused an oversized operation (kind "budget")."""


def _too_large(what: str, size: int, limit: int) -> _BudgetExceeded:
    return _BudgetExceeded(f"{what} would be {size} characters long, more than the {limit} allowed")


# -- the meter --------------------------------------------------------------------------------------

_VIEW_TYPES: Final = frozenset({type({}.keys()), type({}.values()), type({}.items())})
_ITEMS_VIEW: Final[type] = type({}.items())
_CONTAINERS: Final = (list, tuple, dict, set, frozenset)
_SIZED_ITERABLES: Final = frozenset({list, tuple, dict, str, range, set, frozenset, *_VIEW_TYPES})
_TEXT: Final = (str, bytes, bytearray)
_SEQUENCES: Final = (str, bytes, bytearray, list, tuple)
_SCANNABLE: Final = (str, bytes, bytearray, list, tuple, dict, set, frozenset)


class _Meter:
    """What one render may still do. Counters count down; crossing zero raises `_BudgetExceeded`.

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
            raise _BudgetExceeded(f"render budget exceeded: more than {self.max_steps} steps")

    def capture(self, chars: int) -> None:
        self.captured_left -= chars
        if self.captured_left < 0:
            limit = self.max_output * CAPTURE_FACTOR
            raise _BudgetExceeded(
                f"text built by macros, blocks and set/filter blocks larger than {limit} characters"
            )

    def bounded(self, what: str, size: int) -> None:
        """Refuse an operation whose result would exceed the output bound; charge for building it."""
        if size > self.max_output:
            raise _too_large(what, size, self.max_output)
        self.charge(size >> _BULK)

    def expanded(self, value: object) -> int:
        """About how many characters `str(value)` would have, without building it."""
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
            total += self.expanded(child) + 2
            if total > self.max_output:
                raise _BudgetExceeded(f"a value that would be more than {self.max_output} characters as text")
        if remember:
            self.remember(value, length, total)
        return total


def _children(value: Iterable[object]) -> Iterable[object]:
    if isinstance(value, dict):
        return chain(value.keys(), value.values())
    if type(value) is _ITEMS_VIEW:
        return chain.from_iterable(value)  # type: ignore[arg-type]
    return value


_METER: contextvars.ContextVar[_Meter] = contextvars.ContextVar("reconciler_render_meter")


def _scan_cost(value: object) -> int:
    """Steps for work done in C over `value` once (copy, compare, search)."""
    if isinstance(value, _SCANNABLE):
        return 1 + (len(value) >> _BULK)
    return 1


def _item_cost(value: object) -> int:
    """Steps for work done in Python per item of `value` (most filters)."""
    if isinstance(value, _TEXT):
        return 1 + (len(value) >> _BULK)
    if type(value) in _SIZED_ITERABLES:
        return 1 + len(value)  # type: ignore[arg-type]
    return 1


def _int_argument(value: object) -> int:
    return value if isinstance(value, int) else 0


# -- guards the parse step inserts into every template ---------------------------------------------

_LOOP_GUARD: Final = "sandbox:loop"
_TEXT_GUARD: Final = "sandbox:text"
_SCAN_GUARD: Final = "sandbox:scan"
_BUILT_GUARD: Final = "sandbox:built"


def _guard_iterable(meter: _Meter, iterable: Any) -> Any:
    # A sized builtin is charged up front and iterated untouched: same cost, no per-item overhead,
    # and `loop.length` keeps using `len`.
    if type(iterable) in _SIZED_ITERABLES:
        meter.charge(len(iterable))
        return iterable
    return _charge_per_item(meter, iterable)


def _charge_per_item(meter: _Meter, iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        meter.steps_left -= 1
        if meter.steps_left < 0:
            meter.charge(0)
        yield item


def _loop_guard(iterable: Any) -> Any:
    return _guard_iterable(_METER.get(), iterable)


def _text_guard(text: str) -> str:
    _METER.get().bounded("a concatenation (~)", len(text))
    return text


def _scan_guard(value: Any) -> Any:
    _METER.get().charge(_scan_cost(value))
    return value


def _built_guard(value: Any) -> Any:
    _METER.get().expanded(value)
    return value


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


class _InsertGuards(NodeTransformer):
    """Wraps loop iterables, `~`, compared values, slices and built containers in guard filters.

    The guard names contain a colon, so a template cannot name them itself.
    """

    def visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> Any:
        self.generic_visit(node)
        return _with_guard(node)


class _CaptureBuffer(list[str]):
    """The buffer of a macro, call block, set block, filter block or recursive loop: charged."""

    __slots__ = ("_meter",)

    def __init__(self, meter: _Meter) -> None:
        super().__init__()
        self._meter = meter

    def append(self, piece: str, /) -> None:
        self._meter.capture(len(piece))
        super().append(piece)

    def extend(self, pieces: Iterable[str], /) -> None:
        if type(pieces) is tuple:
            self._meter.capture(sum(map(len, pieces)))
            super().extend(pieces)
            return
        for piece in pieces:
            self.append(piece)


class _CapturingCodeGenerator(CodeGenerator):
    """Compiles templates whose buffers are `_CaptureBuffer`s instead of plain lists."""

    def buffer(self, frame: Frame) -> None:
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.capture_buffer()")


class _SandboxTemplate(Template):
    """A template whose imported modules count their text and are built afresh for each import.

    Jinja caches the module of an import without context on the template. Its first render would
    then pay for building it and later renders would not, and a render close to the budget would
    pass or fail depending on what ran before it in the same `TemplateSet`.
    """

    def make_module(
        self,
        vars: dict[str, Any] | None = None,
        shared: bool = False,
        locals: Mapping[str, Any] | None = None,
    ) -> TemplateModule:
        context = self.new_context(vars, shared, locals)
        body = _CaptureBuffer(_METER.get())
        body.extend(self.root_render_func(context))
        return TemplateModule(self, context, body)

    def _get_default_module(self, ctx: Context | None = None) -> TemplateModule:
        if ctx is not None:
            missing = ctx.globals_keys - self.globals.keys()
            if missing:
                return self.make_module({key: ctx.parent[key] for key in missing})
        return self.make_module()


def _render_block(meter: _Meter, reference: BlockReference) -> str:
    # `self.block()` and `super()` join a block's output into one string outside any buffer.
    buffer = _CaptureBuffer(meter)
    buffer.extend(reference._stack[reference._depth](reference._context))
    text = concat(buffer)
    # As Jinja does: with autoescape on, the block's output was escaped as it was written.
    return Markup(text) if reference._context.eval_ctx.autoescape else text  # noqa: S704


class _MappingLoader(BaseLoader):
    """Templates by exact name from the in-memory mapping; nothing else exists."""

    def __init__(self, sources: Mapping[str, str]) -> None:
        self._sources = sources

    def get_source(self, environment: Any, template: str) -> tuple[str, str, Callable[[], bool]]:
        source = self._sources.get(template) if isinstance(template, str) else None
        if source is None:
            raise TemplateNotFound(template)
        # The filename is the name, so traceback frames of this template carry its name.
        return source, template, _always_current

    def list_templates(self) -> list[str]:
        return sorted(self._sources)


def _always_current() -> bool:
    return True


# -- globals ----------------------------------------------------------------------------------------


def _guarded_range(*args: int) -> range:
    """`range`, refused beyond MAX_RANGE items."""
    numbers = range(*args)
    try:
        length = len(numbers)
    except OverflowError:
        raise _BudgetExceeded(f"range with more than {MAX_RANGE} items") from None
    if length > MAX_RANGE:
        raise _BudgetExceeded(f"range of {length} items, more than the {MAX_RANGE} allowed")
    return numbers


class _Namespace(Namespace):
    """Jinja's namespace, printed without its contents.

    A namespace is the one thing a template can mutate; if it printed its attributes, a list
    measured as small could grow after the fact by assigning to a namespace it contains.
    """

    def __repr__(self) -> str:
        return "<namespace>"


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
        return ipaddress.ip_interface(value)
    except ValueError as error:
        raise FilterArgumentError(f"{filter_name}: {error}") from None


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


# -- sizing formatted text --------------------------------------------------------------------------

# The characters that may follow `%` (and an optional `(key)`) before the conversion letter. One
# character class, so matching is linear on any input.
_PRINTF_SPEC: Final = re.compile(r"[-+ #0-9.*hlL]*")
_DIGITS: Final = re.compile(r"\d+")
_STR_FORMATTER: Final = string.Formatter()


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
            nested = nested or "{" in (spec or "")
    return fields, widths, nested


def _format_estimate(meter: _Meter, fmt: str, fields: tuple[int, int, bool], values: list[object]) -> int:
    count, widths, dynamic = fields
    meter.charge(_scan_cost(fmt))
    largest = max((meter.expanded(value) for value in values), default=0)
    if dynamic:
        # Widths taken from the arguments (`%*d`, `{:{w}}`): count every integer argument.
        widths += sum(abs(value) for value in values if isinstance(value, int))
    return len(fmt) + widths + count * largest


def _printf_values(values: object) -> list[object]:
    if isinstance(values, tuple):
        return list(values)
    return [values]


def _check_printf(meter: _Meter, fmt: str | bytes, values: object) -> None:
    text = fmt if isinstance(fmt, str) else fmt.decode("latin-1")
    estimate = _format_estimate(meter, text, _printf_fields(text), _printf_values(values))
    meter.bounded("formatting with %", estimate)


# -- guarded jinja filters --------------------------------------------------------------------------


def _width(meter: _Meter, what: str, width: object) -> None:
    if isinstance(width, int) and width > meter.max_output:
        raise _too_large(what, width, meter.max_output)


def _center(value: Any, width: int = 80) -> str:
    _width(_METER.get(), "center", width)
    return jinja_filters.do_center(value, width)


def _indent(s: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    meter = _METER.get()
    if isinstance(s, str):
        indention = len(width) if isinstance(width, str) else _int_argument(width)
        meter.bounded("indent", len(s) + (s.count("\n") + 2) * indention)
    return jinja_filters.do_indent(s, width, first, blank)


@pass_environment
def _truncate(env: Any, s: Any, length: int = 255, killwords: bool = False, end: str = "...",
              leeway: int | None = None) -> str:
    meter = _METER.get()
    _width(meter, "truncate", length)
    _width(meter, "truncate", leeway)
    return jinja_filters.do_truncate(env, s, length, killwords, end, leeway)


@pass_environment
def _wordwrap(env: Any, s: Any, width: int = 79, break_long_words: bool = True,
              wrapstring: str | None = None, break_on_hyphens: bool = True) -> str:
    meter = _METER.get()
    _width(meter, "wordwrap", width)
    if isinstance(s, str) and isinstance(width, int) and width > 0:
        # Lines: at most one per word (words are space separated), plus the breaks of long words.
        lines = len(s) // 2 + len(s) // width + s.count("\n") + 1
        separator = len(wrapstring) if isinstance(wrapstring, str) else 1
        meter.bounded("wordwrap", len(s) + lines * separator)
    return jinja_filters.do_wordwrap(env, s, width, break_long_words, wrapstring, break_on_hyphens)


def _format(value: Any, *args: Any, **kwargs: Any) -> str:
    if isinstance(value, str):
        _check_printf(_METER.get(), value, tuple(kwargs.values()) or args)
    return jinja_filters.do_format(value, *args, **kwargs)


def _materialized(meter: _Meter, value: Any) -> list[Any] | tuple[Any, ...]:
    if isinstance(value, list | tuple):
        return value
    return list(_guard_iterable(meter, value))


def _joined_size(meter: _Meter, items: list[Any] | tuple[Any, ...], separator: int) -> int:
    if all(type(item) is str for item in items):
        size = sum(map(len, items))
    else:
        size = sum(meter.expanded(item) for item in items)
    return size + max(len(items) - 1, 0) * separator


@pass_eval_context
def _join(eval_ctx: Any, value: Any, d: Any = "", attribute: str | int | None = None) -> str:
    meter = _METER.get()
    items = _materialized(meter, value)
    if attribute is not None:
        items = list(map(jinja_filters.make_attrgetter(eval_ctx.environment, attribute), items))
    meter.bounded("join", _joined_size(meter, items, meter.expanded(d)))
    return jinja_filters.sync_do_join(eval_ctx, items, d)


@pass_eval_context
def _replace(eval_ctx: Any, s: Any, old: Any, new: Any, count: int | None = None) -> str:
    meter = _METER.get()
    text, old_text, new_text = str(s), str(old), str(new)
    meter.charge(_scan_cost(text))
    hits = text.count(old_text)
    if count is not None and count >= 0:
        hits = min(hits, count)
    meter.bounded("replace", len(text) + hits * (len(new_text) - len(old_text)))
    return jinja_filters.do_replace(eval_ctx, s, old, new, count)


def _batch(value: Any, linecount: int, fill_with: Any = None) -> Iterator[list[Any]]:
    meter = _METER.get()
    _width(meter, "batch", linecount)
    if fill_with is not None:
        meter.bounded("batch filling", _int_argument(linecount) * meter.expanded(fill_with))
    return jinja_filters.do_batch(value, linecount, fill_with)


def _slice(value: Any, slices: int, fill_with: Any = None) -> Iterator[list[Any]]:
    meter = _METER.get()
    _width(meter, "slice", slices)
    meter.charge(_int_argument(slices))
    if fill_with is not None:
        meter.bounded("slice filling", _int_argument(slices) * meter.expanded(fill_with))
    return jinja_filters.sync_do_slice(value, slices, fill_with)


@pass_environment
def _sum(env: Any, iterable: Any, attribute: str | int | None = None, start: Any = 0) -> Any:
    # Summing lists or tuples copies the running total at every item: quadratic.
    if not isinstance(start, int | float):
        raise _BudgetExceeded(f"sum: start must be a number, got {type(start).__name__}")
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
    meter = _METER.get()
    size = meter.expanded(value)
    if indent is not None:
        if not isinstance(indent, int) or not 0 <= indent <= _MAX_JSON_INDENT:
            raise _BudgetExceeded(f"tojson: indent must be an integer 0..{_MAX_JSON_INDENT}")
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
    "join": _join,
    "replace": _replace,
    "slice": _slice,
    "sum": _sum,
    "tojson": _tojson,
    "truncate": _truncate,
    "wordwrap": _wordwrap,
}
# O(1) on any input and never larger than it: not worth a wrapper.
_FREE_FILTERS: Final = frozenset({"abs", "attr", "count", "d", "default", "first", "length", "round"})
# `random` is not deterministic; `pprint` indents by nesting depth (an amplifier) and is for
# debugging; `urlize` is for HTML and its e-mail pattern backtracks quadratically on crafted words.
_REMOVED_FILTERS: Final = frozenset({"random", "pprint", "urlize"})


def _charging(func: Callable[..., Any], check_result: bool = True) -> Callable[..., Any]:
    """Wraps a filter or test: it costs steps for the size of its input; its text result is bounded."""
    position = 1 if _PassArg.from_obj(func) is not None else 0

    def charged(*args: Any, **kwargs: Any) -> Any:
        meter = _METER.get()
        meter.charge(_item_cost(args[position]))
        result = func(*args, **kwargs)
        if check_result and isinstance(result, str) and len(result) > meter.max_output:
            raise _too_large(f"the result of {func.__name__}", len(result), meter.max_output)
        return result

    return update_wrapper(charged, func)


def _charging_argument(func: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps a test that scans its argument (`in`, comparisons)."""

    def charged(value: Any, other: Any) -> Any:
        _METER.get().charge(_scan_cost(other))
        return func(value, other)

    return update_wrapper(charged, func)


def _sandbox_filters() -> dict[str, Callable[..., Any]]:
    table: dict[str, Callable[..., Any]] = {}
    for name, func in JINJA_FILTERS.items():
        if name in _REMOVED_FILTERS:
            continue
        chosen = _GUARDED_FILTERS.get(name, func)
        table[name] = chosen if name in _FREE_FILTERS else _charging(chosen)
    for name, func in DOMAIN_FILTERS.items():
        table[name] = _charging(func)
    table[_LOOP_GUARD] = _loop_guard
    table[_TEXT_GUARD] = _text_guard
    table[_SCAN_GUARD] = _scan_guard
    table[_BUILT_GUARD] = _built_guard
    return table


_SCANNING_TESTS: Final = frozenset(
    {"in", "==", "eq", "equalto", "!=", "ne", ">", "gt", "greaterthan", ">=", "ge",
     "<", "lt", "lessthan", "<=", "le"}
)


def _sandbox_tests() -> dict[str, Callable[..., Any]]:
    table = dict(cast("Mapping[str, Callable[..., Any]]", JINJA_TESTS))
    for name in _SCANNING_TESTS:
        table[name] = _charging_argument(table[name])
    for name in ("lower", "upper"):
        table[name] = _charging(table[name], check_result=False)
    return table


# -- guarded methods --------------------------------------------------------------------------------

_Args: TypeAlias = tuple[Any, ...]


def _pad_guard(meter: _Meter, receiver: object, args: _Args, kwargs: dict[str, Any]) -> _Args:
    if isinstance(receiver, _TEXT) and args:
        _width(meter, "padding", args[0])
        meter.charge(_int_argument(args[0]) >> _BULK)
    return args


def _expandtabs_guard(meter: _Meter, receiver: object, args: _Args, kwargs: dict[str, Any]) -> _Args:
    if isinstance(receiver, str | bytes):
        tabsize = _int_argument(args[0] if args else kwargs.get("tabsize", 8))
        tabs = receiver.count("\t" if isinstance(receiver, str) else b"\t")  # type: ignore[arg-type]
        meter.bounded("expandtabs", len(receiver) + tabs * max(tabsize, 0))
    return args


def _same_text_type(receiver: str | bytes, *values: object) -> bool:
    kind = str if isinstance(receiver, str) else bytes
    return all(isinstance(value, kind) for value in values)


def _replace_guard(meter: _Meter, receiver: object, args: _Args, kwargs: dict[str, Any]) -> _Args:
    if isinstance(receiver, str | bytes) and len(args) >= 2 and _same_text_type(receiver, *args[:2]):
        old, new = args[0], args[1]
        hits = receiver.count(old)
        limit = args[2] if len(args) > 2 else kwargs.get("count", -1)
        if isinstance(limit, int) and limit >= 0:
            hits = min(hits, limit)
        meter.bounded("replace", len(receiver) + hits * (len(new) - len(old)))
    return args


def _join_guard(meter: _Meter, receiver: object, args: _Args, kwargs: dict[str, Any]) -> _Args:
    if not isinstance(receiver, _TEXT) or not args:
        return args
    items = _materialized(meter, args[0])
    meter.bounded("join", _joined_size(meter, items, len(receiver)))
    return (items, *args[1:])


def _translate_guard(meter: _Meter, receiver: object, args: _Args, kwargs: dict[str, Any]) -> _Args:
    if isinstance(receiver, str) and args:
        table = args[0]
        values: Iterable[object] = ()
        if isinstance(table, dict):
            values = table.values()
        elif isinstance(table, list | tuple):
            values = table
        meter.charge(_scan_cost(table))
        longest = max((len(value) for value in values if isinstance(value, str)), default=1)
        meter.bounded("translate", len(receiver) * longest)
    return args


def _to_bytes_guard(meter: _Meter, receiver: object, args: _Args, kwargs: dict[str, Any]) -> _Args:
    _width(meter, "to_bytes", args[0] if args else kwargs.get("length", 1))
    return args


_MethodGuard: TypeAlias = Callable[[_Meter, object, _Args, dict[str, Any]], _Args]
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
_FORMAT_METHODS: Final = frozenset({"format", "format_map"})


def _check_format_call(meter: _Meter, func: Any, args: _Args, kwargs: dict[str, Any]) -> None:
    # The sandbox hands out `str.format` as a wrapper function; the format string is on the original.
    fmt = getattr(getattr(func, "__wrapped__", None), "__self__", None)
    if not isinstance(fmt, str):
        return
    if func.__name__ == "format_map":
        mapping = args[0] if args else {}
        values = list(mapping.values()) if isinstance(mapping, dict) else [mapping]
    else:
        values = [*args, *(value for key, value in kwargs.items() if not key.startswith("_"))]
    meter.bounded("str.format", _format_estimate(meter, fmt, _str_format_fields(fmt), values))


# -- guarded operators ------------------------------------------------------------------------------


def _add(left: Any, right: Any) -> Any:
    if isinstance(left, _TEXT) and isinstance(right, _TEXT):
        _METER.get().bounded("joining two strings with +", len(left) + len(right))
    elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return _concatenate(_METER.get(), left, right)
    return left + right


def _concatenate(meter: _Meter, left: Any, right: Any) -> Any:
    size = meter.expanded(left) + meter.expanded(right)
    meter.bounded("joining two sequences with +", max(size, len(left) + len(right)))
    result = left + right
    meter.remember(result, len(result), size)
    return result


def _repeat(sequence: Any, count: int) -> Any:
    if count <= 0 or not sequence:
        return sequence * count
    meter = _METER.get()
    if isinstance(sequence, _TEXT):
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
            raise _BudgetExceeded(f"a product of more than {MAX_INT_BITS} bits")
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
        raise _BudgetExceeded(f"a power of more than {MAX_INT_BITS} bits")
    return base**exponent


def _modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str | bytes):
        _check_printf(_METER.get(), left, right)
    return left % right


_BINARY_GUARDS: Final[Mapping[str, Callable[[Any, Any], Any]]] = {
    "+": _add,
    "*": _multiply,
    "**": _power,
    "%": _modulo,
}


# -- the environment --------------------------------------------------------------------------------

_DICT_ATTRIBUTES: Final = frozenset(dir(dict))


class _SandboxEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox with the guards above wired in."""

    intercepted_binops = frozenset(_BINARY_GUARDS)
    code_generator_class = _CapturingCodeGenerator
    template_class = _SandboxTemplate

    def __init__(self, sources: Mapping[str, str]) -> None:
        super().__init__(
            loader=_MappingLoader(sources),
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,
            cache_size=-1,  # unbounded: each template of the set is compiled once
        )
        self.globals.clear()
        self.globals.update(range=_guarded_range, dict=dict, namespace=_Namespace)
        self.filters.clear()
        self.filters.update(_sandbox_filters())
        self.tests.clear()
        self.tests.update(_sandbox_tests())
        self._safe_attributes: dict[tuple[type, str], bool] = {}

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        _InsertGuards().visit(tree)
        tree.set_environment(self)
        return tree

    def _load_template(self, name: str, globals: MutableMapping[str, Any] | None) -> Template:
        meter = _METER.get(None)
        if meter is not None:
            meter.charge(1)
        # Compile without the render's meter: the optimizer evaluates filters on constants at
        # compile time, and with a meter present it would fold guards away for later renders.
        return contextvars.Context().run(super()._load_template, name, globals)

    def capture_buffer(self) -> _CaptureBuffer:
        return _CaptureBuffer(_METER.get())

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        # The checks depend on the type and the name only; caching them keeps attribute access
        # as cheap as outside the sandbox.
        key = (type(obj), attr)
        safe = self._safe_attributes.get(key)
        if safe is None:
            safe = self._safe_attributes[key] = super().is_safe_attribute(obj, attr, value)
        return safe

    def getattr(self, obj: Any, attribute: str) -> Any:
        # `router.name` on a dict: Jinja would try the attribute first and pay for an
        # AttributeError; a plain dict has no attribute of that name, so go straight to the item.
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        return _BINARY_GUARDS[operator](left, right)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        meter = _METER.get()
        meter.steps_left -= 1
        if meter.steps_left < 0:
            meter.charge(0)
        kind = type(obj)
        if kind is Macro or obj is _guarded_range:
            return context.call(obj, *args, **kwargs)
        if kind is BuiltinMethodType:
            return _call_builtin(meter, context, obj, args, kwargs)
        if kind is BlockReference:
            return _render_block(meter, obj)
        return self._call_other(meter, context, obj, args, kwargs)

    def _call_other(self, meter: _Meter, context: Context, obj: Any, args: _Args,
                    kwargs: dict[str, Any]) -> Any:
        if not self.is_safe_callable(obj):
            raise SecurityError(f"{obj!r} is not safely callable")
        kind = type(obj)
        if kind is MethodType and isinstance(obj.__self__, str):
            # Markup (`'x'|safe`) wraps the str methods in Python methods of the same names.
            return _call_builtin(meter, context, obj, args, kwargs)
        if kind is LoopContext and args:
            # `loop(children)` in a recursive loop iterates outside the guarded `for` expression.
            args = (_guard_iterable(meter, args[0]), *args[1:])
        elif kind is FunctionType and obj.__name__ in _FORMAT_METHODS:
            _check_format_call(meter, obj, args, kwargs)
        result = context.call(obj, *args, **kwargs)
        if obj is dict:
            meter.expanded(result)
        return result


def _call_builtin(meter: _Meter, context: Context, method: Any, args: _Args, kwargs: dict[str, Any]) -> Any:
    receiver = method.__self__
    meter.charge(_scan_cost(receiver) + sum(map(_scan_cost, args)))
    guard = _METHOD_GUARDS.get(method.__name__)
    if guard is not None:
        args = guard(meter, receiver, args, kwargs)
    result = context.call(method, *args, **kwargs)
    if method.__name__ == "fromkeys":
        meter.expanded(result)  # one value under every key
    return result


# -- errors -----------------------------------------------------------------------------------------


def _position(error: BaseException, names: Mapping[str, str]) -> tuple[str, int] | None:
    """The innermost template frame of the (Jinja-rewritten) traceback: template name and line."""
    found = None
    frames: TracebackType | None = error.__traceback__
    while frames is not None:
        filename = frames.tb_frame.f_code.co_filename
        if filename in names:
            found = (filename, frames.tb_lineno)
        frames = frames.tb_next
    return found


def _kind_and_message(error: Exception) -> tuple[ProblemKind, str]:
    if isinstance(error, _BudgetExceeded):
        return "budget", str(error)
    if isinstance(error, SecurityError):
        return "security", str(error)
    if isinstance(error, RecursionError):
        return "render", "recursion too deep: a macro, block or include calls itself without end"
    if type(error) is TemplateNotFound:
        return "render", f"template {error.name!r} not found"
    if isinstance(error, TemplateError):
        return "render", str(error)
    return "render", f"{type(error).__name__}: {error}"


def _shortened(message: str) -> str:
    # Messages can quote template values (a dict key, a string); they go into logs and PR comments.
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 1] + "…"


def _syntax_problem(error: TemplateSyntaxError, name: str) -> TemplateProblem:
    message = _shortened(error.message or str(error))
    return TemplateProblem(error.name or name, error.lineno, message, "syntax")


# -- the public face --------------------------------------------------------------------------------


class TemplateSet:
    """Compiled templates of one revision (plus the project's library), rendered in the sandbox."""

    def __init__(self, sources: Mapping[str, str], budget: RenderBudget = DEFAULT_BUDGET) -> None:
        self._sources: dict[str, str] = dict(sources)
        self._budget = budget
        self._env = _SandboxEnvironment(self._sources)
        self._trees: dict[str, nodes.Template] = {}

    def check(self, name: str) -> TemplateProblem | None:
        """Compile `name` and the templates it names literally; the first syntax problem, or None."""
        if name not in self._sources:
            return TemplateProblem(name, 0, f"template {name!r} not found", "render")
        others = sorted(self._literal_closure(name)[0] - {name})
        for each in (name, *others):
            if each not in self._sources:
                continue  # a render reports the missing template at the line that names it
            try:
                self._env.get_template(each)
            except TemplateSyntaxError as error:
                return _syntax_problem(error, each)
        return None

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        """Render `name` with `context` under a fresh budget; raises `TemplateProblem`."""
        meter = _Meter(self._budget)
        token = _METER.set(meter)
        try:
            return self._render(name, context, meter)
        except TemplateSyntaxError as error:
            raise _syntax_problem(error, name) from error
        except Exception as error:
            kind, message = _kind_and_message(error)
            template, line = _position(error, self._sources) or (name, 0)
            raise TemplateProblem(template, line, _shortened(message), kind) from error
        finally:
            _METER.reset(token)

    def undeclared_variables(self, name: str) -> frozenset[str]:
        """Names `name` reads from its context (not those of templates it includes)."""
        found = find_undeclared_variables(self._tree(name))
        return frozenset(found - self._env.globals.keys())

    def closure(self, name: str) -> frozenset[str]:
        """`name` and every template it imports, includes or extends, transitively.

        A reference that is not a literal (or a template that does not parse, whose references
        are unknown) could be any template: the closure is then the whole set.
        """
        names, complete = self._literal_closure(name)
        return names if complete else names | frozenset(self._sources)

    def _render(self, name: str, context: Mapping[str, Any], meter: _Meter) -> str:
        template = self._env.get_template(name)
        generator = cast("Generator[str, None, None]", template.generate(context))
        parts: list[str] = []
        size = 0
        while batch := list(islice(generator, _OUTPUT_BATCH)):
            size += sum(map(len, batch))
            if size > meter.max_output:
                error = _BudgetExceeded(f"output larger than {meter.max_output} characters")
                # Thrown into the template so the traceback points at the line that wrote it.
                generator.throw(error)
                raise error
            parts += batch
        return concat(parts)

    def _tree(self, name: str) -> nodes.Template:
        tree = self._trees.get(name)
        if tree is None:
            source = self._sources.get(name)
            if source is None:
                raise TemplateProblem(name, 0, f"template {name!r} not found", "render")
            try:
                tree = self._env.parse(source, name, name)
            except TemplateSyntaxError as error:
                raise _syntax_problem(error, name) from error
            self._trees[name] = tree
        return tree

    def _references(self, name: str) -> frozenset[str] | None:
        """Templates `name` names literally; None when one reference is not literal or unknown."""
        if name not in self._sources:
            return frozenset()
        try:
            found = list(find_referenced_templates(self._tree(name)))
        except TemplateProblem:
            return None
        if any(each is None for each in found):
            return None
        return frozenset(each for each in found if each is not None)

    def _literal_closure(self, name: str) -> tuple[frozenset[str], bool]:
        seen = {name}
        pending = [name]
        complete = True
        while pending:
            references = self._references(pending.pop())
            if references is None:
                complete = False
                continue
            for reference in references - seen:
                seen.add(reference)
                pending.append(reference)
        return frozenset(seen), complete
