"""Tests for the icom OS ASCII configuration parser, its canonical text and its hash."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.configs import (
    ConfigError,
    ParsedConfig,
    config_hash,
    in_list,
    natural_key,
    parse_config,
    serialize,
)

PEM = (
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBszCCAVmgAwIBAgIUQ1pX3o0=\n"
    "a.b=this line is certificate text, not a key\n"
    "\n"
    "# nor is this a comment\n"
    "-----END CERTIFICATE-----"
)


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


def clean(text: str) -> ParsedConfig:
    parsed = parse_config(text)
    assert parsed.errors == (), parsed.errors
    return parsed


def error_lines(text: str) -> list[int]:
    return [error.line for error in parse_config(text).errors]


# --- plain lines ---------------------------------------------------------------------------------


def test_plain_lines_become_key_value_pairs() -> None:
    """Each `key=value` line becomes one entry, in the order the keys first appear."""
    parsed = clean(lines("administration.hostnames.hostname=ber-r01", "services.ssh.enabled=1", "a.ref=---"))
    assert list(parsed.values.items()) == [
        ("administration.hostnames.hostname", "ber-r01"),
        ("services.ssh.enabled", "1"),
        ("a.ref", "---"),
    ]
    assert parsed.owned_lists == frozenset()


def test_value_is_everything_after_the_first_equals_sign_verbatim() -> None:
    """A value keeps further `=` signs and surrounding spaces; only the line's trailing CR is dropped."""
    parsed = clean("a.filter=x=1&y==2 \r\na.empty=\r\na.spaced= two words \n")
    assert parsed.values == {"a.filter": "x=1&y==2 ", "a.empty": "", "a.spaced": " two words "}


def test_key_names_may_contain_dashes_underscores_and_digits() -> None:
    """Segments are made of letters, digits, `_` and `-`."""
    assert clean("ipsec.con-1.ike_v2.p2=x").values == {"ipsec.con-1.ike_v2.p2": "x"}


def test_later_assignment_of_a_key_wins_and_keeps_its_first_position() -> None:
    """A key assigned twice holds the later value, as on the router, where it was first assigned."""
    parsed = clean(lines("a.x=1", "a.y=2", "a.x=3"))
    assert list(parsed.values.items()) == [("a.x", "3"), ("a.y", "2")]


def test_text_without_trailing_newline_is_parsed_completely() -> None:
    """The last line counts even without a final line end."""
    assert clean("a.x=1\na.y=2").values == {"a.x": "1", "a.y": "2"}


def test_empty_text_parses_to_an_empty_configuration() -> None:
    """No lines, no values, no errors."""
    assert parse_config("") == ParsedConfig({}, frozenset(), ())


# --- comments, blank lines, BOM, CRLF ------------------------------------------------------------


def test_comments_and_blank_lines_are_ignored() -> None:
    """Blank lines and lines whose first non-blank character is `#` carry no values."""
    parsed = clean(lines("# header", "", "   ", "  # indented comment=with equals", "\t", "a.x=1"))
    assert parsed.values == {"a.x": "1"}


def test_leading_bom_is_dropped_and_crlf_is_accepted() -> None:
    """A UTF-8 BOM at the start does not become part of the first key, and CRLF ends lines."""
    parsed = clean("\ufeffa.x=1\r\na.y=2\r\n# c\r\n\r\na.z=3\r")
    assert parsed.values == {"a.x": "1", "a.y": "2", "a.z": "3"}


def test_a_cr_inside_a_value_is_kept() -> None:
    """Only a CR that ends the line is a line end; elsewhere it is part of the value."""
    assert clean("a.x=1\r2\n").values == {"a.x": "1\r2"}


# --- indices and lists ---------------------------------------------------------------------------


def test_numeric_indices_and_nested_lists_are_kept_as_written() -> None:
    """Explicit indices, also on several segments of one key, stay as they are in the canonical key."""
    parsed = clean(
        lines(
            "interfaces.net1.ip_address[1].ip_address=192.168.10.1",
            "a.b[2].c[10].d=x",
            "dns.server[3]=9.9.9.9",
        )
    )
    assert parsed.values == {
        "interfaces.net1.ip_address[1].ip_address": "192.168.10.1",
        "a.b[2].c[10].d": "x",
        "dns.server[3]": "9.9.9.9",
    }


