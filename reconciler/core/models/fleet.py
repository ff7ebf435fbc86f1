"""`fleet.yaml`: the fleet's identity, variant (D0.1/D0.2), approval (D0.3), defaults and sync policy."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from reconciler.core.models.common import Duration, FieldName, Name, RelativePath, Spec, Text, TimeZone
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


class Management(Spec):
    """How reconciler reaches the routers' REST API (icom OS API v2) and what it must not break."""

    username: Annotated[str, Field(min_length=1, max_length=64)] = "admin"
    password_field: FieldName | None = Field(
        default=None,
        description="the device field (a !secret) holding the password the router should have; the driver "
        "logs in with it, then with the operator's credentials file",
    )
    ca: RelativePath | None = Field(default=None, description="a PEM file in the repository: the CA routers' "
                                    "HTTPS certificates are verified against (default: the system's CAs)")
    verify_tls: bool = Field(default=True, description="false only for lab routers with self-signed certificates")
    allow_plain_http: bool = Field(
        default=False,
        description="labs only: let devices have http:// addresses; reconciler then logs in and sends "
        "configuration with secrets in clear (validate warns while it is on)",
    )
    connect_timeout: Duration = Field(default=dt.timedelta(seconds=10))
    read_timeout: Duration = Field(default=dt.timedelta(seconds=60))
    retries: Annotated[int, Field(ge=0, le=10)] = Field(default=4, description="retries of a busy (503) or "
                                                        "unreachable router, with jittered exponential backoff")
    max_parallel: Annotated[int, Field(ge=1, le=2000)] = Field(default=20, description="routers talked to at "
                                                               "once (cellular links are slow)")
    reboot_timeout: Duration = Field(default=dt.timedelta(minutes=10),
                                     description="how long a router may take to come back after a firmware update")
    guard_keys: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default=["services.https.active", "services.https.port"],
        description="keys whose change would cut reconciler's own access to a router (globs): a plan that "
        "changes one is refused for that device",
    )
    secret_keys: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default=[], max_length=200,
        description="keys that may carry a !secret value (globs), besides those named like a credential "
        "(password, psk, pin, private_key, …): a secret rendered into any other key is an error",
    )


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
    management: Management = Management()
    sealing_key: Annotated[str, Field(pattern=r"^[A-Za-z0-9+/]{43}=$")] | None = Field(
        default=None, description="the public key secrets/ are sealed to (base64 X25519), see `reconciler secret`"
    )
