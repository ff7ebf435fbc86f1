"""The router's reading of ASCII configuration: statements, lists, multi-line values, errors, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.simulator.configuration import (
    Configuration,
    ConfigurationError,
    apply_text,
    canonical_key,
    natural_key,
    render,
)


def plain(key: str, value: str) -> str:
    return value


def accept(key: str) -> bool:
    return False


def apply(text: str, base: dict[str, str] | None = None) -> dict[str, str]:
    return apply_text(Configuration(dict(base or {})), text, plain, accept, "MRX5 LTE").values


def test_keys_are_set_verbatim_after_the_first_equals_sign() -> None:
    """The value is everything after the first '=', spaces and further '=' included."""
    assert apply("a.b=x = y \n") == {"a.b": "x = y "}


def test_comments_blank_lines_and_crlf_are_ignored() -> None:
    """`#` lines and blank lines do nothing; CRLF line ends are read as LF."""
    assert apply("# comment\r\n\r\n  # indented comment\r\na.b=1\r\n") == {"a.b": "1"}


def test_add_appends_empty_elements_that_last_then_addresses() -> None:
    """`.add` appends one element, `.add=n` n; `[last]` is the last element at that line."""
    values = apply("l.add\nl[last].x=1\nl.add=2\nl[last].x=3\nl[2].x=2\n")
    assert values == {"l[1].x": "1", "l[2].x": "2", "l[3].x": "3"}


def test_add_counts_from_the_existing_elements() -> None:
    """An element added to a list that already has two becomes the third."""
    assert apply("l.add\nl[last].x=new\n", {"l[1].x": "a", "l[2].x": "b"})["l[3].x"] == "new"


def test_delete_all_empties_a_list_and_its_nested_lists_only() -> None:
    """`.delete=all` removes every element (with nested lists), not keys beside the list."""
    base = {"l[1].x": "a", "l[2].m[1].y": "b", "l.option": "keep", "lx[1].x": "keep"}
    assert apply("l.delete=all\nl.add\nl[last].x=new\n", base) == {"l.option": "keep", "lx[1].x": "keep",
                                                                   "l[1].x": "new"}


def test_nested_lists_resolve_last_at_every_level() -> None:
    """`a[last].b[last].c` uses the last element of each list at that line."""
    values = apply("a.add=2\na[last].b.add\na[last].b.add\na[last].b[last].c=1\n")
    assert values == {"a[2].b[2].c": "1"}


def test_a_multi_line_value_runs_to_its_end_marker() -> None:
    """A value starting with a BEGIN marker takes the following lines through the END marker."""
    text = "k=-----BEGIN X-----\nline=with equals\n-----END X-----\nnext=1\n"
    assert apply(text) == {"k": "-----BEGIN X-----\nline=with equals\n-----END X-----", "next": "1"}


@pytest.mark.parametrize(("text", "message"), [
    ("no statement here\n", "line 1: expected 'key=value'"),
    ("a.b=1\nl[last].x=1\n", "line 2: [last] of the empty list l"),
    ("l[0].x=1\n", "line 1: list index must be 1"),
    ("l.delete=some\n", "line 1: '.delete' takes only '=all'"),
    ("l.add=0\n", "line 1: '.add=' takes an element count"),
    ("l[1].add\n", "line 1: '.add' and '.delete' apply to a list"),
    ("a b=1\n", "line 1: not a configuration key"),
    ("k=-----BEGIN X-----\nnever ends\n", "line 1: no '-----END X-----'"),
    ("status.system.uptime=5\n", "line 1: read-only status key"),
])
def test_statements_the_router_cannot_read_are_errors_with_their_line(text: str, message: str) -> None:
    """Each malformed statement raises with the line it is on."""
    with pytest.raises(ConfigurationError) as error:
        apply(text)
    assert str(error.value).startswith(message)


def test_a_failed_apply_leaves_the_base_configuration_untouched() -> None:
    """The statements before the failing one are not applied to the base either (atomic)."""
    base = Configuration({"a": "1"})
    with pytest.raises(ConfigurationError):
        apply_text(base, "a=2\nl.add\nbad line\n", plain, accept, "MRX5 LTE")
    assert (base.values, base.lengths) == ({"a": "1"}, None)


def test_keys_the_model_rejects_fail_with_the_contract_text() -> None:
    """A rejected key's error names the model and the canonical key."""
    with pytest.raises(ConfigurationError, match=r"^key not supported by MRO-L200: l\[2\]\.band$"):
        apply_text(Configuration(), "l.add=2\nl[last].band=1\n", plain, lambda key: key.endswith("band"), "MRO-L200")


def test_credentials_pass_through_the_hasher() -> None:
    """Every value set goes through the hasher with its canonical key."""
    values = apply_text(Configuration(), "u.add\nu[last].password=pw\n", lambda key, value: f"{key}:{value}",
                        accept, "MRX5 LTE").values
    assert values == {"u[1].password": "u[1].password:pw"}


def test_rendering_sorts_numeric_indices_as_numbers() -> None:
    """rule[2] comes before rule[10], and a list's keys stay together."""
    text = render({"r[10].x": "10", "r[2].x": "2", "r[2].a": "a", "q": "q"})
    assert text == "q=q\nr[2].a=a\nr[2].x=2\nr[10].x=10\n"


def test_canonical_keys_have_numeric_indices_without_leading_zeros() -> None:
    """Only keys with plain numeric indices count as canonical."""
    assert canonical_key("a.b[12].c") == "a.b[12].c"
    for key in ("a[last].b", "a[01]", "a[0]", "a..b", "a b", "a[1][2]"):
        assert canonical_key(key) is None


NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
KEYS = st.lists(st.tuples(NAMES, st.none() | st.integers(1, 12)), min_size=1, max_size=4).map(
    lambda parts: ".".join(name if index is None else f"{name}[{index}]" for name, index in parts))
VALUES = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=20).filter(
    lambda value: not value.startswith("-----BEGIN"))


@given(st.dictionaries(KEYS, VALUES, max_size=20))
def test_rendered_text_applied_to_an_empty_configuration_gives_the_same_values(values: dict[str, str]) -> None:
    """render and apply are inverse: what GET configuration prints can be stored back unchanged."""
    assert apply(render(values)) == values
    assert sorted(values, key=natural_key) == [line.split("=", 1)[0] for line in render(values).split("\n")[:-1]]