def test_last_refers_to_the_highest_explicit_index_so_far() -> None:
    """An explicit `[n]` makes the list at least n long, so a following `[last]` means element n."""
    parsed = clean(lines("a.rule[3].x=1", "a.rule[1].x=2", "a.rule[last].y=3"))
    assert parsed.values == {"a.rule[3].x": "1", "a.rule[1].x": "2", "a.rule[3].y": "3"}


def test_last_is_resolved_per_nested_list() -> None:
    """`[last]` on an inner list refers to the inner list of the element the outer index names."""
    parsed = clean(
        lines(
            "a.b[1].c[2].d=x",
            "a.b[2].c[5].d=y",
            "a.b[last].c[last].e=z",
            "a.b[1].c[last].e=w",
        )
    )
    assert parsed.values["a.b[2].c[5].e"] == "z"
    assert parsed.values["a.b[1].c[2].e"] == "w"


def test_add_appends_an_empty_element_that_last_then_refers_to() -> None:
    """`.add` lengthens the list by one without creating values; `[last]` names the new element."""
    parsed = clean(lines("a.rule[2].x=1", "a.rule.add", "a.rule[last].x=2"))
    assert parsed.values == {"a.rule[2].x": "1", "a.rule[3].x": "2"}


def test_add_with_a_count_appends_that_many_elements() -> None:
    """`.add=3` lengthens the list by three."""
    parsed = clean(lines("a.rule.add=3", "a.rule[last].x=1", "a.rule.add=2", "a.rule[last].x=2"))
    assert parsed.values == {"a.rule[3].x": "1", "a.rule[5].x": "2"}


def test_add_on_a_nested_list_path_resolves_the_outer_index() -> None:
    """The list path of a directive may itself contain `[n]` and `[last]`."""
    parsed = clean(
        lines("a.b.add", "a.b.add", "a.b[last].rules.add", "a.b[last].rules.add", "a.b[last].rules[last].p=1")
    )
    assert parsed.values == {"a.b[2].rules[2].p": "1"}


def test_vendor_example_with_delete_add_and_last() -> None:
    """The documented firewall example resolves to numbered rules and claims the rule list."""
    parsed = clean(
        lines(
            "netfilter.ip_filter.rule.delete=all",
            "netfilter.ip_filter.rule.add",
            "netfilter.ip_filter.rule[last].rule_description=Allow UC client",
            "netfilter.ip_filter.rule[last].rule_dport=443",
            "netfilter.ip_filter.rule.add",
            "netfilter.ip_filter.rule[last].rule_dport=8443",
        )
    )
    assert parsed.values == {
        "netfilter.ip_filter.rule[1].rule_description": "Allow UC client",
        "netfilter.ip_filter.rule[1].rule_dport": "443",
        "netfilter.ip_filter.rule[2].rule_dport": "8443",
    }
    assert parsed.owned_lists == frozenset({"netfilter.ip_filter.rule"})


def test_delete_all_removes_the_elements_and_resets_the_length() -> None:
    """`.delete=all` drops every key of the list's elements, and numbering starts again at 1."""
    parsed = clean(
        lines(
            "a.rule[1].x=old",
            "a.rule[7].x=old",
            "a.rules_other=kept",
            "a.rule_count=kept",
            "a.rule.delete=all",
            "a.rule.add",
            "a.rule[last].x=new",
        )
    )
    assert parsed.values == {"a.rules_other": "kept", "a.rule_count": "kept", "a.rule[1].x": "new"}
    assert parsed.owned_lists == frozenset({"a.rule"})


def test_delete_all_of_an_outer_list_drops_inner_lists_and_their_ownership() -> None:
    """Clearing a list clears the lists inside its elements too, including their owned status."""
    parsed = clean(
        lines(
            "a.b[1].c.delete=all",
            "a.b[1].c[4].x=1",
            "a.b.delete=all",
            "a.b.add",
            "a.b[last].c.add",
            "a.b[last].c[last].x=2",
        )
    )
    assert parsed.values == {"a.b[1].c[1].x": "2"}
    assert parsed.owned_lists == frozenset({"a.b"})


def test_delete_all_on_a_nested_list_records_the_canonical_path() -> None:
    """An owned list path is recorded with `[last]` resolved."""
    parsed = clean(lines("a.b.add=2", "a.b[last].c.delete=all"))
    assert parsed.owned_lists == frozenset({"a.b[2].c"})


