"""Tests for `reconciler.core.sandbox`: rendering untrusted templates within a deterministic budget."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.sandbox import DEFAULT_BUDGET, RenderBudget, TemplateProblem, TemplateSet

LIBRARY = {
    "lib/macros.j2": (
        "{% macro interface(name, cfg) %}\n"
        "interface {{ name }}\n"
        "  ip address {{ cfg.address }}\n"
        "  mtu {{ cfg.mtu | default(1500) }}\n"
        "{% endmacro %}\n"
        "{% macro broken(cfg) %}\n"
        "value {{ cfg.missing_key }}\n"
        "{% endmacro %}\n"
    ),
    "base.j2": "hostname {{ router.name }}\n{% block body %}{% endblock %}end\n",
}


def problem_of(source: str, context: Mapping[str, Any] | None = None, budget: RenderBudget = DEFAULT_BUDGET,
               extra: Mapping[str, str] | None = None) -> TemplateProblem:
    """Render `source` as `t.j2` (with the library and `extra`) and return the problem it raises."""
    templates = TemplateSet({**LIBRARY, **(extra or {}), "t.j2": source}, budget)
    with pytest.raises(TemplateProblem) as caught:
        templates.render("t.j2", context or {})
    return caught.value


def render(source: str, context: Mapping[str, Any] | None = None,
           budget: RenderBudget = DEFAULT_BUDGET) -> str:
    return TemplateSet({**LIBRARY, "t.j2": source}, budget).render("t.j2", context or {})


# -- rendering and positions ------------------------------------------------------------------------


def test_renders_a_template_that_imports_macros_and_extends_a_base_from_the_mapping() -> None:
    """A template can import, include and extend other templates of the mapping by name."""
    source = (
        "{% extends 'base.j2' %}\n"
        "{% import 'lib/macros.j2' as lib %}\n"
        "{% block body %}\n"
        "{% for name, cfg in interfaces | dictsort %}\n"
        "{{ lib.interface(name, cfg) }}"
        "{% endfor %}\n"
        "{% endblock %}\n"
    )
    context = {
        "router": {"name": "r1"},
        "interfaces": {"eth0": {"address": "10.0.0.1/24"}, "eth1": {"address": "10.0.1.1/24", "mtu": 9000}},
    }
    assert render(source, context) == (
        "hostname r1\n"
        "interface eth0\n  ip address 10.0.0.1/24\n  mtu 1500\n"
        "interface eth1\n  ip address 10.0.1.1/24\n  mtu 9000\n"
        "end\n"
    )


def test_strict_undefined_names_the_variable_and_its_line() -> None:
    """Using an undefined variable is a render problem naming the variable, at its line."""
    problem = problem_of("hostname {{ name }}\n\ninterface lan\n  ip {{ lan_ip }}\n", {"name": "r1"})
    assert (problem.template, problem.line, problem.kind) == ("t.j2", 4, "render")
    assert problem.message == "'lan_ip' is undefined"


def test_error_inside_an_imported_macro_reports_the_library_file_and_its_line() -> None:
    """An error raised inside an imported macro points at the library file, not the caller."""
    problem = problem_of("{% import 'lib/macros.j2' as lib %}\n{{ lib.broken({}) }}\n")
    assert (problem.template, problem.line, problem.kind) == ("lib/macros.j2", 7, "render")
    assert "missing_key" in problem.message


def test_syntax_error_is_reported_with_its_line_by_check_and_render() -> None:
    """A syntax error is a "syntax" problem with the template's name and line, from check and render."""
    templates = TemplateSet({"t.j2": "ok\n{% for x in %}\n{% endfor %}\n"})
    checked = templates.check("t.j2")
    assert checked is not None
    assert (checked.template, checked.line, checked.kind) == ("t.j2", 2, "syntax")
    with pytest.raises(TemplateProblem) as caught:
        templates.render("t.j2", {})
    assert caught.value == checked


