"""One render cannot change the context, an imported module or anything else another render sees."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.core.sandbox import TemplateProblem, TemplateSet


@pytest.mark.parametrize(
    "call",
    ["dict.update(fleet, name='changed')", "dict.setdefault(fleet, 'extra', 1)", "dict.clear(fleet)",
     "dict.pop(fleet, 'name')", "dict.popitem(fleet)", "dict.__setitem__(fleet, 'name', 'changed')"],
)
def test_a_dict_method_taken_from_the_class_cannot_change_a_shared_context_dict(call: str) -> None:
    """`dict.update(d, ...)` and the like are refused at their line; the dict every device shares is unchanged."""
    fleet = {"name": "acme"}
    templates = TemplateSet({"t.j2": f"first\n{{{{ {call} }}}}\n", "u.j2": "{{ fleet.name }}"})
    with pytest.raises(TemplateProblem) as caught:
        templates.render("t.j2", {"fleet": fleet})
    assert (caught.value.kind, caught.value.line) == ("security", 2)
    assert fleet == {"name": "acme"}
    assert templates.render("u.j2", {"fleet": fleet}) == "acme"


def test_values_are_still_built_from_the_dict_class() -> None:
    """`dict.fromkeys` (a builder, not a method of an existing dict) stays available."""
    assert TemplateSet({"t.j2": "{{ dict.fromkeys(['a', 'b'], 0) | dictsort }}"}).render("t.j2", {}) == (
        "[('a', 0), ('b', 0)]")


def test_a_set_cannot_be_changed_in_place() -> None:
    """`intersection_update`, missing from Jinja's list of mutating methods, is refused like the others."""
    source = "{% set s = {'a': 1, 'b': 2}.keys() - [] %}{{ s.intersection_update(['a']) }}{{ s | sort }}"
    with pytest.raises(TemplateProblem) as caught:
        TemplateSet({"t.j2": source}).render("t.j2", {})
    assert caught.value.kind == "security"


def test_an_imported_iterator_is_fresh_in_every_render() -> None:
    """A module exporting a lazy filter result is built for each render: the second does not find it used up."""
    sources = {
        "lib.j2": "{% set names = ['a', 'b'] | map('upper') %}",
        "main.j2": "{% import 'lib.j2' as lib %}{{ lib.names | join(',') }}",
    }
    templates = TemplateSet(sources)
    assert [templates.render("main.j2", {}) for _ in range(3)] == ["A,B", "A,B", "A,B"]


def test_a_views_proxy_of_its_dict_is_out_of_reach() -> None:
    """`d.keys().mapping` (a proxy that measured as a small value but printed as the whole dict) is refused."""
    context: dict[str, Any] = {"d": {"a": "x" * 100}}
    with pytest.raises(TemplateProblem) as caught:
        TemplateSet({"t.j2": "{{ d.keys().mapping }}"}).render("t.j2", context)
    assert caught.value.kind == "security"