def test_directives_accept_surrounding_whitespace_in_their_argument() -> None:
    """`.add=2 `, `.delete=all ` and a trailing blank after `.add` are still directives."""
    parsed = clean(lines("a.r.add=2 ", "a.r[last].x=1", "a.s.delete=all ", "a.s.add  ", "a.s[last].x=2"))
    assert parsed.values == {"a.r[2].x": "1", "a.s[1].x": "2"}


def test_a_key_named_add_with_an_index_is_a_plain_key() -> None:
    """Only a bare last segment `add`/`delete` is a directive; `add[1]` or a single-segment `add` is a key."""
    parsed = clean(lines("a.add[1]=x", "add=5", "a.address=y"))
    assert parsed.values == {"a.add[1]": "x", "add": "5", "a.address": "y"}


# --- multi-line values ---------------------------------------------------------------------------


def test_pem_value_spans_lines_up_to_the_end_marker() -> None:
    """A BEGIN block is one value, markers included, and its inner lines are not parsed as statements."""
    parsed = clean(lines("a.before=1", f"certs.ca[1].cert={PEM}", "a.after=2"))
    assert parsed.values == {"a.before": "1", "certs.ca[1].cert": PEM, "a.after": "2"}


def test_pem_value_with_crlf_line_ends_drops_the_crs() -> None:
    """Block lines lose their trailing CR like any other line."""
    parsed = clean(f"a.key={PEM}\n".replace("\n", "\r\n"))
    assert parsed.values == {"a.key": PEM}


def test_block_ends_only_at_the_end_marker_with_the_same_label() -> None:
    """An END marker of another label inside the block does not end it."""
    value = "-----BEGIN OUTER-----\n-----END INNER-----\nbody\n-----END OUTER-----"
    assert clean(lines(f"a.x={value}", "a.y=1")).values == {"a.x": value, "a.y": "1"}


def test_single_line_wrapper_is_complete_on_its_line() -> None:
    """`-----BEGIN x-----text-----END x-----` on one line does not swallow the following lines."""
    note = "-----BEGIN device_note-----Rack 4, left=top-----END device_note-----"
    parsed = clean(lines(f"administration.note={note}", "a.y=1"))
    assert parsed.values == {"administration.note": note, "a.y": "1"}


def test_value_starting_with_dashes_but_no_begin_marker_is_single_line() -> None:
    """Only a complete `-----BEGIN <LABEL>-----` opens a block."""
    parsed = clean(lines("a.x=-----BEGIN without closing dashes", "a.y=-----", "a.z=1"))
    assert parsed.values == {"a.x": "-----BEGIN without closing dashes", "a.y": "-----", "a.z": "1"}


def test_block_value_may_resolve_last_in_its_key() -> None:
    """The key of a block line is resolved like any other key."""
    parsed = clean(lines("a.cert.add", f"a.cert[last].pem={PEM}"))
    assert parsed.values == {"a.cert[1].pem": PEM}


def test_unterminated_block_is_an_error_at_its_first_line() -> None:
    """A BEGIN block without its END marker is reported at the line it began and assigns nothing."""
    parsed = parse_config(lines("a.x=1", "a.bad[1].cert=-----BEGIN CERTIFICATE-----", "MIIB", "a.y=2"))
    assert parsed.values == {"a.x": "1"}
    assert [error.line for error in parsed.errors] == [2]
    assert "-----END CERTIFICATE-----" in parsed.errors[0].message
    assert "a.bad[1].cert" in parsed.errors[0].message


# --- errors ----------------------------------------------------------------------------------------


def test_last_on_an_empty_list_is_an_error() -> None:
    """`[last]` before any element exists names nothing; the line is reported and skipped."""
    parsed = parse_config(lines("a.rule[last].x=1", "a.rule.delete=all", "a.rule[last].x=2", "a.ok=1"))
    assert parsed.values == {"a.ok": "1"}
    assert [error.line for error in parsed.errors] == [1, 3]
    assert all("[last]" in error.message and "'a.rule'" in error.message for error in parsed.errors)


def test_index_zero_is_an_error() -> None:
    """Indices are 1-based, so `[0]` is reported with that explanation."""
    parsed = parse_config(lines("a.rule[0].x=1", "a.rule[last].x=2"))
    assert parsed.values == {}
    assert parsed.errors[0] == ConfigError(
        1, "'a.rule[0].x': index [0] is not allowed, list indices start at 1"
    )
    assert parsed.errors[1].line == 2, "a failed line must not lengthen any list"