def test_syntax_error_in_an_imported_template_is_reported_for_that_template() -> None:
    """check and render blame the imported template that does not parse, at its own line."""
    templates = TemplateSet({"t.j2": "{% import 'lib.j2' as lib %}\n", "lib.j2": "a\nb\n{% if %}\n"})
    checked = templates.check("t.j2")
    assert checked is not None
    assert (checked.template, checked.line, checked.kind) == ("lib.j2", 3, "syntax")
    with pytest.raises(TemplateProblem) as caught:
        templates.render("t.j2", {})
    assert (caught.value.template, caught.value.line) == ("lib.j2", 3)


def test_check_accepts_a_template_whose_imports_parse() -> None:
    """check returns None when the template and everything it names compile."""
    templates = TemplateSet({**LIBRARY, "t.j2": "{% extends 'base.j2' %}{% import 'lib/macros.j2' as l %}"})
    assert templates.check("t.j2") is None


def test_missing_import_is_a_render_error_at_the_line_of_the_import() -> None:
    """Importing a name the mapping lacks is a render problem at the line of the import."""
    problem = problem_of("first\nsecond\n{% import 'lib/nope.j2' as nope %}\n")
    assert (problem.template, problem.line, problem.kind) == ("t.j2", 3, "render")
    assert problem.message == "template 'lib/nope.j2' not found"


def test_rendering_a_name_outside_the_set_is_a_render_problem_without_a_line() -> None:
    """A top-level name the mapping lacks has no position: line 0."""
    with pytest.raises(TemplateProblem) as caught:
        TemplateSet(LIBRARY).render("nope.j2", {})
    assert (caught.value.template, caught.value.line, caught.value.kind) == ("nope.j2", 0, "render")


@pytest.mark.parametrize(
    "reference", ["/etc/passwd", "../base.j2", "./base.j2", "lib/../base.j2", str(Path(__file__).resolve())]
)
def test_file_system_paths_are_only_names_and_not_found(reference: str) -> None:
    """Paths are looked up as names in the mapping only: a path escape is simply not found."""
    problem = problem_of(f"x\n{{% include '{reference}' %}}\n")
    assert (problem.kind, problem.line) == ("render", 2)
    assert problem.message == f"template {reference!r} not found"


def test_context_values_render_through_their_str() -> None:
    """Dates, objects with `__str__` (secret placeholders), lists and bools render as str() does."""

    @dataclass(frozen=True)
    class Placeholder:
        name: str

        def __str__(self) -> str:
            return f"<secret:{self.name}>"

    context = {"day": datetime.date(2024, 5, 1), "psk": Placeholder("wifi"), "ports": [1, 2], "on": True}
    assert render("{{ day }} {{ psk }} {{ ports }} {{ on }} {{ day.year }}", context) == (
        "2024-05-01 <secret:wifi> [1, 2] True 2024"
    )


