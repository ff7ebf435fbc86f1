"""Field types: does a user field's value have the type its template declares?

Where it sits: `building` calls `check_value` for every field of every device after precedence has
merged fleet, group and device fields, and `check_declaration` for every declared field. Both
return messages (strings) instead of raising; the caller turns them into positioned problems.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import re2

from reconciler.core.models import FieldSpec, FieldType
from reconciler.core.secrets import SecretRef, SecretValue

_SECRETS = (SecretRef, SecretValue)

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?")


def check_value(spec: FieldSpec, value: Any) -> str | None:
    """A purely computational function: None if `value` fits `spec`, else what is wrong."""
    checker = _CHECKERS[spec.type]
    problem = checker(spec, value)
    if problem is None:
        return None
    return f"expected {problem}, got {_show(value)}"


def check_declaration(spec: FieldSpec) -> list[str]:
    """What is wrong with a field declaration itself (constraints that do not fit its type)."""
    problems: list[str] = []
    if spec.type is FieldType.ENUM and not spec.values:
        problems.append("an enum field needs `values`")
    if spec.values is not None and spec.type is not FieldType.ENUM:
        problems.append("`values` is only for enum fields")
    if spec.items is not None and spec.type is not FieldType.LIST:
        problems.append("`items` is only for list fields")
    if spec.pattern is not None:
        problems.extend(_pattern_problems(spec))
    if spec.min is not None and spec.max is not None and spec.min > spec.max:
        problems.append(f"min ({spec.min}) is greater than max ({spec.max})")
    if "default" in spec.model_fields_set and spec.default is not None:
        wrong = check_value(spec, spec.default)
        if wrong:
            problems.append(f"default: {wrong}")
    return problems


def _pattern_problems(spec: FieldSpec) -> list[str]:
    if spec.type is not FieldType.STRING:
        return ["`pattern` is only for string fields"]
    try:
        _compiled(spec.pattern or "")
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        return [f"pattern is not a valid RE2 regular expression: {reason}"]
    return []


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    # Patterns come from pull requests: RE2 matches in linear time, where Python's re can be made
    # to backtrack for hours (`(a+)+`). RE2 has no backreferences or lookaround.
    return re2.compile(pattern, options=_RE2_OPTIONS)


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


def _show(value: Any) -> str:
    if isinstance(value, _SECRETS):
        return "a !secret"
    if isinstance(value, str):
        return repr(value[:80])
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | dict):
        return f"a {type(value).__name__}"
    return repr(value)


def _range(spec: FieldSpec, number: float, what: str) -> str | None:
    if spec.min is not None and number < spec.min:
        return f"{what} of at least {spec.min}"
    if spec.max is not None and number > spec.max:
        return f"{what} of at most {spec.max}"
    return None


def _string(spec: FieldSpec, value: Any) -> str | None:
    if isinstance(value, _SECRETS):
        return None
    if not isinstance(value, str):
        return "a string"
    if spec.pattern is not None and not _matches(spec.pattern, value):
        return f"a string matching {spec.pattern}"
    return None


def _matches(pattern: str, value: str) -> bool:
    try:
        return _compiled(pattern).fullmatch(value) is not None
    except re2.error:
        return True  # the declaration's own problem says the pattern is invalid


def _int(spec: FieldSpec, value: Any) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return "an integer"
    return _range(spec, value, "an integer")


def _float(spec: FieldSpec, value: Any) -> str | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "a number"
    return _range(spec, value, "a number")


def _bool(spec: FieldSpec, value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def _parses(parse: Callable[[str], object], what: str, need_slash: bool = False) -> Callable[..., str | None]:
    def check(spec: FieldSpec, value: Any) -> str | None:
        if not isinstance(value, str) or (need_slash and "/" not in value):
            return what
        try:
            parse(value)
        except ValueError:
            return what
        return None

    return check


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_PREFIX = re.compile(r"[0-9]|[12][0-9]|3[0-2]")


def _ipv4(value: str) -> object:
    # A regex instead of ipaddress: a 20,000-device fleet checks tens of thousands of addresses.
    if _IPV4.fullmatch(value) is None:
        raise ValueError(value)
    return value


def _interface(value: str) -> int:
    address, _, prefix = value.partition("/")
    if _IPV4.fullmatch(address) is None or _PREFIX.fullmatch(prefix) is None:
        raise ValueError(value)
    a, b, c, d = (int(octet) for octet in address.split("."))
    number = a << 24 | b << 16 | c << 8 | d
    return number & ((1 << (32 - int(prefix))) - 1)  # the host bits


def _network(value: str) -> object:
    if _interface(value):
        raise ValueError(f"{value} has host bits set")
    return value


def _hostname(spec: FieldSpec, value: Any) -> str | None:
    ok = isinstance(value, str) and _HOSTNAME.fullmatch(value) is not None
    return None if ok else "a host name (RFC 1123)"


def _port(spec: FieldSpec, value: Any) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        return "a port number (1-65535)"
    return _range(spec, value, "a port")


def _enum(spec: FieldSpec, value: Any) -> str | None:
    values = spec.values or []
    return None if value in values else "one of " + ", ".join(repr(v) for v in values)


def _url(spec: FieldSpec, value: Any) -> str | None:
    if isinstance(value, str):
        try:
            parts = urlsplit(value)
            port = parts.port  # raises for a port out of range
        except ValueError:  # e.g. an unclosed [IPv6 bracket
            return "a URL (scheme://host/...)"
        if parts.scheme in ("http", "https", "ftp", "sftp", "mqtt", "mqtts") and parts.netloc and port != 0:
            return None
    return "a URL (scheme://host/...)"


def _secret(spec: FieldSpec, value: Any) -> str | None:
    return None if isinstance(value, _SECRETS) else "a sealed secret (!secret name)"


def _list(spec: FieldSpec, value: Any) -> str | None:
    if not isinstance(value, list):
        return "a list"
    if spec.min is not None and len(value) < spec.min:
        return f"a list of at least {spec.min} items"
    if spec.max is not None and len(value) > spec.max:
        return f"a list of at most {spec.max} items"
    item_spec = FieldSpec(type=spec.items or FieldType.STRING)
    item_check = _CHECKERS[item_spec.type]
    for index, item in enumerate(value):
        wrong = item_check(item_spec, item)
        if wrong:
            return f"a list of {item_spec.type.value} (item {index + 1}: {wrong})"
    return None


_CHECKERS: dict[FieldType, Callable[[FieldSpec, Any], str | None]] = {
    FieldType.STRING: _string,
    FieldType.INT: _int,
    FieldType.FLOAT: _float,
    FieldType.BOOL: _bool,
    FieldType.IPV4: _parses(_ipv4, "an IPv4 address"),
    FieldType.IPV4_NETWORK: _parses(_network, "an IPv4 network such as 192.168.10.0/24", need_slash=True),
    FieldType.IPV4_INTERFACE: _parses(_interface, "an IPv4 address/prefix such as 10.0.0.1/24", need_slash=True),
    FieldType.IPV6: _parses(ipaddress.IPv6Address, "an IPv6 address"),
    FieldType.HOSTNAME: _hostname,
    FieldType.PORT: _port,
    FieldType.ENUM: _enum,
    FieldType.URL: _url,
    FieldType.SECRET: _secret,
    FieldType.LIST: _list,
}