def test_bad_indices_are_errors() -> None:
    """Indices other than positive integers without leading zeros and `[last]` are rejected."""
    text = lines("a.b[01].c=1", "a.b[-1]=1", "a.b[first]=1", "a.b[]=1", "a.b[1.5]=1", "a.b[ 1]=1")
    parsed = parse_config(text)
    assert [error.line for error in parsed.errors] == [1, 2, 3, 4, 5, 6]
    assert all("expected a positive integer or 'last'" in error.message for error in parsed.errors)
    assert parsed.values == {}


def test_malformed_lines_are_all_reported_with_their_line_numbers() -> None:
    """Parsing goes on after a bad line, so every bad line of a text is reported, in order."""
    text = lines(
        "a.ok=1",
        "no equals sign here",
        "=value without key",
        "a..b=1",
        "a.b c=1",
        " a.indented=1",
        "a.b[1]x=1",
        "a.b[[1]]=1",
        "a.ok2=2",
        "a.x.delete=some",
        "a.x.delete",
        "a.x.add=0",
        "a.x.add=two",
        "a.x[1].add",
        "a.x[last].delete=all",
    )
    parsed = parse_config(text)
    assert [error.line for error in parsed.errors] == [2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15]
    assert parsed.values == {"a.ok": "1", "a.ok2": "2"}
    assert parsed.owned_lists == frozenset()


def test_error_messages_name_the_problem_and_quote_the_line() -> None:
    """Messages say what is wrong and quote the offending text."""
    errors = parse_config(lines("junk", "a.b c=1", "a.x.delete=some", "a.x.add=two", "a.x[2].add")).errors
    assert [str(error) for error in errors] == [
        "line 1: expected 'key=value' or '<list>.add': 'junk'",
        "line 2: malformed key 'a.b c': expected dot-separated names of letters, digits, '_' or '-', "
        "each optionally indexed as [n] or [last]",
        "line 3: '.delete=' accepts only 'all', not 'some'",
        "line 4: '.add=' takes a positive element count, not 'two'",
        "line 5: a directive needs a list, not the list element 'a.x[2]'",
    ]


def test_error_messages_quote_at_most_80_characters_of_the_line() -> None:
    """A long malformed line is cut in the message."""
    long_line = "x" * 500
    (error,) = parse_config(long_line).errors
    quoted = re.findall(r"'(x+)'", error.message)
    assert quoted == ["x" * 80]
    assert error.message.endswith("…")


def test_errors_inside_a_valid_text_do_not_disturb_the_good_lines() -> None:
    """Good lines around bad ones are parsed as if the bad ones were not there."""
    parsed = parse_config(
        lines("a.r.add", "bad line", "a.r[last].x=1", "a.r[0].x=2", "a.r.add", "a.r[last].x=3")
    )
    assert parsed.values == {"a.r[1].x": "1", "a.r[2].x": "3"}
    assert error_lines(lines("a.r.add", "bad line", "a.r[last].x=1", "a.r[0].x=2")) == [2, 4]


# --- natural ordering, serialize, hash, in_list --------------------------------------------------


def test_natural_key_compares_indices_numerically() -> None:
    """rule[2] sorts before rule[10], and nested indices compare numerically too."""
    keys = ["a.rule[10].x", "a.rule[2].y", "a.rule[2].x", "a.rule[1].z[11]", "a.rule[1].z[9]", "a.other"]
    assert sorted(keys, key=natural_key) == [
        "a.other",
        "a.rule[1].z[9]",
        "a.rule[1].z[11]",
        "a.rule[2].x",
        "a.rule[2].y",
        "a.rule[10].x",
    ]


def test_natural_key_never_ties_distinct_keys() -> None:
    """Only canonical indices compare as numbers, so `[01]` and `[1]` keep distinct sort keys and
    serialize's order does not depend on insertion order even for non-canonical keys."""
    assert natural_key("a.r[01]") != natural_key("a.r[1]")
    assert serialize({"a.r[01]": "x", "a.r[1]": "y"}) == serialize({"a.r[1]": "y", "a.r[01]": "x"})