@pytest.mark.parametrize(
    "source",
    [
        "{% for x in xs %}{{ loop.index }}/{{ loop.length }}{{ loop.cycle('a', 'b') }}{{ loop.last }};"
        "{% endfor %}",
        "{% for x in xs if x > 1 %}{{ x }}{% else %}none{% endfor %}|"
        "{% for x in [] %}{% else %}empty{% endfor %}",
        "{% for t in tree recursive %}{{ t.n }}{% if t.c %}[{{ loop(t.c) }}]{% endif %}{% endfor %}",
        "{% for x in xs | select('odd') %}{{ loop.revindex }}{{ loop.changed(x) }}{% endfor %}",
        "{% set ns = namespace(total=0, seen=[]) %}{% for x in xs %}{% set ns.total = ns.total + x %}"
        "{% set ns.seen = ns.seen + [x * 2] %}{% endfor %}{{ ns.total }} {{ ns.seen }}",
        "{% import 'lib/macros.j2' as lib %}{% macro wrap() %}<{{ caller() }}>{% endmacro %}"
        "{% call wrap() %}{{ lib.interface('e0', {'address': a}) }}{% endcall %}",
        "{% set block %}x{{ xs | join(',') }}{% endset %}{{ block | upper }}"
        "{% filter title %}ab cd{% endfilter %}",
        "{{ '%s-%03d' % ('v', 7) }} {{ '{}:{:>4}'.format('a', 1) }} {{ 'ab' * 2 }} {{ [1] + xs }}"
        " {{ 2 ** 8 }}",
        "{{ xs[1:] }} {{ 'abcdef'[::2] }} {{ d.a }} {{ d['b'] }} {{ d.items() | list }} {{ 2 in xs }}"
        " {{ a ~ 1 }}",
        "{{ xs | batch(2, 0) | list }} {{ xs | slice(2) | list }} {{ xs | sum }} {{ {'k': xs} | tojson(2) }}",
        "{{ 'a\\nb' | indent(2, true) }}|{{ 'one two three' | wordwrap(5) }}|"
        "{{ 'abcdefghij' | truncate(7, true, '.', 0) }}",
    ],
)
def test_guards_do_not_change_what_a_template_renders(source: str) -> None:
    """The guards are invisible to well-behaved templates: output equals Jinja's own sandbox."""
    sources = {**LIBRARY, "t.j2": source}
    context = {"xs": [1, 2, 3], "d": {"a": 1, "b": 2}, "a": "x", "tree": [{"n": 1, "c": [{"n": 2, "c": []}]}]}
    reference = jinja2.sandbox.ImmutableSandboxedEnvironment(
        loader=jinja2.DictLoader(sources),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    expected = reference.get_template("t.j2").render(context)
    assert TemplateSet(sources).render("t.j2", context) == expected


# -- the sandbox ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__ }}",
        "{{ hook.__globals__ }}",
        "{{ hook.__code__ }}",
        "{{ xs.append(4) }}",
        "{{ d.clear() }}",
        "{{ device._token }}",
        "{{ range.__globals__ }}",
    ],
)
def test_python_internals_and_mutation_are_security_problems(source: str) -> None:
    """Dunder and underscore attributes and mutating methods are refused as "security" problems."""

    def hook() -> str:
        return "hook"

    @dataclass(frozen=True)
    class Device:
        _token: str = "hidden"

    context = {"hook": hook, "xs": [1, 2, 3], "d": {"a": 1}, "device": Device()}
    problem = problem_of(f"line one\n{source}\n", context)
    assert (problem.kind, problem.line) == ("security", 2)


@pytest.mark.parametrize("name", ["lipsum", "cycler", "joiner"])
def test_jinjas_other_globals_are_not_there(name: str) -> None:
    """lipsum, cycler and joiner are undefined, so their internals are out of reach too."""
    assert problem_of(f"{{{{ {name}() }}}}").message == f"'{name}' is undefined"
    assert problem_of(f"{{{{ {name}.__init__.__globals__ }}}}").kind in ("render", "security")


def test_the_curated_globals_work() -> None:
    """range, dict and namespace are available."""
    source = "{{ range(3) | list }} {{ dict(a=1) }} {% set ns = namespace(x=1) %}{% set ns.x = 2 %}{{ ns.x }}"
    assert render(source) == "[0, 1, 2] {'a': 1} 2"


# -- the step budget ---------------------------------------------------------------------------------


def test_nested_loops_beyond_the_step_budget_are_refused() -> None:
    """200 x 200 loop iterations exceed a 10_000-step budget; the render stops with a budget problem."""
    source = "{% for i in range(200) %}\n{% for j in range(200) %}{{ j }}{% endfor %}\n{% endfor %}\n"
    problem = problem_of(source, budget=RenderBudget(max_steps=10_000))
    assert problem.kind == "budget"
    assert problem.message == "render budget exceeded: more than 10000 steps"
    assert problem.line == 2


def test_loops_within_the_step_budget_render() -> None:
    """50 x 100 loop iterations (plus their range calls) fit in a 10_000-step budget."""
    source = "{% for i in range(50) %}{% for j in range(100) %}.{% endfor %}{% endfor %}"
    assert render(source, budget=RenderBudget(max_steps=10_000)) == "." * 5000


