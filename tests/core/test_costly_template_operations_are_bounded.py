"""Operations whose cost is not linear in what they read are refused or charged for it, so no template runs long.

Wall-clock times are not asserted here: `bench/sandbox.py` times the same templates at the default
budget (the figure is in bench/RESULTS.md, "Sandbox worst case").
"""

from __future__ import annotations

import datetime
from typing import Any

import jinja2
import jinja2.sandbox
import pytest

from reconciler.core.sandbox import DEFAULT_BUDGET, MAX_INT_BITS, RenderBudget, TemplateProblem, TemplateSet
from tests.core.adversarial_templates import ADVERSARIES, LOOP, Adversary

# A loop spends whatever budget it is given: a tenth of the default shows the same outcome sooner.
LOOP_BUDGET = RenderBudget(max_steps=DEFAULT_BUDGET.max_steps // 10)


def outcome_of(source: str, context: dict[str, Any] | None = None, budget: RenderBudget = DEFAULT_BUDGET) -> str:
    try:
        TemplateSet({"t.j2": source}, budget).render("t.j2", context or {})
    except TemplateProblem as problem:
        return problem.kind
    return "ok"


def problem_of(source: str, context: dict[str, Any] | None = None) -> TemplateProblem:
    with pytest.raises(TemplateProblem) as caught:
        TemplateSet({"t.j2": source}).render("t.j2", context or {})
    return caught.value


@pytest.mark.parametrize("adversary", ADVERSARIES, ids=[adversary.name for adversary in ADVERSARIES])
def test_every_adversarial_template_ends_as_expected(adversary: Adversary) -> None:
    """Each known worst case is refused (budget, security or syntax), ends in a render error, or renders."""
    budget = LOOP_BUDGET if LOOP.split("BODY")[0] in adversary.source else DEFAULT_BUDGET
    assert outcome_of(adversary.source, dict(adversary.context()), budget) == adversary.outcome


# -- codecs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "codec"),
    [("s.encode('punycode')", "punycode"), ("s.encode('IDNA')", "IDNA"), ("s.encode(encoding='utf_16')", "utf_16"),
     ("'abc'.encode().decode('rot13')", "rot13")],
)
def test_a_codec_outside_the_safe_list_is_a_security_problem_naming_it_at_its_line(call: str, codec: str) -> None:
    """Only utf-8, ascii and latin-1 are available; another codec is refused by name, at the line that asks for it."""
    problem = problem_of(f"first\n{{{{ {call} }}}}\n", {"s": "bücher"})
    assert (problem.kind, problem.line) == ("security", 2)
    assert f"the codec {codec!r} is not available in templates" in problem.message


@pytest.mark.parametrize("codec", ["utf-8", "UTF8", "ascii", "US-ASCII", "latin-1", "Latin1", "iso-8859-1"])
def test_the_safe_codecs_encode_and_decode_under_their_usual_names(codec: str) -> None:
    """The allowed codecs work under the spellings Python accepts for them."""
    assert TemplateSet({"t.j2": f"{{{{ 'ab'.encode('{codec}').decode('{codec}') }}}}"}).render("t.j2", {}) == "ab"


def test_an_error_handler_outside_the_safe_list_is_a_security_problem() -> None:
    """`namereplace` writes up to ninety characters per character: refused by name."""
    problem = problem_of("{{ 'é'.encode('ascii', 'namereplace') }}")
    assert problem.kind == "security"
    assert "'namereplace'" in problem.message


# -- integers ---------------------------------------------------------------------------------------


def test_an_integer_literal_too_wide_is_a_syntax_problem_at_its_line_for_check_and_render() -> None:
    """A 5,000-digit literal is reported at its line (Python's own limit raised a bare ValueError from check)."""
    templates = TemplateSet({"t.j2": "a\nb\n{{ " + "7" * 5000 + " }}\n"})
    checked = templates.check("t.j2")
    assert checked is not None
    assert (checked.kind, checked.line) == ("syntax", 3)
    assert checked.message == f"an integer literal of more than {MAX_INT_BITS} bits"
    with pytest.raises(TemplateProblem) as caught:
        templates.render("t.j2", {})
    assert caught.value == checked


