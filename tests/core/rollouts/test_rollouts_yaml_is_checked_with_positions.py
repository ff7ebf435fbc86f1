"""rollouts.yaml: every mistake reported with file:line:col and what is wrong, against the model and against
the fleet (strategies, groups, sites, tags, the default strategy), and a valid file handed on as the policy."""

from __future__ import annotations

import datetime as dt

import pytest

from reconciler.core.loading import locate_problems
from reconciler.core.models.rollouts import DEFAULT_POLICY, FailureAction, Percent, Rate, RolloutsFile, parse_percent
from reconciler.core.problems import sort_key
from tests.conftest import EXAMPLE, build, small_fleet


def problems(rollouts: str, **more: str) -> list[str]:
    """The problems of the small fleet with this rollouts.yaml, as `file:line:col: severity: message [code]`,
    sorted by position as every command shows them."""
    files = {**small_fleet(), "rollouts.yaml": rollouts, **more}
    result = build(files)
    raw = {path: content.encode() for path, content in files.items()}
    return [str(p) for p in sorted(locate_problems(result.problems, raw), key=sort_key)]


@pytest.mark.parametrize(("text", "expected"), [
    ("strategies:\n  default:\n    waves: [canary, 0%, 100%]\n",
     "rollouts.yaml:3:21: error: waves: a wave of 0%: percentages go from 1% to 100% [value]"),
    ("strategies:\n  default:\n    waves: [canary, 120%]\n",
     "rollouts.yaml:3:21: error: waves: a percentage is at most 100%, got 120% [value]"),
    ("strategies:\n  default:\n    waves: [canary, 10]\n",
     "rollouts.yaml:3:12: error: waves: the last wave takes every device left: write 100% last, got 10 [value]"),
    ("strategies:\n  default:\n    waves: [5, canary, 100%]\n",
     "rollouts.yaml:3:12: error: waves: 'canary' can only be the first wave [value]"),
    ("strategies:\n  default:\n    waves: [100%, 100%]\n",
     "rollouts.yaml:3:12: error: waves: 100% takes every device left: only the last wave can be 100% [value]"),
    ("strategies:\n  default:\n    waves: [five, 100%]\n",
     "rollouts.yaml:3:13: error: waves: expected a count (5), a percentage ('25%') or 'canary', got 'five' [value]"),
    ("strategies:\n  default:\n    soak: 10 minutes\n",
     "rollouts.yaml:3:11: error: soak: expected a duration such as '30s', '5m', '1h30m' or '2d' [value]"),
    ("strategies:\n  default:\n    soak: 8d\n",
     "rollouts.yaml:3:11: error: soak: expected from 0s to 7d, got 8d [value]"),
    ("strategies:\n  default:\n    rate: 600 per minute\n",
     "rollouts.yaml:3:11: error: rate: expected a rate such as '600/min', '10/s' or '2000/h', "
     "got '600 per minute' [value]"),
    ("strategies:\n  default:\n    failure: {max_rate: 2}\n",
     "rollouts.yaml:3:25: error: max_rate: expected a percentage such as '5%' or '2.5%', got 2 [value]"),
    ("strategies:\n  default:\n    failure: {by_type: {helth: {max_rate: 0%}}}\n",
     "rollouts.yaml:3:32: error: helth: 'helth' is not allowed; expected 'rejected', 'health', 'timeout', "
     "'unreachable' or 'busy' (did you mean 'health'?) [value]"),
    ("strategies:\n  default:\n    approval: after-canry\n",
     "rollouts.yaml:3:15: error: approval: 'after-canry' is not allowed; expected 'none', 'before-start' or "
     "'after-canary' (did you mean 'after-canary'?) [value]"),
    ("strategies:\n  default:\n    canary: {balance_by: [model, colour]}\n",
     "rollouts.yaml:3:34: error: balance_by: 'colour' is not allowed; expected 'model', 'site', 'template' or "
     "'firmware' [value]"),
    ("windows:\n  - {name: n, schedule: \"0 25 * * *\", duration: 1h}\n",
     "rollouts.yaml:2:25: error: schedule: '0 25 * * *': not a valid cron expression [value]"),
    ("windows:\n  - {name: n, schedule: \"0 0 30 2 *\", duration: 1h}\n",
     "rollouts.yaml:2:25: error: schedule: '0 0 30 2 *': never fires (no date matches) [value]"),
    ("windows:\n  - {name: n, schedule: \"0 0 * * * *\", duration: 1h}\n",
     "rollouts.yaml:2:25: error: schedule: '0 0 * * * *': expected five cron fields (minute hour day-of-month "
     "month day-of-week) or a macro such as @daily [value]"),
    ("windows:\n  - {name: n, schedule: \"@daily\", duration: 0s}\n",
     "rollouts.yaml:2:45: error: duration: expected from 1m to 31d, got 0s [value]"),
    ("windows:\n  - {name: n, schedule: \"@daily\", duration: 1h, applies_to: {}}\n",
     "rollouts.yaml:2:61: error: applies_to: name at least one of groups, sites, tags [value]"),
    ("windows:\n  - {name: n, schedule: \"@daily\", duration: 1h, aplies_to: {groups: [lte]}}\n",
     "rollouts.yaml:2:49: error: unknown key 'aplies_to' (did you mean 'applies_to'?) [unknown-key]"),
])
def test_a_malformed_file_is_reported_where_it_is_wrong(text: str, expected: str) -> None:
    """Each malformed value gets one error, at its own line and column, saying what would be right."""
    assert problems(text) == [expected]


