"""Break rules: a router that runs a bad configuration loses its WAN (or its VPN), as a bad template would make it.

Where it sits: `command.py` parses `--break` and `--break-vpn` into `Break`s that the `Behaviour`
(`profiles.py`) carries for the whole process; the inspection endpoints (`inspection.py`) add more
at run time, for every router or one. The `Simulator` (`routers.py`) asks `breakage` whether the
rules hold for a router's running configuration: on every API call when a rule cuts management
too, and whenever `status.py` answers a status call. Nothing is remembered: a router is broken
exactly while its configuration matches a rule, so a revert mends it at once.

Globs here have one wildcard, `*` (any text, also none); everything else is literal, brackets
included, because keys carry list indices (`wan.wan_chain[1].member[1].interface`).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Rules come from the command line and from the (loopback) inspection endpoints: bounded all the same.
MAX_RULE_TEXT = 1_000


def glob_regex(glob: str) -> str:
    """Regular expression text matching the whole of a text the glob matches (`*` the only wildcard).

    fnmatch's translation is used rather than a hand-made one because it makes each `*` an atomic
    group: a glob like `*a*a*a*` against a 64 KiB certificate value cannot backtrack for minutes.
    `[` and `?` are escaped into fnmatch's literal forms first.
    """
    return fnmatch.translate(glob.replace("[", "[[]").replace("?", "[?]"))


@dataclass(frozen=True)
class Break:
    """Routers of `model` whose running configuration sets a key matching `key` to a value matching `value`
    lose their WAN, and with it the VPN (only the VPN with `vpn_only`); with `cuts_management` their API
    stops answering too. All three are globs."""

    model: str
    key: str
    value: str
    vpn_only: bool = False
    cuts_management: bool = False
    _model: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _key: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _value: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("model", "key", "value"):
            text = getattr(self, name)
            if len(text) > MAX_RULE_TEXT:
                raise ValueError(f"the {name} of a break rule is longer than {MAX_RULE_TEXT} characters")
            object.__setattr__(self, f"_{name}", re.compile(glob_regex(text)))
        if not self.model.strip() or not self.key.strip():
            raise ValueError(f"a break rule needs a model and a key, got {self.text()!r}")

    @classmethod
    def parse(cls, text: str, *, vpn_only: bool = False, cuts_management: bool = False) -> Break:
        """`MODEL=KEY=VALUE` as given to `--break` (VALUE is the rest, `=` included); raises ValueError."""
        model, equals, rest = text.partition("=")
        key, equals_too, value = rest.partition("=")
        if not equals or not equals_too or not model.strip() or not key.strip():
            raise ValueError(f"expected MODEL=KEY=VALUE, got {text!r}")
        return cls(model.strip(), key.strip(), value, vpn_only=vpn_only, cuts_management=cuts_management)

    def text(self) -> str:
        """The rule as `--break` takes it, with its flags."""
        flags = "".join(f" ({flag})" for flag, on in (("vpn only", self.vpn_only),
                                                       ("cuts management", self.cuts_management)) if on)
        return f"{self.model}={self.key}={self.value}{flags}"

    def applies_to(self, model: str) -> bool:
        """Whether routers of `model` are subject to the rule."""
        return self._model.match(model) is not None

    def holds(self, values: Mapping[str, str]) -> bool:
        """Whether a configuration (canonical key → stored value) has the rule's key set to its value."""
        if "*" not in self.key:  # the common case: one dictionary lookup
            value = values.get(self.key)
            return value is not None and self._value.match(value) is not None
        matches_key, matches_value = self._key.match, self._value.match
        return any(matches_key(key) and matches_value(value) for key, value in values.items())


@dataclass(frozen=True, slots=True)
class Breakage:
    """What the rules that hold take down."""

    wan_down: bool = False
    vpn_down: bool = False
    management_cut: bool = False


INTACT = Breakage()


def breakage(rules: Iterable[Break], values: Mapping[str, str]) -> Breakage:
    """What `rules` (already those of the router's model) take down for the configuration `values`."""
    wan = vpn = cut = False
    for rule in rules:
        if rule.holds(values):
            wan = wan or not rule.vpn_only
            vpn = True
            cut = cut or rule.cuts_management
    return Breakage(wan, vpn, cut) if vpn else INTACT
