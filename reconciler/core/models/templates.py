"""`templates/<name>.yaml`: the field declarations of the configuration template `templates/<name>.j2`.

Every field a template reads must be declared with its type; every device that uses the template
must end up (after precedence) with every required field, of the declared type (D0.16, D0.11).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field

from reconciler.core.models.common import FieldName, Model, Spec, Text


class FieldType(StrEnum):
    STRING = "string"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    IPV4 = "ipv4"  # 192.168.1.1
    IPV4_NETWORK = "ipv4_network"  # 192.168.1.0/24 (host bits zero)
    IPV4_INTERFACE = "ipv4_interface"  # 192.168.1.1/24 (an address with its prefix)
    IPV6 = "ipv6"
    HOSTNAME = "hostname"  # RFC 1123
    PORT = "port"  # 1-65535
    ENUM = "enum"  # one of `values`
    URL = "url"
    SECRET = "secret"  # must be `!secret name`
    LIST = "list"  # a list of `items`


class FieldSpec(Spec):
    type: Annotated[FieldType, Field(strict=False)]
    description: Text = ""
    required: bool | None = Field(default=None, description="default: required unless a default is given")
    default: Any = None
    values: list[Annotated[str, Field(min_length=1)]] | None = Field(default=None, description="for enum")
    min: int | float | None = Field(default=None, description="for int, float, port; the length for list")
    max: int | float | None = None
    pattern: str | None = Field(default=None, description="for string: a regular expression to fullmatch")
    items: Annotated[FieldType, Field(strict=False)] | None = Field(
        default=None, description="for list: the type of each item"
    )

    @property
    def is_required(self) -> bool:
        if self.required is not None:
            return self.required
        return "default" not in self.model_fields_set


class TemplateSpec(Spec):
    description: Text = ""
    models: list[Model] | None = Field(default=None, description="router models the template supports")
    fields: dict[FieldName, FieldSpec] = {}
