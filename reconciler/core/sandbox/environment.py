"""The sandboxed Jinja environment: what a template can reach and how its code is compiled.

`SandboxEnvironment` is Jinja's `ImmutableSandboxedEnvironment` (no `_` attributes, no Python
internals, no mutation of lists and dicts) with, wired in:

* a loader of the in-memory mapping only, and curated globals (`range` bounded by `MAX_RANGE`,
  `dict`, a `namespace` that prints without its contents);
* the filters and tests of `filters`, the operator and method guards of `guards`, the format
  checks of `formats`;
* parse and compile hooks: the lexer refuses integer literals wider than `MAX_INT_BITS` (a
  syntax problem at their line, where Python would raise a bare ValueError for a long decimal
  one), `guards.InsertGuards` runs on every parsed template, and the code generator gives macros,
  blocks and `{% set %}` blocks buffers that charge the text they capture (the output counter of
  `templatesets` cannot see it), also when a module is imported;
* calls: methods of builtins go to `methods.call_builtin`; the few Python callables a template
  can reach (loop helpers, `namespace`, `dict`) are charged for reading their arguments.

The Jinja internals overridden or relied on here (and in `guards`, `filters`) are listed in the
test of the sandbox's Jinja contract, which fails naming the one that changed.

`templatesets` builds one per `TemplateSet`.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from types import BuiltinMethodType, FunctionType, MethodType
from typing import Any, Final

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.environment import Template, TemplateModule
from jinja2.exceptions import SecurityError, TemplateNotFound, TemplateSyntaxError
from jinja2.lexer import TOKEN_INTEGER, Lexer
from jinja2.loaders import BaseLoader
from jinja2.runtime import BlockReference, Context, LoopContext, Macro, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace, concat
from markupsafe import Markup

from reconciler.core.sandbox.budgets import (
    MAX_INT_BITS,
    METER,
    SHARED_HASH_REFUSED,
    BudgetExceeded,
    Meter,
    check_keys,
    guard_iterable,
    materialized,
)
from reconciler.core.sandbox.filters import sandbox_filters, sandbox_tests
from reconciler.core.sandbox.formats import FORMAT_METHODS, check_format_call
from reconciler.core.sandbox.guards import BINARY_GUARDS, InsertGuards
from reconciler.core.sandbox.methods import CLASS_METHODS, Args, call_builtin

MAX_RANGE: Final = 100_000

# -- lexing -----------------------------------------------------------------------------------------


class _Lexer(Lexer):
    """Jinja's lexer, refusing integer literals wider than `MAX_INT_BITS` at their line."""

    def wrap(
        self, stream: Iterable[tuple[int, str, str]], name: str | None = None, filename: str | None = None
    ) -> Iterator[Any]:
        return super().wrap(_bounded_integers(stream, name, filename), name, filename)


def _bounded_integers(
    stream: Iterable[tuple[int, str, str]], name: str | None, filename: str | None
) -> Iterator[tuple[int, str, str]]:
    for lineno, token, value in stream:
        if token == TOKEN_INTEGER and _too_wide(value):
            raise TemplateSyntaxError(f"an integer literal of more than {MAX_INT_BITS} bits", lineno, name, filename)
        yield lineno, token, value


def _too_wide(literal: str) -> bool:
    digits = literal.replace("_", "")
    # A binary literal has a digit per bit; a longer one is too wide in any base (and converting a
    # decimal one of more than 4300 digits raises ValueError).
    return len(digits) > MAX_INT_BITS + 2 or int(digits, 0).bit_length() > MAX_INT_BITS


# -- capturing text ---------------------------------------------------------------------------------


class _CaptureBuffer(list[str]):
    """The buffer of a macro, call block, set block, filter block or recursive loop: charged."""

    __slots__ = ("_meter",)

    def __init__(self, meter: Meter) -> None:
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
    """A template whose imported modules count their text, and cost every render the same.

    Jinja caches the module of an import without context on the template, so its first render
    would pay for building it and later renders would not: a render close to the budget would
    pass or fail depending on what ran before it. Here the module is cached together with what
    building it cost, and every import (the first or a later one) is charged exactly that. A
    module that exports a namespace (the one value a template can change) or an iterator (which
    reading uses up, and which charges the render that made it) is built afresh each time, so one
    render can never see what another did.
    """

    _shared_module: tuple[TemplateModule, int, int] | None = None

    def make_module(
        self,
        vars: dict[str, Any] | None = None,
        shared: bool = False,
        locals: Mapping[str, Any] | None = None,
    ) -> TemplateModule:
        context = self.new_context(vars, shared, locals)
        body = _CaptureBuffer(METER.get())
        body.extend(self.root_render_func(context))
        return TemplateModule(self, context, body)

    def _get_default_module(self, ctx: Context | None = None) -> TemplateModule:
        if ctx is not None:
            missing = ctx.globals_keys - self.globals.keys()
            if missing:
                return self.make_module({key: ctx.parent[key] for key in missing})
        meter = METER.get()
        if self._shared_module is not None:
            module, steps, captured = self._shared_module
            meter.charge(steps)
            meter.capture(captured)
            return module
        steps_before, captured_before = meter.steps_left, meter.captured_left
        module = self.make_module()
        if not any(isinstance(value, Namespace | Iterator) for value in module.__dict__.values()):
            self._shared_module = (module, steps_before - meter.steps_left, captured_before - meter.captured_left)
        return module


def _render_block(meter: Meter, reference: BlockReference) -> str:
    # `self.block()` and `super()` join a block's output into one string outside any buffer.
    buffer = _CaptureBuffer(meter)
    buffer.extend(reference._stack[reference._depth](reference._context))
    text = concat(buffer)
    # As Jinja does: with autoescape on, the block's output was escaped as it was written.
    return Markup(text) if reference._context.eval_ctx.autoescape else text  # noqa: S704