def test_macro_calls_cost_steps() -> None:
    """Calls cost steps too: a loop of cheap macro calls runs out of a small budget."""
    source = "{% macro m() %}{% endmacro %}{% for i in range(100) %}{{ m() }}{{ m() }}{% endfor %}"
    assert render(source, budget=RenderBudget(max_steps=400)) == ""
    assert problem_of(source, budget=RenderBudget(max_steps=250)).kind == "budget"


def test_two_renders_do_not_share_a_budget() -> None:
    """Each render starts with the full budget: a failed or costly render does not drain the next."""
    templates = TemplateSet({"t.j2": "{% for i in range(n) %}{% endfor %}ok"}, RenderBudget(max_steps=1000))
    assert templates.render("t.j2", {"n": 900}) == "ok"
    assert templates.render("t.j2", {"n": 900}) == "ok"
    with pytest.raises(TemplateProblem):
        templates.render("t.j2", {"n": 5000})
    assert templates.render("t.j2", {"n": 900}) == "ok"


def test_a_render_costs_the_same_on_a_fresh_and_on_a_warm_template_set() -> None:
    """Budget use is deterministic: a first render (compiling, importing) passes or fails as later ones do."""
    sources = {
        "lib.j2": "{% macro item(i) %}[{{ i }}]{% endmacro %}",
        "t.j2": "{% import 'lib.j2' as l %}{% for i in range(30) %}{{ l.item(i) }}{% endfor %}",
    }

    def passes(templates: TemplateSet) -> bool:
        try:
            templates.render("t.j2", {})
        except TemplateProblem as problem:
            assert problem.kind == "budget"
            return False
        return True

    outcomes = []
    for steps in range(40, 140):
        templates = TemplateSet(sources, RenderBudget(max_steps=steps))
        first, second = passes(templates), passes(templates)
        assert first == second, steps
        outcomes.append(first)
    assert not outcomes[0]
    assert outcomes[-1]


# -- size bounds -------------------------------------------------------------------------------------


def test_output_beyond_the_bound_is_refused_at_the_line_that_writes_it() -> None:
    """A render whose text exceeds max_output stops with a budget problem pointing into the loop."""
    problem = problem_of("header\n{% for i in range(100000) %}\nxxxxxxxxxx\n{% endfor %}\n",
                         budget=RenderBudget(max_output=1000))
    assert (problem.kind, problem.message) == ("budget", "output larger than 1000 characters")
    assert problem.line in (2, 3)


def test_output_up_to_the_bound_renders() -> None:
    """Exactly max_output characters are allowed."""
    assert render("{{ 'x' * 1000 }}", budget=RenderBudget(max_output=1000)) == "x" * 1000


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'x' * 10**9 }}",
        "{{ 10**9 * 'x' }}",
        "{{ [1] * 10**9 }}",
        "{{ 2 ** (10 ** 10) }}",
        "{{ (2 ** 4000) * (2 ** 4000) }}",
        "{{ 'x' | center(10**9) }}",
        "{{ 'x' | center(1000000000) }}",
        "{{ 'x'.ljust(10**9) }}",
        "{{ 'x'.zfill(10**9) }}",
        "{{ ('x' | safe).center(10**9) }}",
        "{{ range(10**9) }}",
        "{{ range(10**30) }}",
        "{{ ('x' * 1000) | replace('x', 'y' * 100000) }}",
        "{{ ('x' * 1000).replace('x', 'y' * 100000) }}",
        "{{ ('x' * 500000).replace('', 'yy') }}",
        "{{ 'a\\tb'.expandtabs(10**9) }}",
        "{{ 'x' | indent(10**9, true) }}",
        "{{ ('a\\n' * 100000) | indent(100) }}",
        "{{ 'x' | wordwrap(10**9) }}",
        "{{ 'x' | truncate(10**9) }}",
        "{{ range(100000) | join('x' * 1000) }}",
        "{{ ('x' * 1000).join(range(2000) | map('string')) }}",
        "{{ '%1000000000d' % 1 }}",
        "{{ '%*d' % (10**9, 1) }}",
        "{{ '%1000000000d' | format(1) }}",
        "{{ '{:>1000000000}'.format(1) }}",
        "{{ '{:{}}'.format(1, 10**9) }}",
        "{{ ('{0}' * 1000).format('y' * 100000) }}",
        "{{ (1).to_bytes(10**9, 'big') }}",
        "{{ [1] | batch(10**9, 'x') | list }}",
        "{{ [1] | slice(10**9) | list }}",
        "{{ [[1], [2]] | sum(start=[]) }}",
        "{{ {'a': [1]} | tojson(10**9) }}",
        "{{ dict.fromkeys(range(100000), 'x' * 1000) }}",
    ],
)
def test_amplifying_expressions_are_refused_before_they_allocate(source: str) -> None:
    """A single expression cannot allocate far beyond the output bound: it is a budget problem."""
    problem = problem_of(f"first line\n{source}\n")
    assert (problem.kind, problem.line, problem.template) == ("budget", 2, "t.j2")


