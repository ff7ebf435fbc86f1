"""`--break`, `--break-vpn`, `--break-cuts-management` and `--revert-seconds` become the behaviour's break rules and
confirm timer; a rule that cannot be read stops the simulator with exit code 2; globs have one wildcard, `*`."""

from __future__ import annotations

import argparse

import pytest

from reconciler.simulator.command import add_arguments, behaviour_of, run
from reconciler.simulator.profiles import behaviour
from reconciler.simulator.rules import Break


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(["--devices", "1", *argv])


def chosen(*argv: str) -> tuple[tuple[Break, ...], float | None]:
    made = behaviour_of(parse(*argv))
    return made.breaks, made.revert_seconds


def test_rules_from_the_command_line_keep_everything_after_the_second_equals_sign() -> None:
    """`MODEL=KEY=VALUE`: the value may hold `=` and spaces; `--break-vpn` rules are VPN only; the flag cuts both."""
    rules, revert = chosen("--break", "MRX5 LTE=snmp.community=a = b", "--break-vpn", "*=ipsec.*=x",
                           "--break-cuts-management", "--revert-seconds", "45")
    assert rules == (Break("MRX5 LTE", "snmp.community", "a = b", cuts_management=True),
                     Break("*", "ipsec.*", "x", vpn_only=True, cuts_management=True))
    assert revert == 45
    assert chosen() == ((), None)
    assert [(p.breaks, p.revert_seconds) for p in (behaviour("perfect"), behaviour("realistic"))] == [((), None)] * 2


@pytest.mark.parametrize("option", [["--break", "MRX5 LTE=snmp.community"], ["--break", "=a.b=1"],
                                    ["--break-vpn", "MRX5 LTE= =1"], ["--revert-seconds", "-1"]])
def test_an_unreadable_rule_stops_the_simulator_before_it_serves(option: list[str],
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A rule without model, key or value part, or a negative timer: exit code 2 and a message naming the problem."""
    assert run(parse(*option)) == 2
    message = capsys.readouterr().err
    assert message.startswith("reconciler simulate: ")
    assert "MODEL=KEY=VALUE" in message or "--revert-seconds" in message


def test_a_glob_has_star_as_its_only_wildcard() -> None:
    """`*` is any text (none too); brackets and `?` are literal, so list indices in keys match themselves."""
    rule = Break("*", "wan.wan_chain[1].member[*].interface", "ww*")
    assert rule.holds({"wan.wan_chain[1].member[2].interface": "wwan1"})
    assert rule.holds({"wan.wan_chain[1].member[].interface": "ww"})
    assert not rule.holds({"wan.wan_chain1.member[2].interface": "wwan1"})
    assert not rule.holds({"wan.wan_chain[1].member[2].interface": "net2"})
    assert Break("*", "a.b", "x?").holds({"a.b": "x?"}) and not Break("*", "a.b", "x?").holds({"a.b": "xy"})
    assert Break("MRX*", "a", "").applies_to("MRX6 DSL") and not Break("MRX*", "a", "").applies_to("SCR LTE")


def test_a_glob_with_many_stars_against_a_long_value_is_read_in_one_pass() -> None:
    """`*a*a*…*b` against a 64 KiB value of `a`s answers (no backtracking through every split of the value)."""
    rule = Break("*", "certificate", "*a" * 20 + "*b")
    assert not rule.holds({"certificate": "a" * 65536})
    assert rule.holds({"certificate": "a" * 65536 + "b"})
