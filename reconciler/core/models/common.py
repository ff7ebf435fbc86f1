"""Building blocks shared by every file kind: the strict base model and constrained scalar types.

Where it sits: the models of each file (`fleet`, `devices`, ...) are made of these; `loading`
validates parsed YAML against them and `schemas` derives the JSON Schemas from them.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from reconciler.core.secrets import SECRET_NAME_PATTERN, SecretRef


class Spec(BaseModel):
    """A frozen, strict model that rejects unknown keys: one per YAML mapping in the repository."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid", validate_default=False)


NAME_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$"
Name = Annotated[
    str,
    StringConstraints(pattern=NAME_PATTERN),
    Field(description="letters, digits, '.', '_', '-'; up to 64 characters, starting and ending alphanumeric"),
]
Tag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,62}$")]
Serial = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{2,39}$"),
    Field(description="the router's serial number, as a string (quote it if it is all digits)"),
]
Model = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^\S(?:.*\S)?$"),
    Field(description="the router model (type designation), e.g. 'MRX5 LTE'"),
]
Version = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]+(?:\.[0-9]+){0,3}(?:[-+][A-Za-z0-9.]+)?$"),
    Field(description="an icom OS version such as '10.6' (quote it: YAML would read 10.6 as a number)"),
]
FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,63}$")]
SecretName = Annotated[str, StringConstraints(pattern=f"^{SECRET_NAME_PATTERN}$")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Md5 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]


def _check_relative(value: str) -> str:
    if value.startswith("/") or ".." in value.split("/"):
        raise PydanticCustomError("relative_path", "expected a path inside the repository, got {v}", {"v": repr(value)})
    return value


RelativePath = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9._][A-Za-z0-9._/-]*$", max_length=255),
    AfterValidator(_check_relative),
    Field(description="a path relative to this file's directory, inside the repository"),
]
Text = Annotated[str, StringConstraints(max_length=4096)]


class ConfigMode(StrEnum):
    """How a rendered configuration is compared with a router's (merge: only the keys it renders)."""

    MERGE = "merge"  # only the keys the template renders are compared
    REPLACE = "replace"  # router keys the template does not render are drift too


# Enum fields are lax: strict mode would want enum instances, YAML gives their values as strings.
ConfigModeField = Annotated[ConfigMode, Field(strict=False)]

PATTERN_HINTS = {
    NAME_PATTERN: "letters, digits, '.', '_' or '-', starting and ending with a letter or digit, at most 64",
    r"^[a-z_][a-z0-9_]{0,63}$": "lower-case letters, digits and '_', not starting with a digit",
    r"^[A-Za-z0-9][A-Za-z0-9-]{2,39}$": "letters, digits and '-', 3 to 40 characters",
    r"^[0-9]+(?:\.[0-9]+){0,3}(?:[-+][A-Za-z0-9.]+)?$": "a version such as \"10.6\" or \"10.6.1\"",
    r"^[0-9a-f]{64}$": "64 lower-case hex digits",
    r"^[0-9a-f]{32}$": "32 lower-case hex digits",
}


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _check_zone(name: str) -> str:
    try:
        _zone(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name such as "Europe" is a directory
        raise PydanticCustomError(
            "time_zone", "unknown IANA time zone {name} (e.g. Europe/Berlin)", {"name": repr(name)}
        ) from None
    return name


TimeZone = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*$"),
    AfterValidator(_check_zone),
    Field(description="an IANA time zone such as Europe/Berlin"),
]

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(value: Any) -> dt.timedelta:
    """'90s', '5m', '1h30m', '2d' → timedelta (strictly a non-empty string)."""
    match = _DURATION.match(value) if isinstance(value, str) and value else None
    if match is None:
        raise PydanticCustomError("duration", "expected a duration such as '30s', '5m', '1h30m' or '2d'")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(value: dt.timedelta) -> str:
    seconds = int(value.total_seconds())
    parts = [(seconds // 86400, "d"), (seconds % 86400 // 3600, "h"), (seconds % 3600 // 60, "m"),
             (seconds % 60, "s")]
    return "".join(f"{n}{unit}" for n, unit in parts if n) or "0s"


Duration = Annotated[
    dt.timedelta,
    PlainValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": _DURATION.pattern, "examples": ["30s", "5m", "1h30m"]}),
]


def _check_address(value: str) -> str:
    host_port = value
    if "://" in value:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.path not in ("", "/"):
            raise PydanticCustomError("address", "expected https://host[:port] or host[:port], got {v}",
                                      {"v": repr(value)})
        host_port = parts.netloc
    match = re.fullmatch(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?", host_port)
    if match is None or (match.group(1) is not None and not 1 <= int(match.group(1)) <= 65535):
        raise PydanticCustomError("address", "expected https://host[:port] or host[:port], got {v}", {"v": repr(value)})
    return value


Address = Annotated[
    str,
    StringConstraints(max_length=255),
    AfterValidator(_check_address),
    Field(description="how to reach the router's REST API: https://host[:port] or host[:port]"),
]


_PLAIN_HTTPS = re.compile(r"https://([A-Za-z0-9.-]+)/?")


def normalized_address(address: str) -> str:
    """host:port with defaults filled in, for detecting two devices at one address."""
    plain = _PLAIN_HTTPS.fullmatch(address)  # the common case, without urlsplit's cost
    if plain is not None:
        return f"{plain.group(1).lower()}:443"
    parts = urlsplit(address if "://" in address else f"https://{address}")
    port = parts.port or (80 if parts.scheme == "http" else 443)
    return f"{(parts.hostname or '').lower()}:{port}"


class _SecretRefSchema:
    """Lets pydantic accept the `SecretRef` objects the YAML loader creates for `!secret name`."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.is_instance_schema(SecretRef)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "description": "a sealed secret: `!secret name` (see secrets/)"}


SecretField = Annotated[SecretRef, _SecretRefSchema]

FieldValues = Annotated[
    dict[FieldName, Any],
    Field(description="user fields (D0.11): name → value; the template's declarations give the types"),
]