@pytest.mark.parametrize(
    "call",
    [
        "'x' | indent(-10**9)",
        "[1] | slice(-10**9) | list",
        "'x'.center(-10**9)",
        "[1] | batch(-10**9, 0) | list",
    ],
)
def test_negative_sizes_do_not_give_steps_back(call: str) -> None:
    """Costs computed from a negative width or count are not credits: later loops still run out."""
    loops = "{% for i in range(100) %}{% for j in range(500) %}{% endfor %}{% endfor %}"
    source = f"{{% set _ = {call} %}}{loops}"
    assert problem_of(source, budget=RenderBudget(max_steps=10_000)).kind == "budget"


def test_power_is_left_associative_as_in_jinja() -> None:
    """Jinja parses `2 ** 10 ** 10` as `(2 ** 10) ** 10`, which is small and allowed."""
    assert render("{{ 2 ** 10 ** 10 }}") == str(2**100)


def test_doubling_a_string_in_a_loop_is_bounded() -> None:
    """Forty doublings of a string through a namespace stop at the output bound, not at a terabyte."""
    source = "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
    assert problem_of(source).kind == "budget"


def test_nesting_a_list_in_itself_is_bounded() -> None:
    """`[l, l]` forty times prints as 2**40 items; it is refused once it would exceed the bound."""
    source = (
        "{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}"
    )
    problem = problem_of(source)
    assert problem.kind == "budget"
    assert "characters as text" in problem.message


def test_text_captured_by_a_set_block_is_bounded() -> None:
    """Text gathered inside `{% set %}` (invisible to the output counter) is bounded too."""
    source = "{% set x %}{% for i in range(100000) %}{{ 'y' * 1000 }}{% endfor %}{% endset %}{{ x | length }}"
    problem = problem_of(source)
    assert problem.kind == "budget"
    assert problem.message.startswith("text built by macros")


def test_text_built_by_a_macro_is_bounded() -> None:
    """A macro looping over big pieces cannot fill memory before its text is output."""
    source = (
        "{% macro m() %}{% for i in range(100000) %}{{ 'y' * 1000 }}{% endfor %}{% endmacro %}"
        "{% set x = m() %}"
    )
    assert problem_of(source).kind == "budget"


# -- recursion ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
        "{% macro m() %}{{ m() }}{{ m() }}{% endmacro %}{{ m() }}",
        "{% include 't.j2' %}",
        "{% include 't.j2' %}{% include 't.j2' %}",
        "{% block b %}{{ self.b() }}{% endblock %}",
        "{% import 't.j2' as me %}",
    ],
)
def test_recursion_ends_in_a_render_problem(source: str) -> None:
    """Macros, includes, blocks and imports that call themselves end in a problem, not a crash or a hang."""
    problem = problem_of(source)
    assert problem.kind in ("render", "budget")
    assert problem.template == "t.j2"


