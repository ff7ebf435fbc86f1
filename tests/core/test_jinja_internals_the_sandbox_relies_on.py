"""The Jinja internals the sandbox overrides or relies on still exist with the signatures it was written for.

`reconciler.core.sandbox` subclasses Jinja's sandboxed environment, code generator, template and
lexer, and wraps a dozen of its filters, so a Jinja release that renames a method or reorders
its parameters could silently switch a guard off. pyproject.toml bounds Jinja2 to the minor
version this list was checked against; when that bound moves, these tests say what changed.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
from typing import Any

import pytest
from jinja2 import nodes
from jinja2.compiler import Frame
from jinja2.environment import Environment
from jinja2.filters import FILTERS
from jinja2.lexer import TOKEN_INTEGER
from jinja2.nodes import EvalContext
from jinja2.runtime import BlockReference
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment
from jinja2.tests import TESTS

from reconciler.core.sandbox import TemplateSet

TESTED_MINOR = (3, 1)

# (module, qualified name, the parameters it must take): methods the sandbox overrides (their
# signature must match for the override to be called as intended) and functions it calls.
SIGNATURES: list[tuple[str, str, tuple[str, ...]]] = [
    # overridden in environment.SandboxEnvironment
    ("jinja2.sandbox", "SandboxedEnvironment._parse", ("self", "source", "name", "filename")),
    ("jinja2.environment", "Environment._load_template", ("self", "name", "globals")),
    ("jinja2.sandbox", "SandboxedEnvironment.is_safe_attribute", ("self", "obj", "attr", "value")),
    ("jinja2.sandbox", "SandboxedEnvironment.is_safe_callable", ("self", "obj")),
    ("jinja2.sandbox", "SandboxedEnvironment.getattr", ("self", "obj", "attribute")),
    ("jinja2.sandbox", "SandboxedEnvironment.call_binop", ("self", "context", "operator", "left", "right")),
    ("jinja2.sandbox", "SandboxedEnvironment.call",
     ("_SandboxedEnvironment__self", "_SandboxedEnvironment__context", "_SandboxedEnvironment__obj", "args", "kwargs")),
    ("jinja2.sandbox", "SandboxedEnvironment.wrap_str_format", ("self", "value")),
    # overridden in environment: the code generator, the template, the lexer, the loader
    ("jinja2.compiler", "CodeGenerator.buffer", ("self", "frame")),
    ("jinja2.compiler", "CodeGenerator.temporary_identifier", ("self",)),
    ("jinja2.compiler", "CodeGenerator.writeline", ("self", "x", "node", "extra")),
    ("jinja2.environment", "Template.make_module", ("self", "vars", "shared", "locals")),
    ("jinja2.environment", "Template._get_default_module", ("self", "ctx")),
    ("jinja2.environment", "Template.new_context", ("self", "vars", "shared", "locals")),
    ("jinja2.environment", "TemplateModule.__init__", ("self", "template", "context", "body_stream")),
    ("jinja2.lexer", "Lexer.__init__", ("self", "environment")),
    ("jinja2.lexer", "Lexer.wrap", ("self", "stream", "name", "filename")),
    ("jinja2.loaders", "BaseLoader.get_source", ("self", "environment", "template")),
    ("jinja2.runtime", "Context.call", ("_Context__self", "_Context__obj", "args", "kwargs")),
    ("jinja2.runtime", "BlockReference.__init__", ("self", "name", "context", "stack", "depth")),
    ("jinja2.visitor", "NodeTransformer.generic_visit", ("self", "node", "args", "kwargs")),
    ("jinja2.meta", "find_referenced_templates", ("ast",)),
    ("jinja2.meta", "find_undeclared_variables", ("ast",)),
    ("jinja2.utils", "_PassArg.from_obj", ("obj",)),
    # filters wrapped in filters (called with these arguments, in this order)
    ("jinja2.filters", "do_center", ("value", "width")),
    ("jinja2.filters", "do_indent", ("s", "width", "first", "blank")),
    ("jinja2.filters", "do_truncate", ("env", "s", "length", "killwords", "end", "leeway")),
    ("jinja2.filters", "do_wordwrap",
     ("environment", "s", "width", "break_long_words", "wrapstring", "break_on_hyphens")),
    ("jinja2.filters", "do_format", ("value", "args", "kwargs")),
    ("jinja2.filters", "sync_do_join", ("eval_ctx", "value", "d", "attribute")),
    ("jinja2.filters", "do_replace", ("eval_ctx", "s", "old", "new", "count")),
    ("jinja2.filters", "do_batch", ("value", "linecount", "fill_with")),
    ("jinja2.filters", "sync_do_slice", ("value", "slices", "fill_with")),
    ("jinja2.filters", "sync_do_sum", ("environment", "iterable", "attribute", "start")),
    ("jinja2.filters", "do_tojson", ("eval_ctx", "value", "indent")),
    ("jinja2.filters", "do_int", ("value", "default", "base")),
    ("jinja2.filters", "do_round", ("value", "precision", "method")),
    ("jinja2.filters", "make_attrgetter", ("environment", "attribute", "postprocess", "default")),
]

# Nodes `guards.InsertGuards` rewrites, with the fields it reads or replaces.
NODE_FIELDS: list[tuple[str, tuple[str, ...]]] = [
    ("For", ("target", "iter", "body", "else_", "test", "recursive")),
    ("Output", ("nodes",)),
    ("Concat", ("nodes",)),
    ("Compare", ("expr", "ops")),
    ("Operand", ("op", "expr")),
    ("Getitem", ("node", "arg", "ctx")),
    ("Filter", ("node", "name", "args", "kwargs", "dyn_args", "dyn_kwargs")),
    ("Test", ("node", "name", "args", "kwargs", "dyn_args", "dyn_kwargs")),
    ("Call", ("node", "args", "kwargs", "dyn_args", "dyn_kwargs")),
    ("List", ("items",)),
    ("Tuple", ("items", "ctx")),
    ("Dict", ("items",)),
    ("Pair", ("key", "value")),
    ("Not", ("node",)),
]

# Filters and tests the sandbox replaces, classifies or charges by name.
FILTER_NAMES = (
    "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "first", "format",
    "groupby", "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min", "pprint",
    "random", "reject", "rejectattr", "replace", "reverse", "round", "select", "selectattr", "slice", "sort",
    "striptags", "sum", "title", "tojson", "truncate", "unique", "upper", "urlencode", "urlize", "wordcount",
    "wordwrap", "xmlattr",
)
TEST_NAMES = (
    "in", "==", "eq", "equalto", "!=", "ne", ">", "gt", "greaterthan", ">=", "ge", "<", "lt", "lessthan", "<=", "le",
    "lower", "upper", "divisibleby",
)


def resolve(module: str, qualname: str) -> Any:
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
        assert found is not None, f"jinja2 {jinja_version()}: {module}.{qualname} no longer exists (no {part!r})"
    return found


def jinja_version() -> str:
    return importlib.metadata.version("jinja2")


def test_the_installed_jinja_is_the_minor_version_the_contract_was_checked_against() -> None:
    """A new minor version of Jinja needs this list reviewed before the bound in pyproject.toml moves."""
    major, minor = (int(part) for part in jinja_version().split(".")[:2])
    assert (major, minor) == TESTED_MINOR, (
        f"jinja2 {jinja_version()} is installed; the sandbox's use of Jinja internals was checked against "
        f"{TESTED_MINOR[0]}.{TESTED_MINOR[1]}: review this file and reconciler/core/sandbox, then update TESTED_MINOR"
    )


@pytest.mark.parametrize(("module", "qualname", "parameters"), SIGNATURES,
                         ids=[f"{module}.{qualname}" for module, qualname, _ in SIGNATURES])
def test_each_method_the_sandbox_overrides_or_calls_keeps_its_parameters(
        module: str, qualname: str, parameters: tuple[str, ...]) -> None:
    """An overridden or called Jinja function still takes the parameters the sandbox passes, in that order."""
    found = tuple(inspect.signature(resolve(module, qualname)).parameters)
    assert found == parameters, (
        f"jinja2 {jinja_version()}: the parameters of {module}.{qualname} changed from {parameters} to {found}"
    )


@pytest.mark.parametrize(("name", "fields"), NODE_FIELDS, ids=[name for name, _ in NODE_FIELDS])
def test_each_node_the_guards_rewrite_keeps_its_fields(name: str, fields: tuple[str, ...]) -> None:
    """The parse-time guards read and replace these node fields by name."""
    found = getattr(nodes, name).fields
    assert found == fields, f"jinja2 {jinja_version()}: the fields of nodes.{name} changed from {fields} to {found}"


def test_the_filters_and_tests_the_sandbox_names_exist() -> None:
    """Every filter and test the sandbox replaces, removes, charges or leaves free is still Jinja's."""
    lost_filters, lost_tests = set(FILTER_NAMES) - set(FILTERS), set(TEST_NAMES) - set(TESTS)
    assert not lost_filters, f"jinja2 {jinja_version()} has no filters {sorted(lost_filters)} any more"
    assert not lost_tests, f"jinja2 {jinja_version()} has no tests {sorted(lost_tests)} any more"


