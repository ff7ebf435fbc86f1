"""The worst templates known for the sandbox: every operation whose cost is not linear in what it reads.

Each `Adversary` is a template (with, for some, a context a fleet repository could hold: a long
string of distinct characters, many rows) and the outcome it must have at the default budget: a
"budget", "security" or "syntax" problem, or "ok" (it renders). The test of the sandbox's bounds
renders each and checks the outcome; `bench/sandbox.py` times each at the default budget, the
figure that shows no accepted template takes long.

The loops (`LOOP`) repeat an operation until the budget runs out: that is the worst a template can
do with it, so their time is what the budget is calibrated against.
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["budget", "security", "syntax", "render", "ok"]

# Repeat the body until the budget runs out (100 x 100,000 iterations is far beyond any budget).
LOOP = "{% for i in range(100) %}{% for j in range(100000) %}BODY{% endfor %}{% endfor %}"


def _loop(body: str, setup: str = "") -> str:
    return setup + LOOP.replace("BODY", body)


def _distinct_characters() -> dict[str, Any]:
    # 20,000 different CJK characters: the input that makes punycode quadratic.
    return {"cjk": "".join(map(chr, range(0x4E00, 0x4E00 + 20_000)))}


def _rows() -> dict[str, Any]:
    return {"rows": [{"name": f"r{i:06d}", "prio": i % 97, "tags": ["a", "b"]} for i in range(30_000)]}


def _prefixed() -> dict[str, Any]:
    # Distinct strings with a long common prefix: sorting compares the prefix every time.
    return {"prefixed": ["p" * 2_000 + f"{i:05d}" for i in range(5_000, 0, -1)]}


def _aliased() -> dict[str, Any]:
    # What YAML aliases build: one long string referred to from many places.
    long = "a" * 100_000
    return {"many": [long] * 2_000, "probe": "a" * 99_999 + "b"}


# Integers that are multiples of the modulus CPython reduces integer hashes by: they all hash to 0.
HASH_MODULUS = sys.hash_info.modulus
COLLIDING_INTS = f"{{% set xs = range(0, {HASH_MODULUS} * 50000, {HASH_MODULUS}) %}}"


def colliding_pairs(count: int, target: int = 12345) -> list[tuple[int, int]]:
    """`count` pairs of integers below 2**61 whose tuples all hash to `target` (CPython 3.11's tuple hash).

    A tuple's hash mixes its items' hashes with an invertible step, so for any first item the second
    can be solved for; about one first item in four gives a second that is a small integer's hash.
    """
    mask = (1 << 64) - 1
    prime1, prime2, prime5 = 11400714785074694791, 14029467366897019727, 2870177450012600261

    def rotate_left(x: int) -> int:
        return ((x << 31) | (x >> 33)) & mask

    def rotate_right(x: int) -> int:
        return ((x >> 31) | (x << 33)) & mask

    wanted = rotate_right(((target - (2 ^ prime5 ^ 3527539)) * pow(prime1, -1, 1 << 64)) & mask)
    pairs = []
    first = 1
    while len(pairs) < count:
        mixed = (rotate_left((prime5 + first * prime2) & mask) * prime1) & mask
        second = ((wanted - mixed) * pow(prime2, -1, 1 << 64)) & mask
        if 1 < second < HASH_MODULUS:
            pairs.append((first, second))
        first += 1
    return pairs


def _pairs() -> dict[str, Any]:
    # As a fleet repository could hold them: a flat list of integers (pairs are made in the template).
    return {"flat": [number for pair in colliding_pairs(5_000) for number in pair]}


def _dates() -> dict[str, Any]:
    return {"day": datetime.date(2026, 11, 21), "moment": datetime.datetime(2026, 11, 21, 12, 0)}


@dataclass(frozen=True)
class Adversary:
    """A template, what it must end in at the default budget, and the context it renders with."""

    name: str
    source: str
    outcome: Outcome
    context: Callable[[], Mapping[str, Any]] = field(default=dict)


# A list of 100,000 references to one string of a million characters, built without copying:
# it prints as 10**11 characters.
ALIASES = "{% set s = 'a' * 1000000 %}{% set big = ([0] * 100000) | map('default', s, true) | list %}"
# The widest integers a template may hold.
WIDE_INTS = "{% set x = 2 ** 4095 - 1 %}{% set y = 2 ** 2047 - 1 %}"
# Two equal strings of 100,000 characters that are different objects (comparing them reads them).
TWINS = "{% set a = 'x' * 100000 %}{% set b = 'x' * 99999 ~ 'x' %}"

# A dict of 50,000 items (a dict comprehension does not exist; fromkeys builds one).
WIDE = "{% set d = dict.fromkeys(range(50000) | map('string'), 'v') %}"

ADVERSARIES: tuple[Adversary, ...] = (
    # -- codecs: only utf-8, ascii and latin-1, with bounded error handlers
    Adversary("encode punycode", "{{ cjk.encode('punycode') | length }}", "security", _distinct_characters),
    Adversary("encode idna", "{{ cjk.encode('idna') | length }}", "security", _distinct_characters),
    Adversary("encode utf-7", "{{ cjk.encode('utf-7') | length }}", "security", _distinct_characters),
    Adversary("encode by keyword", "{{ cjk.encode(encoding='punycode') | length }}", "security",
              _distinct_characters),
    Adversary("decode punycode", "{{ 'abc-'.encode().decode('punycode') }}", "security"),
    Adversary("decode unicode escapes", "{{ 'abc'.encode().decode('unicode_escape') }}", "security"),
    Adversary("encode namereplace", "{{ cjk.encode('ascii', 'namereplace') | length }}", "security",
              _distinct_characters),
    Adversary("encode xmlcharrefreplace beyond the bound",
              "{{ (cjk * 10).encode('ascii', 'xmlcharrefreplace') | length }}", "budget", _distinct_characters),
    Adversary("decode backslashreplace beyond the bound",
              "{{ ('\\u00ff' * 500000).encode('latin-1').decode('ascii', 'backslashreplace') | length }}", "budget"),
    Adversary("encode utf-8 in a loop", _loop("{% set b = cjk.encode('utf-8') %}"), "budget", _distinct_characters),
    Adversary("allowed codecs render", "{{ 'é'.encode('UTF-8') | length }}{{ 'é'.encode('Latin-1') | length }}"
              "{{ 'e'.encode('us-ascii').decode('ascii') }}{{ 'é'.encode('ascii', 'xmlcharrefreplace') }}", "ok"),
    # -- searching from the right is quadratic in CPython
    Adversary("rfind", "{% set h = 'a' * 500000 %}{{ h.rfind('ab' ~ 'a' * 250000) }}", "budget"),
    Adversary("rindex", "{% set h = 'a' * 500000 %}{{ h.rindex('ab' ~ 'a' * 250000) }}", "budget"),
    Adversary("rpartition", "{% set h = 'a' * 500000 %}{{ h.rpartition('ab' ~ 'a' * 250000) | length }}", "budget"),
    Adversary("rsplit", "{% set h = 'a' * 500000 %}{{ h.rsplit('ab' ~ 'a' * 250000) | length }}", "budget"),
    Adversary("bytes rfind", "{% set h = ('a' * 500000).encode() %}{{ h.rfind(('ab' ~ 'a' * 250000).encode()) }}",
              "budget"),
    Adversary("rfind of a mid-sized needle in a loop",
              _loop("{% set x = h.rfind(n) %}", "{% set h = 'a' * 100000 %}{% set n = 'ab' ~ 'a' * 100 %}"), "budget"),
    # -- searching forward: linear, or bounded by the needle for the short haystacks CPython searches naively
    Adversary("forward search, naive regime, in a loop",
              _loop("{% if n in h %}{% endif %}", "{% set h = 'a' * 2499 %}{% set n = 'a' * 1247 ~ 'ba' %}"), "budget"),
    Adversary("find, naive regime, in a loop",
              _loop("{% set x = h.find(n) %}", "{% set h = 'a' * 2499 %}{% set n = 'a' * 1247 ~ 'ba' %}"), "budget"),
    Adversary("count, naive regime, in a loop",
              _loop("{% set x = h.count(n) %}", "{% set h = 'a' * 2499 %}{% set n = 'a' * 1247 ~ 'ba' %}"), "budget"),
    Adversary("split on a long separator in a loop",
              _loop("{% set x = h.split(n) %}", "{% set h = 'a' * 29999 %}{% set n = 'a' * 97 ~ 'ba' %}"), "budget"),
    # -- methods and filters that grow their result
    Adversary("center", "{{ 'x'.center(10**9) }}", "budget"),
    Adversary("ljust in a loop", _loop("{% set x = 'x'.ljust(1000000) %}"), "budget"),
    Adversary("zfill", "{{ '1'.zfill(10**9) }}", "budget"),
    Adversary("expandtabs", "{{ ('\\t' * 1000).expandtabs(10**6) }}", "budget"),
    Adversary("replace growing", "{{ ('x' * 1000).replace('x', 'y' * 100000) }}", "budget"),
    Adversary("replace filter growing in a loop",
              _loop("{% set x = s | replace('a', 'bb') %}", "{% set s = 'a' * 500000 %}"), "budget"),
    Adversary("join", "{{ range(100000) | join('x' * 1000) }}", "budget"),
    Adversary("translate", "{{ ('x' * 1000).translate({120: 'y' * 10000}) }}", "budget"),
    Adversary("printf width", "{{ '%1000000000d' % 1 }}", "budget"),
    Adversary("printf star width", "{{ '%*d' % (10**9, 1) }}", "budget"),
    Adversary("format width", "{{ '{:>1000000000}'.format(1) }}", "budget"),
    Adversary("format filter width", "{{ '%1000000000s' | format('x') }}", "budget"),
    Adversary("repeat string", "{{ 'x' * 10**9 }}", "budget"),
    Adversary("repeat string in a loop", _loop("{% set x = 'x' * 1000000 %}"), "budget"),
    Adversary("upper of sharp s in a loop", _loop("{% set x = s.upper() %}", "{% set s = 'ß' * 500000 %}"), "budget"),
    Adversary("title filter in a loop", _loop("{% set x = s | title %}", "{% set s = 'a b ' * 250000 %}"), "budget"),
    Adversary("splitlines in a loop", _loop("{% set x = s.splitlines() %}", "{% set s = '\\n' * 1000000 %}"), "budget"),
    Adversary("split in a loop", _loop("{% set x = s.split() %}", "{% set s = 'a ' * 500000 %}"), "budget"),
    Adversary("striptags in a loop", _loop("{% set x = s | striptags %}", "{% set s = '<>' * 500000 %}"), "budget"),
    Adversary("escape", "{{ ('\"' * 1000000) | escape | length }}", "budget"),
    Adversary("indent", "{{ ('a\\n' * 100000) | indent(100) }}", "budget"),
    Adversary("wordwrap of one long word", "{{ ('x' * 300000) | wordwrap(1) | length }}", "budget"),
    Adversary("wordwrap of long words in a loop", _loop("{% set x = s | wordwrap(79) %}", "{% set s = 'x' * 20000 %}"),
              "budget"),
    Adversary("wordwrap of hyphens in a loop", _loop("{% set x = s | wordwrap(79) %}", "{% set s = 'a-' * 100000 %}"),
              "budget"),
    Adversary("truncate", "{{ 'x' | truncate(10**9) }}", "budget"),
    # -- integers stay within MAX_INT_BITS, so arithmetic on them stays cheap
    Adversary("power", "{{ 2 ** (10 ** 10) }}", "budget"),
    Adversary("product", "{{ (2 ** 4000) * (2 ** 4000) }}", "budget"),
    Adversary("doubling by addition", "{% set ns = namespace(x=1) %}" + _loop("{% set ns.x = ns.x + ns.x %}"),
              "budget"),
    Adversary("doubling by subtraction", "{% set ns = namespace(x=-1) %}" + _loop("{% set ns.x = ns.x - (0 - ns.x) %}"),
              "budget"),
    Adversary("int of a long hexadecimal string", "{{ ('f' * 1000000) | int(base=16) % 7 }}", "budget"),
    Adversary("from_bytes", "{{ (0).from_bytes(('x' * 1000000).encode(), 'big') % 7 }}", "budget"),
    Adversary("to_bytes", "{{ (1).to_bytes(10**9, 'big') }}", "budget"),
    Adversary("decimal literal", "{{ " + "1" * 5000 + " }}", "syntax"),
    Adversary("hexadecimal literal", "{{ 0x" + "f" * 100000 + " % 7 }}", "syntax"),
    Adversary("round to a huge precision", "{{ 1.5 | round(1000000000, 'ceil') }}", "budget"),
    Adversary("round an integer to a huge negative precision", "{{ 5 | round(-1000000000) }}", "budget"),
    Adversary("division of the widest integers in a loop", _loop("{% set q = x // y %}{% set r = x % y %}", WIDE_INTS),
              "budget"),
    Adversary("integers within the bound render",
              "{{ 2 ** 4000 // 3 ** 2000 > 0 }}{{ ('f' * 1024) | int(base=16) > 0 }}", "ok"),
    # -- containers that print far larger than they cost to build (one value referred to many times)
    Adversary("repeat a list", "{{ [1] * 10**9 }}", "budget"),
    Adversary("range", "{{ range(10**9) | list | length }}", "budget"),
    Adversary("nested lists", "{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = [ns.l, ns.l] %}"
              "{% endfor %}{{ ns.l | length }}", "budget"),
    Adversary("fromkeys", "{{ dict.fromkeys(range(100000), 'x' * 1000) | length }}", "budget"),
    Adversary("batch fill", "{{ [1] | batch(10**9, 'x') | list }}", "budget"),
    # Each of these reads every reference of ALIASES: refused before it touches 10**11 characters.
    *(Adversary(f"aliases {name}", ALIASES + use, "budget") for name, use in (
        ("printed", "{{ big }}"),
        ("concatenated", "{{ (big ~ '') | length }}"),
        ("lowered", "{{ big | lower | length }}"),
        ("sorted", "{{ big | sort | length }}"),
        ("sorted case-sensitively", "{{ big | sort(case_sensitive=true) | length }}"),
        ("made unique", "{{ big | unique | list | length }}"),
        ("min", "{{ big | min | length }}"),
        ("grouped", "{{ big | groupby(0) | length }}"),
        ("as JSON", "{{ big | tojson | length }}"),
        ("joined", "{{ big | join | length }}"),
        ("compared", "{{ big == big | list }}"),
        ("searched", "{{ 'b' in big }}"),
        ("counted", "{{ big.count('b') }}"),
        ("spread into format", "{{ ('{}' * 3) | format(*big) }}"),
    )),
    Adversary("aliases sorted from a generator", "{% set s = 'a' * 1000000 %}"
              "{{ ([0] * 100000) | map('default', s, true) | sort | length }}", "budget"),
    Adversary("aliases spread into a macro", ALIASES + "{% macro m() %}{{ varargs }}{% endmacro %}{{ m(*big) }}",
              "budget"),
    Adversary("attribute default of a map", "{% set s = 'a' * 1000000 %}"
              "{{ range(100000) | map(attribute='nope', default=s) | list }}", "budget"),
    Adversary("aliases from the context, searched in a loop", _loop("{% if probe in many %}{% endif %}"), "budget",
              _aliased),
    Adversary("aliases from the context, sorted", "{{ many | sort | length }}", "budget", _aliased),
    Adversary("twins compared in a loop", _loop("{% if a == b %}{% endif %}", TWINS), "budget"),
    Adversary("twins in lists compared in a loop", _loop("{% if [a] == [b] %}{% endif %}", TWINS), "budget"),
    Adversary("twins through loop.changed", TWINS + "{% for i in range(100) %}{% for j in range(100000) %}"
              "{{ loop.changed([a] if j % 2 else [b]) }}{% endfor %}{% endfor %}", "budget"),
    Adversary("twins through the equalto test in a loop",
              _loop("{% set x = [a] | select('equalto', b) | list %}", TWINS), "budget"),
    Adversary("twins found by index in a loop", _loop("{% set x = [b, b, a].index(a) %}", TWINS), "budget"),
    Adversary("long common prefixes sorted in a loop", _loop("{% set x = prefixed | sort %}"), "budget", _prefixed),
    # -- many items through filters that do Python work per item
    Adversary("rows sorted by attribute in a loop", _loop("{% set x = rows | sort(attribute='name') %}"), "budget",
              _rows),
    Adversary("rows grouped by attribute in a loop", _loop("{% set x = rows | groupby('prio') %}"), "budget", _rows),
    Adversary("rows selected by attribute in a loop",
              _loop("{% set x = rows | selectattr('prio', 'equalto', 3) | list %}"), "budget", _rows),
    Adversary("rows mapped to an attribute in a loop", _loop("{% set x = rows | map(attribute='name') | list %}"),
              "budget", _rows),
    Adversary("rows' highest by attribute in a loop", _loop("{% set x = rows | max(attribute='prio') %}"), "budget",
              _rows),
    Adversary("rows summed by attribute in a loop", _loop("{% set x = rows | sum(attribute='prio') %}"), "budget",
              _rows),
    Adversary("rows joined by attribute in a loop", _loop("{% set x = rows | join(',', attribute='name') %}"), "budget",
              _rows),
    Adversary("rows reversed in a loop", _loop("{% set x = rows | reverse | list %}"), "budget", _rows),
    Adversary("rows batched in a loop", _loop("{% set x = rows | batch(3) | list %}"), "budget", _rows),
    Adversary("rows sliced in a loop", _loop("{% set x = rows | slice(3) | list %}"), "budget", _rows),
    Adversary("rows as JSON", "{{ rows | tojson | length }}", "budget", _rows),
    Adversary("rows made unique in a loop", _loop("{% set x = rows | map(attribute='prio') | unique | list %}"),
              "budget", _rows),
    Adversary("a wide dict sorted in a loop", _loop("{% set x = d | dictsort %}", WIDE), "budget"),
    Adversary("a wide dict's items in a loop", _loop("{% set x = d | items | list %}", WIDE), "budget"),
    Adversary("a wide dict as XML attributes in a loop", _loop("{% set x = d | xmlattr %}", WIDE), "budget"),
    Adversary("a wide dict URL-encoded in a loop", _loop("{% set x = d | urlencode %}", WIDE), "budget"),
    Adversary("spaces URL-encoded in a loop", _loop("{% set x = s | urlencode %}", "{% set s = ' ' * 300000 %}"),
              "budget"),
    Adversary("words wrapped in a loop", _loop("{% set x = s | wordwrap(79) %}", "{% set s = 'a ' * 250000 %}"),
              "budget"),
    Adversary("lines indented in a loop", _loop("{% set x = s | indent(1) %}", "{% set s = 'a\\n' * 250000 %}"),
              "budget"),
    Adversary("words counted in a loop", _loop("{% set x = s | wordcount %}", "{% set s = 'a ' * 500000 %}"), "budget"),
    Adversary("characters listed in a loop", _loop("{% set x = s | list %}", "{% set s = 'a' * 1000000 %}"), "budget"),
    Adversary("characters looped over", "{% set s = 'a' * 1000000 %}{% for c in s %}{% endfor %}", "budget"),
    Adversary("range mapped to strings in a loop", _loop("{% set x = range(100000) | map('string') | join %}"),
              "budget"),
    Adversary("membership in a range in a loop", _loop("{% if 'a' in r %}{% endif %}", "{% set r = range(100000) %}"),
              "budget"),
    Adversary("membership in a dict's values in a loop",
              _loop("{% if 'x' in v %}{% endif %}", WIDE + "{% set v = d.values() %}"), "budget"),
    Adversary("difference of a dict's keys in a loop", _loop("{% set x = d.keys() - d.keys() %}", WIDE), "budget"),
    Adversary("a wide dict copied in a loop", _loop("{% set c = dict(d) %}", WIDE), "budget"),
    Adversary("a wide dict copied into a namespace in a loop", _loop("{% set c = namespace(d) %}", WIDE), "budget"),
    Adversary("a list sliced in a loop", _loop("{% set c = xs[1:] %}", "{% set xs = range(100000) | list %}"),
              "budget"),
    Adversary("a string reversed in a loop", _loop("{% set c = s[::-1] %}", "{% set s = 'ab' * 500000 %}"), "budget"),
    Adversary("a list as JSON in a loop", _loop("{% set c = xs | tojson %}", "{% set xs = range(100000) | list %}"),
              "budget"),
    # -- formatting: parsed and formatted field by field
    Adversary("format with many fields in a loop", _loop("{% set c = f.format(*xs) %}",
              "{% set f = '{}' * 150000 %}{% set xs = [0] * 150000 %}"), "budget"),
    Adversary("format filter with many fields in a loop", _loop("{% set c = f | format(*xs) %}",
              "{% set f = '%s' * 150000 %}{% set xs = [0] * 150000 %}"), "budget"),
    Adversary("percent signs in a loop", _loop("{% set c = f % () %}", "{% set f = '%%' * 500000 %}"), "budget"),
    # -- Markup (`| safe`) escapes and unescapes in Python
    Adversary("Markup join in a loop", _loop("{% set c = m.join(xs) %}",
              "{% set m = '' | safe %}{% set xs = [''] * 250000 %}"), "budget"),
    Adversary("Markup format in a loop", _loop("{% set c = m.format(*xs) %}",
              "{% set m = ('{}' * 150000) | safe %}{% set xs = [0] * 150000 %}"), "budget"),
    Adversary("Markup format filter in a loop", _loop("{% set c = m | format(*xs) %}",
              "{% set m = ('%s' * 150000) | safe %}{% set xs = [0] * 150000 %}"), "budget"),
    Adversary("entities stripped in a loop", _loop("{% set c = s | striptags %}", "{% set s = '&amp;' * 200000 %}"),
              "budget"),
    Adversary("Markup unescaped in a loop", _loop("{% set c = m.unescape() %}",
              "{% set m = ('&amp;' * 200000) | safe %}"), "budget"),
    # -- wide integers: printing and dividing them is quadratic
    Adversary("wide integers printed in a loop", _loop("{% set c = x | string %}", WIDE_INTS), "budget"),
    Adversary("wide integers concatenated in a loop", _loop("{% set c = x ~ '' %}", WIDE_INTS), "budget"),
    Adversary("wide integers formatted in a loop", _loop("{% set c = '%d' % x %}", WIDE_INTS), "budget"),
    Adversary("wide integers tested for divisibility in a loop", _loop("{% set c = x is divisibleby(y) %}", WIDE_INTS),
              "budget"),
    Adversary("wide integers rounded in a loop", _loop("{% set c = x | round(-600) %}", WIDE_INTS), "budget"),
    Adversary("wide integers multiplied in a loop", _loop("{% set c = y * y %}", WIDE_INTS), "budget"),
    Adversary("wide integers raised in a loop", _loop("{% set c = 3 ** 2500 %}"), "budget"),
    # -- dates: no clock, no time zone of the machine, sized formats
    Adversary("today", "{{ day.today() }}", "security", _dates),
    Adversary("now", "{{ moment.now() }}", "security", _dates),
    Adversary("strptime", "{{ moment.strptime('1' * 30, '%d' * 30) }}", "security", _dates),
    Adversary("astimezone to the machine's zone", "{{ moment.astimezone() }}", "security", _dates),
    Adversary("timestamp in the machine's zone", "{{ moment.timestamp() }}", "security", _dates),
    Adversary("strftime beyond the bound", "{{ day.strftime('%c' * 100000) | length }}", "budget", _dates),
    Adversary("a date formatted by str.format beyond the bound",
              "{{ ('{:' ~ ('%c' * 50000) ~ '}').format(day) | length }}", "budget", _dates),
    Adversary("strftime in a loop", _loop("{% set c = day.strftime(f) %}", "{% set f = '%c' * 40000 %}"), "budget",
              _dates),
    Adversary("dates that only build values render",
              "{{ day.fromordinal(day.toordinal() + 1) }} {{ day.fromisoformat('2026-01-02') }} "
              "{{ moment.strftime('%Y-%m-%d %H:%M') }} {{ day.isoformat() }}", "ok", _dates),
    # -- stripping looks every stripped character up among the characters to strip
    Adversary("strip with many characters", "{% set s = 'b' * 1000000 %}{{ s.strip('a' * 1000000 ~ 'b') | length }}",
              "budget"),
    Adversary("trim with many characters", "{% set s = 'b' * 1000000 %}{{ s | trim('a' * 1000000 ~ 'b') | length }}",
              "budget"),
    Adversary("lstrip of wide characters in a loop", _loop("{% set x = s.lstrip(c) %}",
              "{% set s = '\U0001F600' * 20000 %}{% set c = '\U0001F601' * 2000 ~ '\U0001F600' %}"), "budget"),
    Adversary("bytes rstrip in a loop", _loop("{% set x = s.rstrip(c) %}",
              "{% set s = ('b' * 20000).encode() %}{% set c = ('a' * 2000 ~ 'b').encode() %}"), "budget"),
    # -- textwrap breaks a chunk longer than a line by copying the rest of it at every line
    Adversary("wordwrap of leading spaces", "{{ (' ' * 300000 ~ 'a') | wordwrap(1) | length }}", "budget"),
    Adversary("wordwrap of tabs", "{{ ('\t' * 100000 ~ 'a') | wordwrap(1) | length }}", "budget"),
    Adversary("wordwrap of words joined by ideographic spaces",
              "{{ ('a\u3000' * 150000) | wordwrap(1) | length }}", "budget"),
    # -- keys built to share a hash: a dict or set of them takes quadratic time to build
    Adversary("colliding integers made unique", COLLIDING_INTS + "{{ xs | unique | list | length }}", "security"),
    Adversary("colliding integers as dict keys", COLLIDING_INTS + "{{ dict.fromkeys(xs) | length }}", "security"),
    Adversary("colliding integers paired into a dict", COLLIDING_INTS + "{{ dict(xs | batch(2)) | length }}",
              "security"),
    Adversary("colliding integers subtracted from keys", COLLIDING_INTS + "{{ (xs | list - {}.keys()) | length }}",
              "security"),
    Adversary("colliding integers in a dict literal", "{% set d = {" + ", ".join(
        f"{HASH_MODULUS * k}: {k}" for k in range(1, 200)) + "} %}", "syntax"),
    Adversary("colliding tuples in a list literal", "{{ [" + ", ".join(
        f"({a}, {b})" for a, b in colliding_pairs(200)) + "] | length }}", "syntax"),
    Adversary("colliding pairs of the context made unique", "{{ dict(flat | batch(2)) | dictsort | unique | list }}",
              "security", _pairs),
    Adversary("colliding pairs of the context, the items of a dict", "{{ dict(flat | batch(2)).items() - [] }}",
              "security", _pairs),
    Adversary("colliding pairs of the context, as keys", "{{ dict.fromkeys(dict(flat | batch(2)).items()) }}",
              "security", _pairs),
    Adversary("colliding pairs of the context joined into a set", "{{ ({}.keys() - []).union(dict(flat | batch(2)) "
              "| dictsort) }}", "security", _pairs),
    # -- lazy filters do their work when read, through every stage of a chain
    Adversary("a chain of lazy filters in a loop", _loop("{% set x = r" + "| map('abs')" * 20 + " | list %}",
              "{% set r = range(100000) %}"), "budget"),
    # -- what the sandbox lets no template reach
    Adversary("a dict changed through its class", "{% set d = {'a': 1} %}{{ dict.update(d, a=2) }}", "security"),
    Adversary("a set changed in place", "{% set s = {'a': 1}.keys() - [] %}{{ s.intersection_update([]) }}",
              "security"),
    # (A view's proxy of its dict measured as an opaque value: `[proxy] * 100` printed 100 dicts.)
    Adversary("a dict reached through a view's proxy", "{% set d = {'a': 'x' * 1000000} %}"
              "{{ (d.keys().mapping.a * 100) | length }}", "security"),
    # -- loops, calls and recursion
    Adversary("nested loops", LOOP.replace("BODY", "{{ j }}"), "budget"),
    Adversary("macro calls in a loop", "{% macro m(x) %}{{ x }}{% endmacro %}" + _loop("{{ m(j) }}"), "budget"),
    Adversary("recursive macro", "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "render"),
    Adversary("self include", "{% include 't.j2' %}", "render"),
)