# -- domain filters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ true | icom_bool }}{{ false | icom_bool }}{{ 0 | icom_bool }}{{ [1] | icom_bool }}", "1001"),
        ("{{ '192.168.10.0/24' | netmask }}", "255.255.255.0"),
        ("{{ '192.168.10.1/24' | netmask }}", "255.255.255.0"),
        ("{{ 24 | netmask }}", "255.255.255.0"),
        ("{{ 0 | netmask }} {{ 32 | netmask }}", "0.0.0.0 255.255.255.255"),
        ("{{ '192.168.10.0/24' | prefixlen }}", "24"),
        ("{{ '192.168.10.5/24' | network }}", "192.168.10.0"),
        ("{{ '192.168.10.0/24' | host(1) }}", "192.168.10.1"),
        ("{{ '192.168.10.0/24' | host(254) }}", "192.168.10.254"),
        ("{{ '192.168.10.0/24' | broadcast }}", "192.168.10.255"),
        ("{{ '2001:db8::/64' | host(1) }} {{ '2001:db8::1/64' | prefixlen }}", "2001:db8::1 64"),
    ],
)
def test_domain_filters(source: str, expected: str) -> None:
    """The network filters compute what the icom configuration needs."""
    assert render(source) == expected


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("{{ 'false' | icom_bool }}", "icom_bool"),
        ("{{ '192.168.10.0' | netmask }}", "netmask"),
        ("{{ 33 | netmask }}", "netmask"),
        ("{{ 'router' | prefixlen }}", "prefixlen"),
        ("{{ '300.1.1.1/24' | network }}", "network"),
        ("{{ '192.168.10.0/24' | host(256) }}", "host"),
        ("{{ '192.168.10.0/24' | host(-1) }}", "host"),
        ("{{ '192.168.10.0/24' | host('1') }}", "host"),
        ("{{ none | broadcast }}", "broadcast"),
    ],
)
def test_domain_filters_refuse_bad_input_with_a_clear_message(source: str, fragment: str) -> None:
    """Bad input to a network filter is a render problem whose message names the filter."""
    problem = problem_of(f"x\n{source}\n")
    assert (problem.kind, problem.line) == ("render", 2)
    assert problem.message.startswith(f"{fragment}:")


def test_domain_filters_report_an_undefined_input_as_undefined() -> None:
    """An undefined value reaching a filter is reported as the undefined variable it is."""
    assert problem_of("{{ lan | netmask }}").message == "'lan' is undefined"


FILTER_SET = TemplateSet(
    {"f.j2": "{{ cidr | netmask }} {{ cidr | prefixlen }} {{ cidr | network }} {{ cidr | broadcast }} "
             "{{ cidr | host(n) }}"}
)


