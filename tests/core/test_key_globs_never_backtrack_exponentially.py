"""Key globs (guard_keys, volatile_keys, secret_keys) come from pull requests: a pattern of many stars matches
like any other, without the exponential backtracking of a naive regular expression."""

from __future__ import annotations

import random
import re

from reconciler.core.config_diffs import KeyGlobs


def reference(pattern: str, key: str) -> bool:
    """The plain meaning of a glob: `*` is any text, everything else literal."""
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), key) is not None


def test_globs_match_as_the_plain_meaning_says() -> None:
    """Twenty thousand generated patterns and keys: the same verdicts as the plain translation."""
    rng = random.Random(7)
    for _ in range(20_000):
        pattern = "".join(rng.choice("ab.*[1]") for _ in range(rng.randint(0, 7)))
        key = "".join(rng.choice("ab.[1]") for _ in range(rng.randint(0, 9)))
        assert KeyGlobs([pattern])(key) == reference(pattern, key), (pattern, key)


def test_a_pattern_of_sixty_stars_against_a_long_key_answers() -> None:
    """`a*a*…*b` against 300 a's: the naive translation would backtrack for longer than the universe has existed."""
    globs = KeyGlobs(["a*" * 60 + "b", "services.https.*", "*.uptime"])
    assert not globs("a" * 300)
    assert globs("a" * 60 + "b")
    assert globs("services.https.port")
    assert globs("interfaces.wwan1.uptime")