def test_serialize_writes_one_line_per_key_in_natural_order() -> None:
    """Canonical text is `key=value` lines in natural key order, block values written as they are."""
    values = {"b.rule[10].x": "3", "b.rule[2].x": "2=two", "a.cert": PEM}
    assert serialize(values) == f"a.cert={PEM}\nb.rule[2].x=2=two\nb.rule[10].x=3\n"


def test_serialize_of_nothing_is_empty() -> None:
    """An empty mapping has empty canonical text."""
    assert serialize({}) == ""


def test_config_hash_does_not_depend_on_key_order() -> None:
    """The same mapping built in another order has the same hash; another value changes it."""
    forward = {"a.x": "1", "a.r[2].y": "2", "a.r[10].y": "3"}
    backward = dict(reversed(list(forward.items())))
    assert list(forward) != list(backward)
    assert config_hash(forward) == config_hash(backward)
    assert re.fullmatch(r"[0-9a-f]{64}", config_hash(forward))
    assert config_hash(forward) != config_hash({**forward, "a.x": "2"})


def test_config_hash_of_parsed_spellings_of_the_same_configuration_is_equal() -> None:
    """`[last]`/`.add` and explicit indices that mean the same configuration hash the same."""
    with_last = clean(lines("a.r.add", "a.r[last].x=1", "a.r.add", "a.r[last].x=2"))
    explicit = clean(lines("a.r[2].x=2", "a.r[1].x=1"))
    assert config_hash(with_last.values) == config_hash(explicit.values)


def test_in_list_matches_only_elements_of_that_exact_list() -> None:
    """A key is in a list when it starts with the list path followed by an index."""
    assert in_list("a.rule[1].x", "a.rule")
    assert in_list("a.b[2].c[1]", "a.b[2].c")
    assert not in_list("a.rules[1].x", "a.rule")
    assert not in_list("a.rule_count", "a.rule")
    assert not in_list("a.rule", "a.rule")


# --- round trip ------------------------------------------------------------------------------------

_LINE_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\r\n", exclude_categories=["Cs"]))
_NAME = st.from_regex(r"[A-Za-z0-9_-]{1,8}", fullmatch=True)
_SEGMENT = st.builds(
    lambda name, index: name if index is None else f"{name}[{index}]",
    _NAME,
    st.none() | st.integers(min_value=1, max_value=30),
)
# A last segment `add`/`delete` would be a directive, which the parser never produces as a key.
_KEY = (
    st.lists(_SEGMENT, min_size=1, max_size=4)
    .map(".".join)
    .filter(lambda key: not re.search(r"\.(add|delete)$", key))
)
_LABEL = st.sampled_from(["CERTIFICATE", "RSA PRIVATE KEY", "device_note", "X509 CRL"])
_PLAIN_VALUE = _LINE_TEXT.filter(lambda value: not value.startswith("-----BEGIN"))
_WITH_EQUALS = st.builds(lambda left, right: f"{left}={right}", _PLAIN_VALUE, _LINE_TEXT)
_BLOCK_LINE = _LINE_TEXT.filter(lambda line: "-----END" not in line)
_PEM_BLOCK = st.builds(
    lambda label, body: "\n".join([f"-----BEGIN {label}-----", *body, f"-----END {label}-----"]),
    _LABEL,
    st.lists(_BLOCK_LINE, max_size=4),
)
_WRAPPER = st.builds(
    lambda label, text: f"-----BEGIN {label}-----{text}-----END {label}-----",
    _LABEL,
    _BLOCK_LINE,
)
_VALUE = st.one_of(_PLAIN_VALUE, _WITH_EQUALS, _PEM_BLOCK, _WRAPPER)


@given(st.dictionaries(_KEY, _VALUE, max_size=12))
def test_serialize_round_trips_through_parse(values: dict[str, str]) -> None:
    """Parsing canonical text gives back exactly the mapping it was written from."""
    text = serialize(values)
    parsed = parse_config(text)
    assert parsed.errors == ()
    assert parsed.values == values
    assert serialize(parsed.values) == text


@given(st.dictionaries(_KEY, _VALUE, max_size=12), st.data())
def test_config_hash_is_invariant_under_insertion_order(values: dict[str, str], data: st.DataObject) -> None:
    """Inserting the same entries in any other order never changes the hash."""
    shuffled = data.draw(st.permutations(list(values.items())))
    assert config_hash(dict(shuffled)) == config_hash(values)