@given(
    address=st.integers(min_value=0, max_value=2**32 - 1),
    prefix=st.integers(min_value=0, max_value=32),
    index=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_network_filters_agree_with_ipaddress(address: int, prefix: int, index: int) -> None:
    """For any IPv4 interface, the filters agree with the standard library."""
    interface = ipaddress.IPv4Interface((address, prefix))
    net = interface.network
    number = index % net.num_addresses
    rendered = FILTER_SET.render("f.j2", {"cidr": str(interface), "n": number})
    assert rendered.split() == [
        str(net.netmask),
        str(net.prefixlen),
        str(net.network_address),
        str(net.broadcast_address),
        str(net[number]),
    ]



# -- analysis ----------------------------------------------------------------------------------------


def test_closure_follows_imports_includes_and_extends_transitively() -> None:
    """closure holds the template and every template it names, through any depth."""
    templates = TemplateSet({
        "router.j2": "{% extends 'base.j2' %}{% block body %}{% include 'icom/firewall.j2' %}{% endblock %}",
        "base.j2": "{% block body %}{% endblock %}",
        "icom/firewall.j2": "{% from 'lib/macros.j2' import rule %}{% import 'lib/net.j2' as net %}",
        "lib/macros.j2": "{% macro rule() %}{% endmacro %}",
        "lib/net.j2": "",
        "unrelated.j2": "",
    })
    assert templates.closure("router.j2") == {
        "router.j2", "base.j2", "icom/firewall.j2", "lib/macros.j2", "lib/net.j2",
    }
    assert templates.closure("lib/net.j2") == {"lib/net.j2"}


def test_closure_of_a_dynamic_reference_is_every_template() -> None:
    """A reference computed at render time could be any template: the closure is the whole set."""
    sources = {"t.j2": "{% include kind ~ '.j2' %}", "a.j2": "", "b.j2": ""}
    assert TemplateSet(sources).closure("t.j2") == set(sources)


def test_closure_keeps_a_missing_reference() -> None:
    """A literal reference to a template the set lacks is part of the closure (it matters once added)."""
    assert TemplateSet({"t.j2": "{% import 'lib.j2' as l %}"}).closure("t.j2") == {"t.j2", "lib.j2"}


def test_undeclared_variables_are_the_context_names_a_template_reads() -> None:
    """Names read from the context, without globals, loop variables, set variables or macro arguments."""
    templates = TemplateSet({
        **LIBRARY,
        "t.j2": "{% import 'lib/macros.j2' as lib %}{% set local = 1 %}{{ router.name }}"
                "{% for i in range(n) %}{{ i }}{{ loop.index }}{{ local }}{% endfor %}"
                "{% macro m(arg) %}{{ arg }}{{ site }}{% endmacro %}{{ dict() }}{{ namespace() }}",
    })
    assert templates.undeclared_variables("t.j2") == {"router", "n", "site"}


def test_undeclared_variables_of_an_unparsable_template_is_a_syntax_problem() -> None:
    """Analysis of a template that does not parse raises the syntax problem."""
    with pytest.raises(TemplateProblem) as caught:
        TemplateSet({"t.j2": "{{ x"}).undeclared_variables("t.j2")
    assert caught.value.kind == "syntax"


# -- values ------------------------------------------------------------------------------------------


def test_template_problem_is_a_value_with_a_readable_text() -> None:
    """Problems compare by content and print as `template:line: message (kind)`."""
    problem = TemplateProblem("t.j2", 3, "'x' is undefined", "render")
    assert problem == TemplateProblem("t.j2", 3, "'x' is undefined", "render")
    assert hash(problem) == hash(TemplateProblem("t.j2", 3, "'x' is undefined", "render"))
    assert str(problem) == "t.j2:3: 'x' is undefined (render)"
    assert str(TemplateProblem("t.j2", 0, "gone", "render")) == "t.j2: gone (render)"


@pytest.mark.parametrize("budget", [{"max_steps": 0}, {"max_output": 0}, {"max_steps": -1}])
def test_render_budget_needs_positive_limits(budget: dict[str, int]) -> None:
    """A budget of zero or less is a programming error."""
    with pytest.raises(ValueError, match="positive"):
        RenderBudget(**budget)


def test_an_imported_module_costs_every_render_the_same_steps() -> None:
    """The cached module of an import is charged what building it cost, so the budget's cut-off never moves."""
    sources = {
        "lib.j2": "{% for i in range(50) %}{% endfor %}{% macro m() %}x{% endmacro %}",
        "main.j2": '{% import "lib.j2" as lib %}{{ lib.m() }}',
    }
    outcomes = set()
    for steps in range(40, 80):
        templates = TemplateSet(sources, RenderBudget(max_steps=steps))
        verdicts = []
        for _ in range(3):  # the first render builds the module, later ones reuse it
            try:
                verdicts.append(templates.render("main.j2", {}))
            except TemplateProblem as problem:
                verdicts.append(problem.kind)
        assert len(set(verdicts)) == 1, f"max_steps={steps}: {verdicts}"
        outcomes.add(verdicts[0])
    assert outcomes == {"budget", "x"}


def test_a_module_that_exports_a_namespace_is_built_afresh_for_every_render() -> None:
    """A namespace one render changes is never seen by the next one."""
    sources = {
        "lib.j2": "{% set counter = namespace(n=0) %}",
        "main.j2": '{% import "lib.j2" as lib %}{% set c = lib.counter %}{% set c.n = c.n + 1 %}{{ c.n }}',
    }
    templates = TemplateSet(sources)
    assert [templates.render("main.j2", {}) for _ in range(3)] == ["1", "1", "1"]