def test_names_are_checked_against_the_fleet() -> None:
    """Unknown strategies, groups and sites are errors where written, with the closest known name."""
    text = """\
strategies:
  default: {}
  fast: {}
assign:
  - {groups: [europa], strategy: fats}
  - {sites: [newyork], strategy: fast}
windows:
  - {name: night, schedule: "0 1 * * *", duration: 4h, applies_to: {sites: [berlim]}}
"""
    assert problems(text) == [
        "rollouts.yaml:5:15: error: unknown group 'europa' (did you mean 'europe'?) [unknown-group]",
        "rollouts.yaml:5:34: error: unknown strategy 'fats' (did you mean 'fast'?) [unknown-strategy]",
        "rollouts.yaml:6:14: error: unknown site 'newyork' (did you mean 'newark'?) [unknown-site]",
        "rollouts.yaml:8:77: error: unknown site 'berlim' (did you mean 'berlin'?) [unknown-site]",
    ]


def test_a_default_strategy_is_needed_when_assign_does_not_cover_every_device() -> None:
    """Strategies without `default` while a device matches no rule: an error that names the devices."""
    text = "strategies:\n  lab: {}\nassign:\n  - {sites: [newark], strategy: lab}\n"
    assert problems(text) == [
        "rollouts.yaml:1:1: error: no strategy named 'default', and devices 'ber-r01', 'ber-r02' match no assign "
        "rule: add a 'default' strategy or a rule for them [no-default-strategy]"]
    covering = "strategies:\n  lab: {}\nassign:\n  - {sites: [newark, berlin], strategy: lab}\n"
    assert problems(covering) == []


def test_likely_mistakes_are_warnings() -> None:
    """A tag no device carries, a strategy nothing uses, revert without a health check, duplicate windows."""
    text = """\
strategies:
  default: {revert: true}
  spare: {}
windows:
  - {name: night, schedule: "0 1 * * *", duration: 4h, applies_to: {tags: [crane]}}
  - {name: night, schedule: "0 2 * * *", duration: 1h}
"""
    assert problems(text) == [
        "rollouts.yaml:2:21: warning: strategy 'default': revert acts on a failed health check, and there is no "
        "health check [revert-without-health]",
        "rollouts.yaml:3:3: warning: strategy 'spare' is neither 'default' nor named by an assign rule: unused "
        "[unused-strategy]",
        "rollouts.yaml:5:76: warning: no device carries the tag 'crane' [unused-tag]",
        "rollouts.yaml:6:12: error: duplicate window name 'night' (also windows[0]) [duplicate-window]",
    ]


def test_a_window_over_devices_without_a_site_warns_that_they_are_not_restricted() -> None:
    """A device without a site has no time zone: a window that applies to it says it changes at any time."""
    files = small_fleet()
    files["devices/all.yaml"] = files["devices/all.yaml"].replace("    site: newark\n", "")
    result = build({**files, "rollouts.yaml": "windows:\n  - {name: night, schedule: \"0 1 * * *\", duration: 4h}\n"})
    assert [(p.code, p.message) for p in result.problems] == [
        ("window-without-zone", "window 'night' applies to device 'nwk-r01' without a site: with no time zone they "
                                "are changed at any time (give them a site)")]


def test_names_in_a_broken_file_of_their_kind_are_not_reported_as_unknown() -> None:
    """With groups.yaml broken, a group rollouts.yaml names may well be in it: no unknown-group."""
    codes = [line.rsplit("[", 1)[1] for line in problems("assign:\n  - {groups: [lte], strategy: default}\n",
                                                          **{"groups.yaml": "groups: 5\n"})]
    assert "unknown-group]" not in codes and "type]" in codes


def test_a_valid_file_becomes_the_fleets_policy_and_its_absence_the_default() -> None:
    """The fleet carries the parsed policy: percentages, rates and actions as values, not strings."""
    text = """\
strategies:
  default:
    waves: [canary, 2.5%, 100%]
    rate: 600/min
    failure: {max_rate: 2%, min_devices: 1, action: abort}
"""
    fleet = build({**small_fleet(), "rollouts.yaml": text}).fleet
    assert fleet is not None
    strategy = fleet.rollouts.strategies["default"]
    assert strategy.waves[1] == Percent(250) and str(strategy.waves[1]) == "2.5%"
    assert strategy.rate == Rate(600, dt.timedelta(minutes=1)) and strategy.rate.interval == dt.timedelta(seconds=0.1)
    assert strategy.failure is not None and strategy.failure.action is FailureAction.ABORT
    without = build(small_fleet()).fleet
    assert without is not None and without.rollouts is DEFAULT_POLICY


def test_rollouts_yaml_and_rollouts_yml_side_by_side_is_an_error() -> None:
    """Two rollout files would make one of them count by accident: refused, as for fleet.yaml."""
    assert "rollouts.yml:1:1: error: both rollouts.yaml and rollouts.yml exist; keep one [duplicate-file]" in \
        problems("strategies: {}\n", **{"rollouts.yml": "strategies: {}\n"})


def test_percentages_are_exact_and_a_policy_reads_back_what_it_writes() -> None:
    """5 % of 20 is 1 (no float rounding up to 2); dumped to JSON, a policy validates to itself again."""
    assert [parse_percent(text).of(count) for text, count in [("5%", 20), ("0.1%", 1000), ("33.33%", 3)]] == [1, 1, 1]
    fleet = build({**small_fleet(), "rollouts.yaml": (EXAMPLE / "rollouts.yaml").read_text(encoding="utf-8")}).fleet
    assert fleet is not None
    dumped = fleet.rollouts.model_dump(mode="json")
    assert RolloutsFile.model_validate(dumped) == fleet.rollouts
    assert dumped["strategies"]["default"]["waves"] == ["canary", "25%", "100%"]
