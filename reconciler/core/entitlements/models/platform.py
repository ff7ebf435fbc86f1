"""The hosted application platform (D2): instances, their environments, maintenance and downtimes.

Where it sits: `loading` validates `services/paas.yaml` (`PaasFile`); `platform` works out the
instances' URLs, maintenance windows (D2.6) and monthly availability (D2.8).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field

from reconciler.core.models.common import Duration, Name, Spec


class Environment(StrEnum):
    PROD = "prod"
    TEST = "test"  # URL suffix -test (D2.3)
    DEV = "dev"  # URL suffix -dev (D2.3)


class Track(StrEnum):
    SILENT = "silent"  # the default (D2.5)
    STEADY = "steady"


class SupportPackage(StrEnum):
    STARTER = "starter"
    ADVANCED = "advanced"
    PROFESSIONAL = "professional"
    PREMIUM = "premium"


class Domain(Spec):
    name: str = Field(max_length=253, pattern=r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
    certificate: str = Field(description="the customer's certificate for it, a file in the repository (D2.2)")


class Announcement(Spec):
    """A critical planned maintenance (D2.6): counts as planned only if announced 72 hours ahead."""

    start: AwareDatetime
    duration: Duration
    announced: AwareDatetime
    reason: str = ""


class Severity(StrEnum):
    CRITICAL = "critical"  # only these count against availability (D2.8)
    MAJOR = "major"
    OTHER = "other"


class Cause(StrEnum):
    PROVIDER = "provider"
    CUSTOMER = "customer"  # a component the customer built: never counted (D2.8)


class Downtime(Spec):
    start: AwareDatetime
    end: AwareDatetime
    severity: Annotated[Severity, Field(strict=False)] = Severity.CRITICAL
    cause: Annotated[Cause, Field(strict=False)] = Cause.PROVIDER
    note: str = ""


class Postponement(Spec):
    """A major update held back (D2.7): at most 6 months after its release; security fixes still apply."""

    release: dt.date
    until: dt.date


class Instance(Spec):
    name: Name
    company: str = Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$",
                         description="the subdomain: https://<company>.myIntrexx.com (D2.2)")
    environments: list[Annotated[Environment, Field(strict=False)]] = Field(default=[Environment.PROD], min_length=1)
    domain: Domain | None = None
    track: Annotated[Track, Field(strict=False)] = Track.SILENT
    storage_gb: int = Field(default=100, ge=100, le=100_000, description="100 GB included, more booked (D2.5)")
    support: Annotated[SupportPackage, Field(strict=False)] = SupportPackage.STARTER
    demo: bool = Field(default=False, description="a demo instance (may become production, D2.4)")
    ordered: AwareDatetime | None = Field(default=None, description="provisioned within one business day (D2.4)")
    terminated: dt.date | None = Field(default=None, description="data handed over within 4 weeks, then deleted "
                                       "(D2.10)")
    last_backup: AwareDatetime | None = Field(default=None, description="backups run every 24 hours (D2.9)")
    postponed_update: Postponement | None = None
    critical_maintenance: list[Announcement] = []
    downtimes: list[Downtime] = []


class PaasFile(Spec):
    """services/paas.yaml: the hosted platform instances (D2)."""

    maintenance_duration: Duration = Field(
        default=dt.timedelta(hours=4),
        description="how long the monthly window from 17:00 lasts (the contract names no end: our default)")
    instances: list[Instance] = Field(min_length=1)
