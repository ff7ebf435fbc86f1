"""`fleet.yaml`: the fleet's identity, variant (D0.1/D0.2), approval (D0.3), defaults and sync policy."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from reconciler.core.models.common import Duration, Name, Spec, Text, TimeZone
from reconciler.core.models.layers import LayerSpec

FORMAT = "reconciler/v1"


class Variant(StrEnum):
    SERVER = "server"  # D0.1: one dedicated server, 1 to 1,500 routers
    DATACENTER = "datacenter"  # D0.2: Kubernetes, 1,000 to 20,000 routers


class Approval(Spec):
    """D0.3: registering more than 5,000 routers needs a prior review and approval, recorded here."""

    reference: Annotated[str, Field(min_length=1, max_length=128, description="the approval's reference")]
    approved_by: Annotated[str, Field(min_length=1, max_length=128)]
    approved_on: dt.date
    max_devices: Annotated[int, Field(gt=5000, le=20000, description="the approved number of routers")]


class Defaults(LayerSpec):
    """Fleet-wide defaults: the lowest level of precedence (fleet < groups < device)."""


class Sync(Spec):
    """How the daemon follows the repository."""

    interval: Duration = Field(default=dt.timedelta(minutes=5), description="how often to observe, plan and apply")
    self_heal: bool = Field(default=True, description="correct drift (true) or only report it (false)")


class FleetSpec(Spec):
    """The root of a fleet repository."""

    format: Literal["reconciler/v1"] = Field(description="the repository format; always reconciler/v1")
    name: Name
    description: Text = ""
    variant: Annotated[Variant, Field(strict=False)]
    timezone: TimeZone = Field(description="the operator's time zone, for reports")
    approval: Approval | None = None
    defaults: Defaults = Defaults()
    volatile_keys: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default=[],
        description="glob patterns of configuration keys that are never drift (added to the built-in ones)",
    )
    sync: Sync = Sync()
    sealing_key: Annotated[str, Field(pattern=r"^[A-Za-z0-9+/]{43}=$")] | None = Field(
        default=None, description="the public key secrets/ are sealed to (base64 X25519), see `reconciler secret`"
    )