def test_the_attributes_the_sandbox_reads_are_still_there() -> None:
    """Attributes the sandbox reads or sets on Jinja objects, and how it finds them."""
    version = jinja_version()
    assert isinstance(inspect.getattr_static(Environment, "lexer"), property), f"jinja2 {version}: Environment.lexer"
    assert TOKEN_INTEGER == "integer", f"jinja2 {version}: the integer token is now {TOKEN_INTEGER!r}"
    for name in ("intercepted_binops", "code_generator_class", "template_class"):
        assert hasattr(ImmutableSandboxedEnvironment, name), f"jinja2 {version}: SandboxedEnvironment.{name} is gone"
    environment = ImmutableSandboxedEnvironment()
    template = environment.from_string("x")
    context = template.new_context()
    for name in ("globals_keys", "parent", "eval_ctx"):
        assert hasattr(context, name), f"jinja2 {version}: Context.{name} is gone"
    assert hasattr(template, "root_render_func"), f"jinja2 {version}: Template.root_render_func is gone"
    reference = BlockReference("b", context, [], 0)
    for name in ("_stack", "_depth", "_context"):
        assert hasattr(reference, name), f"jinja2 {version}: BlockReference.{name} is gone"
    assert hasattr(Frame(EvalContext(environment)), "buffer"), f"jinja2 {version}: Frame.buffer is gone"
    # formats.check_format_call finds the format string on the wrapper the sandbox hands out.
    wrapper = SandboxedEnvironment().wrap_str_format("{}-{}".format)
    assert wrapper is not None and wrapper.__wrapped__.__self__ == "{}-{}", (  # type: ignore[attr-defined]
        f"jinja2 {version}: str.format is no longer wrapped with __wrapped__ pointing at the bound method"
    )


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("{{ 'x' * 10**9 }}", "budget"),  # intercepted operators reach call_binop
        ("{{ 'x'.center(10**9) }}", "budget"),  # method calls reach call
        ("{{ ('{:>1000000000}').format(1) }}", "budget"),  # str.format's wrapper is recognized
        ("{% set x %}{% for i in range(100000) %}{{ 'y' * 100 }}{% endfor %}{% endset %}", "budget"),  # buffers
        ("{{ " + "9" * 5000 + " }}", "syntax"),  # the lexer override is used
        ("{{ ([0] * 100000) | map('default', 'x' * 100000, true) | list | string }}", "budget"),  # filters charged
    ],
)
def test_each_hook_is_still_called(source: str, kind: str) -> None:
    """Behind each override is a hook Jinja must still call: a guard that would be skipped fails here."""
    try:
        TemplateSet({"t.j2": source}).render("t.j2", {})
    except Exception as problem:
        assert getattr(problem, "kind", None) == kind, f"jinja2 {jinja_version()}: {source!r} gave {problem!r}"
    else:
        pytest.fail(f"jinja2 {jinja_version()}: {source!r} rendered: the hook behind it is no longer called")