# -- loading ----------------------------------------------------------------------------------------


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


def _always_current() -> bool:
    return True


# -- globals ----------------------------------------------------------------------------------------


def _guarded_range(*args: int) -> range:
    """`range`, refused beyond MAX_RANGE items."""
    numbers = range(*args)
    try:
        length = len(numbers)
    except OverflowError:
        raise BudgetExceeded(f"range with more than {MAX_RANGE} items") from None
    if length > MAX_RANGE:
        raise BudgetExceeded(f"range of {length} items, more than the {MAX_RANGE} allowed")
    return numbers


class _Namespace(Namespace):
    """Jinja's namespace, printed without its contents.

    A namespace is the one thing a template can mutate; if it printed its attributes, a list
    measured as small could grow after the fact by assigning to a namespace it contains.
    """

    # Templates see this class and its module in messages ("'reconciler.core.sandbox._Namespace
    # object' has no attribute 'x'"): the package, as when the sandbox was one module.
    __module__ = "reconciler.core.sandbox"

    def __repr__(self) -> str:
        return "<namespace>"


# -- the environment --------------------------------------------------------------------------------

_DICT_ATTRIBUTES: Final = frozenset(dir(dict))
# Attributes Jinja's immutable sandbox lets through that it should not: a view's `mapping` (a
# read-only proxy of its dict that measures as an opaque object but prints as the whole dict) and
# the one mutating method of sets missing from Jinja's list.
_UNSAFE_ATTRIBUTES: Final[Mapping[type, frozenset[str]]] = {
    type({}.keys()): frozenset({"mapping"}),
    type({}.values()): frozenset({"mapping"}),
    type({}.items()): frozenset({"mapping"}),
    set: frozenset({"intersection_update"}),
}


class SandboxEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox with the guards of `guards`, `filters` and `formats` wired in."""

    intercepted_binops = frozenset(BINARY_GUARDS)
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
        self.filters.update(sandbox_filters())
        self.tests.clear()
        self.tests.update(sandbox_tests())
        self._safe_attributes: dict[tuple[type, str], bool] = {}
        self._lexer = _Lexer(self)

    @property
    def lexer(self) -> Lexer:
        return self._lexer

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        guards = InsertGuards()
        guards.visit(tree)
        line = guards.colliding_literal()
        if line is not None:
            raise TemplateSyntaxError(f"literals: {SHARED_HASH_REFUSED}", line, name, filename)
        tree.set_environment(self)
        return tree

    def _load_template(self, name: str, globals: MutableMapping[str, Any] | None) -> Template:
        meter = METER.get(None)
        if meter is not None:
            meter.charge(1)
        # Compile without the render's meter: the optimizer evaluates filters on constants at
        # compile time, and with a meter present it would fold guards away for later renders.
        return contextvars.Context().run(super()._load_template, name, globals)

    def capture_buffer(self) -> _CaptureBuffer:
        return _CaptureBuffer(METER.get())

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, type):
            # `dict.update(d, ...)`: a method taken from a class takes the object to change as its
            # first argument, past the checks of mutating methods (which look at the object the
            # attribute is read from). Context dicts are shared by every device's render.
            return attr in CLASS_METHODS and super().is_safe_attribute(obj, attr, value)
        # The checks depend on the type and the name only; caching them keeps attribute access
        # as cheap as outside the sandbox.
        key = (type(obj), attr)
        safe = self._safe_attributes.get(key)
        if safe is None:
            safe = self._safe_attributes[key] = attr not in _UNSAFE_ATTRIBUTES.get(type(obj), ()) and (
                super().is_safe_attribute(obj, attr, value))
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
        return BINARY_GUARDS[operator](left, right)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        meter = METER.get()
        meter.steps_left -= 1
        if meter.steps_left < 0:
            meter.charge(0)
        kind = type(obj)
        if kind is Macro or obj is _guarded_range:
            return context.call(obj, *args, **kwargs)
        if kind is BuiltinMethodType:
            return call_builtin(meter, context, obj, args, kwargs)
        if kind is BlockReference:
            return _render_block(meter, obj)
        return self._call_other(meter, context, obj, args, kwargs)

    def _call_other(self, meter: Meter, context: Context, obj: Any, args: Args,
                    kwargs: dict[str, Any]) -> Any:
        if not self.is_safe_callable(obj):
            raise SecurityError(f"{obj!r} is not safely callable")
        kind = type(obj)
        if kind is MethodType and isinstance(obj.__self__, str):
            # Markup (`'x'|safe`) wraps the str methods in Python methods of the same names.
            return call_builtin(meter, context, obj, args, kwargs)
        # `loop.changed(x)` compares x with the last one; others keep or return what they are given.
        meter.charge(sum(map(meter.compare_cost, args)) + sum(map(meter.compare_cost, kwargs.values())))
        if kind is LoopContext and args:
            # `loop(children)` in a recursive loop iterates outside the guarded `for` expression.
            args = (guard_iterable(meter, args[0]), *args[1:])
        elif kind is FunctionType and obj.__name__ in FORMAT_METHODS:
            check_format_call(meter, obj, args, kwargs)
        elif obj is dict and args and not isinstance(args[0], dict):
            # `dict(pairs)`: the pairs' keys are checked before they are hashed into the dict.
            pairs = materialized(meter, args[0])
            check_keys(meter, (pair[0] for pair in pairs if isinstance(pair, list | tuple) and pair), "dict")
            args = (pairs, *args[1:])
        result = context.call(obj, *args, **kwargs)
        if obj is dict:
            meter.expanded(result)
        return result