def test_integers_up_to_the_bound_compute_exactly() -> None:
    """Arithmetic within MAX_INT_BITS gives Python's results (powers of two up to the bound included)."""
    source = "{{ 2 ** 4095 // 3 ** 1000 % 1000003 }} {{ (2 ** 4000 - 2 ** 3999) == 2 ** 3999 }} {{ 0xff * 0x100 }}"
    assert TemplateSet({"t.j2": source}).render("t.j2", {}) == f"{2**4095 // 3**1000 % 1000003} True {0xFF * 0x100}"


# -- dates ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "fragment"),
    [("day.today()", "date.today is not available"), ("moment.now()", "datetime.now is not available"),
     ("moment.utcnow()", "datetime.utcnow is not available"),
     ("moment.fromtimestamp(0)", "datetime.fromtimestamp is not available"),
     ("moment.astimezone()", "machine's time zone"), ("moment.timestamp()", "machine's time zone")],
)
def test_a_template_cannot_read_the_clock_or_the_machines_time_zone(call: str, fragment: str) -> None:
    """A render depends on its inputs only: the clock and the local zone reached from a date are refused."""
    context = {"day": datetime.date(2026, 11, 21), "moment": datetime.datetime(2026, 11, 21, 12, 0)}
    problem = problem_of(f"{{{{ {call} }}}}", context)
    assert problem.kind == "security"
    assert fragment in problem.message


# -- what the guards leave unchanged ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a' in s }} {{ 'z' not in s }} {{ 2 in xs }} {{ 'k' in d }} {{ 'v' in d.values() }} {{ 3 in range(5) }}"
        " {{ 1 in xs in [xs] }}",
        "{{ s.rfind('b') }} {{ s.rsplit('b', 1) }} {{ s.rpartition('b') }} {{ s.find('c') }} {{ s.count('b') }}"
        " {{ s.split('b') }} {{ s.replace('b', 'B') }} {{ s.upper() }} {{ 'ÄÖ'.lower() }} {{ s.title() }}",
        "{{ 7 - 2 }} {{ 7 // 2 }} {{ 7 % 3 }} {{ 2 ** 10 }} {{ 6 * 7 }} {{ d.keys() - ['k'] }}"
        " {{ 9 is divisibleby 3 }}",
        "{{ xs }} {{ d }} {{ 2 ** 100 }} {{ xs ~ s }} {{ none }} {{ 1.5 }} {{ 1234.5678 | round(-2) }}",
        "{% macro m() %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(*xs, **d) }} {{ '%s-%s-%s' | format(*xs) }}"
        " {{ '{}{}{}'.format(*xs) }}",
        "{{ 'ab'.encode('ascii') }} {{ ('<b>x</b> &amp;' | safe).striptags() }} {{ ('&lt;' | safe).unescape() }}"
        " {{ ('-' | safe).join(xs | map('string')) }}",
        "{{ s | title }} {{ '<i>a</i>' | striptags }} {{ 'a b c' | wordcount }} {{ d | urlencode }}"
        " {{ 'one two three' | wordwrap(5) }} {{ 'f' * 8 | int(base=16) }}",
        "{{ xs | sort | list }} {{ xs | unique | list }} {{ xs | max }} {{ [xs] | map('first') | list }}"
        " {{ xs | select('in', [1, 3]) | list }} {{ xs | select('equalto', 2) | list }}",
    ],
)
def test_the_new_guards_do_not_change_what_a_template_renders(source: str) -> None:
    """Charging searches, comparisons, prints and arithmetic is invisible to well-behaved templates."""
    context = {"s": "abcbd", "xs": [3, 1, 2], "d": {"k": "v"}}
    reference = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    expected = reference.from_string(source).render(context)
    assert TemplateSet({"t.j2": source}).render("t.j2", context) == expected


def test_a_render_spends_the_same_steps_whatever_ran_before() -> None:
    """Sizes remembered by one render do not make another cheaper: the cut-off of a budget never moves."""
    source = "{% for i in range(20) %}{% if 'zz' in xs %}{% endif %}{{ xs | sort | length }}{% endfor %}"
    context = {"xs": [f"item {i}" for i in range(300)]}

    def passes(steps: int) -> bool:
        return outcome_of(source, context, RenderBudget(max_steps=steps)) == "ok"

    cut = next(steps for steps in range(500, 50_000, 50) if passes(steps))
    assert not passes(cut - 50)
    assert all(passes(cut) for _ in range(3))
