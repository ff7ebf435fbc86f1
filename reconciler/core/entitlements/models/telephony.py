"""Hosted telephony, UCaaS (D3): per customer PBX its base licence, locations with SIP trunks, users.

Where it sits: `loading` validates `services/ucaas.yaml` (`UcaasFile`); `telephony` checks the
D3 rules, the routers at telephony sites (D3.7 ports, D3.6 link quality) and bills each month
from the file's git history (D3.5).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field

from reconciler.core.models.common import Duration, Name, Spec


class BaseLicence(StrEnum):
    BASE = "base"  # SIP trunk in the data centre (D3.1)
    EXTENDED_BASE = "extended-base"  # SIP trunk on site, with a rented media gateway (D3.1)


class Package(StrEnum):
    KLAR = "klar"  # telephony (D3.2)
    KLINGEND = "klingend"  # + CTI client + voicemail
    VOLL = "voll"  # + UC client + softphone + mail-to-fax


class Trunk(Spec):
    id: Name = Field(description="the SIP trunk's identifier at the provider")
    provider_ip: str | None = Field(default=None, pattern=r"^\d{1,3}(\.\d{1,3}){3}$",
                                    description="the provider's SIP server: the site must let 5060/5061 out (D3.7)")


class Location(Spec):
    name: Name
    site: Name | None = Field(default=None, description="the fleet site whose routers serve this location")
    routers: list[Name] = Field(default=[], description="the routers the phones use (default: every router at "
                                "the site); each must let the D3.7 ports out")
    address: str = Field(min_length=1, max_length=200)
    trunk: Trunk | None = Field(default=None, description="at most one SIP trunk per location (D3.3)")


class User(Spec):
    name: str = Field(min_length=1, max_length=120)
    location: Name
    packages: list[Annotated[Package, Field(strict=False)]] = Field(description="at least one (D3.2)")


class Demo(Spec):
    started: dt.date = Field(description="a demo runs 4 weeks, with at most 3 users and 1 SIP trunk (D3.4)")
    assigned_by: str = Field(min_length=1, description="the staff member who assigned it (D3.4)")


class Customer(Spec):
    pbx: Name
    licences: list[Annotated[BaseLicence, Field(strict=False)]] = Field(description="exactly one base licence (D3.1)")
    additional_locations: int = Field(default=0, ge=0, description="additional-location licences (D3.3)")
    demo: Demo | None = None
    locations: list[Location] = Field(min_length=1)
    users: list[User] = []


class Maintenance(Spec):
    """A provider maintenance window (D3.8): outside business hours, announced a week ahead (emergency: 1 hour)."""

    start: AwareDatetime
    duration: Duration
    announced: AwareDatetime
    emergency: bool = False
    reason: str = ""


class Outage(Spec):
    """The platform was not available (D3.9 counts it, unless it is an announced maintenance window)."""

    start: AwareDatetime
    end: AwareDatetime
    note: str = ""


class UcaasFile(Spec):
    """services/ucaas.yaml: hosted telephony customers (D3)."""

    customers: list[Customer] = Field(min_length=1)
    maintenance: list[Maintenance] = []
    outages: list[Outage] = []
