"""YAML documents: the dialect, positions, and hostile input refused in bounded time and memory."""

from __future__ import annotations

import datetime as dt
import resource

import pytest

from reconciler.core import limits
from reconciler.core.documents import PositionIndex, parse_yaml
from reconciler.core.secrets import SecretRef


def only_problem(raw: bytes) -> str:
    document = parse_yaml("x.yaml", raw)
    assert document.data is None
    assert len(document.problems) == 1
    return str(document.problems[0])


def test_yaml_12_core_schema_keeps_norway_and_friends_as_strings() -> None:
    """`yes`, `no`, `on`, `off` stay strings; only true/false are booleans (YAML 1.2)."""
    data = parse_yaml("x.yaml", b"a: yes\nb: no\nc: on\nd: off\ne: true\nf: False\n").data
    assert data == {"a": "yes", "b": "no", "c": "on", "d": "off", "e": True, "f": False}


def test_numbers_follow_yaml_12_without_sexagesimal_or_implicit_octal() -> None:
    """`010` is ten, `0o17` is octal, `1:20` stays a string, `10.6` is a float."""
    data = parse_yaml("x.yaml", b"a: 010\nb: 0o17\nc: 1:20\nd: 10.6\ne: 0x1F\nf: -3\n").data
    assert data == {"a": 10, "b": 15, "c": "1:20", "d": 10.6, "e": 31, "f": -3}


@pytest.mark.parametrize(("text", "message"), [
    (b"a: .inf\n", "x.yaml:1:4: error: .inf is not supported here: numbers must be finite [yaml-number]"),
    (b"a: 1e999\n", "x.yaml:1:4: error: 1e999 is out of range: numbers must be finite [yaml-number]"),
    (b"a: 9223372036854775808\n", "x.yaml:1:4: error: the integer 9223372036854775808 is out of range (64-bit) "
                                   "[yaml-number]"),
    (b"a: [1, " + b"9" * 5000 + b"]\n", "x.yaml:1:8: error: the integer 999999999999999999999999… is out of "
                                        "range (64-bit) [yaml-number]"),
])
def test_numbers_beyond_64_bits_or_not_finite_are_refused_at_their_place(text: bytes, message: str) -> None:
    """Infinities, NaN and huge integers cannot be hashed, compared or sent to a router: refused where written."""
    assert only_problem(text) == message


def test_deep_block_nesting_is_refused_at_the_level_too_deep() -> None:
    """Indentation-only nesting (which the flow pre-check cannot see) is refused while building, not crashing."""
    raw = b"x:\n" + b"".join(b" " * depth + b"k:\n" for depth in range(1, 500)) + b" " * 500 + b"v: 1\n"
    assert only_problem(raw) == "x.yaml:65:65: error: nesting deeper than 64 levels [yaml-too-deep]"


def test_dates_nulls_and_quoted_strings() -> None:
    """Dates become dates, `~`/null/empty become None, quoted scalars stay strings."""
    data = parse_yaml("x.yaml", b'a: 2026-03-02\nb: ~\nc:\nd: "10.6"\ne: \'true\'\n').data
    assert data == {"a": dt.date(2026, 3, 2), "b": None, "c": None, "d": "10.6", "e": "true"}


def test_secret_tag_becomes_a_reference() -> None:
    """`!secret name` is a SecretRef, not a string with the name."""
    assert parse_yaml("x.yaml", b"pw: !secret admin-europe\n").data == {"pw": SecretRef("admin-europe")}


def test_merge_keys_merge_and_explicit_keys_win() -> None:
    """`<<: *anchor` merges; an explicit key overrides the merged one wherever it stands."""
    raw = b"base: &b {x: 1, y: 2}\nnode:\n  y: 3\n  <<: *b\n"
    assert parse_yaml("x.yaml", raw).data["node"] == {"x": 1, "y": 3}


def test_duplicate_keys_are_errors_with_both_lines() -> None:
    """A key written twice in one mapping is an error at the second, naming the first line."""
    message = only_problem(b"a: 1\nb:\n  c: 1\n  c: 2\n")
    assert message == "x.yaml:4:3: error: duplicate key 'c' (first defined at line 3) [yaml-duplicate-key]"


def test_syntax_error_has_line_and_column() -> None:
    """A YAML syntax error points at the offending position."""
    assert only_problem(b"a: [1, 2\nb: 3\n").startswith("x.yaml:2:")


def test_unsupported_tags_are_refused() -> None:
    """Python object tags and other unknown tags never construct anything."""
    assert "[yaml-tag]" in only_problem(b"a: !!python/object/apply:os.system ['true']\n")


def test_alias_bomb_is_refused_quickly_and_small() -> None:
    """A billion-laughs document is refused without expanding it."""
    lines = [b'a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    lines += [b"a%d: &a%d [" % (i, i) + b",".join([b"*a%d" % (i - 1)] * 10) + b"]" for i in range(1, 10)]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    message = only_problem(b"\n".join(lines) + b"\n")
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert "alias bomb" in message
    assert grown_kib < 50_000


def test_recursive_alias_is_refused() -> None:
    """A node that contains itself is an error, not an endless structure."""
    assert "recursive alias" in only_problem(b"a: &a [1, *a]\n")


@pytest.mark.parametrize("raw", [b"[" * 100_000 + b"]" * 100_000, b"- " * 100_000 + b"x\n",
                                 b"a: " + b"{b: " * 5_000 + b"1" + b"}" * 5_000 + b"\n"])
def test_deep_nesting_is_refused_instead_of_crashing(raw: bytes) -> None:
    """Nesting that would overflow libyaml's recursive composer is refused before composing."""
    assert "[yaml-too-deep]" in only_problem(raw)


def test_file_over_the_size_limit_is_refused_unparsed() -> None:
    """A 50 MB file is refused by size, before any parsing."""
    message = only_problem(b"a: " + b"x" * (50 * 1024 * 1024))
    assert "the limit is" in message
    assert f"the limit is {limits.YAML_BYTES:,} bytes (split it)" in message


@pytest.mark.parametrize("raw", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", bytes(range(256)) * 64])
def test_binary_garbage_is_refused_as_not_text(raw: bytes) -> None:
    """Binary data gets a clear "not text" error with its position."""
    assert "[not-text]" in only_problem(raw)


def test_invalid_utf8_points_at_the_byte() -> None:
    """Invalid UTF-8 is reported at its line and column."""
    assert only_problem(b"a: 1\nb: caf\xe9\n").startswith("x.yaml:2:7: error: not UTF-8 text")


def test_positions_point_at_values_keys_and_parents() -> None:
    """PositionIndex finds a value, a key, and the nearest parent of a missing key."""
    raw = b"devices:\n  - name: a\n    fields:\n      vlan: x\n  - name: b\n    tempalte: y\n"
    index = PositionIndex(raw)
    assert index.locate(("devices", 0, "fields", "vlan")) == (4, 13)
    assert index.locate(("devices", 1, "tempalte"), at_key=True) == (6, 5)
    assert index.locate(("devices", 1, "serial")) == (5, 5)


def test_positions_follow_merge_keys() -> None:
    """A key that comes from a merged anchor is found in the anchor."""
    raw = b"base: &b\n  x: 1\nnode:\n  <<: *b\n  y: 2\n"
    assert PositionIndex(raw).locate(("node", "x")) == (2, 6)
