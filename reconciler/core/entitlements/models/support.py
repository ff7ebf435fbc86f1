"""Support and maintenance plans (D4): which plan covers each product, and for how long.

Where it sits: `loading` validates `services/support.yaml` (`SupportFile`); `support` works out each
product's current term (D4.1, D4.6–D4.8); `sla` gives the deadlines under its plan (D4.2–D4.5).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from reconciler.core.models.common import Name, Spec


class Plan(StrEnum):
    BASIC = "basic"
    GOLD = "gold"
    PLATINUM = "platinum"


class Region(StrEnum):
    AMERICAS = "americas"
    EUROPE = "europe"
    MIDDLE_EAST = "middle-east"
    UAE = "uae"


class Renewal(Spec):
    ordered: dt.date
    years: int = Field(default=1, ge=1, le=10)


class AddOn(Spec):
    name: Name
    expires: dt.date = Field(description="as sold; it ends with the base product's plan at the latest (D4.7)")


class Product(Spec):
    name: Name
    purchased: dt.date = Field(description="the product comes with basic for its first 12 months (D4.1)")
    plan: Annotated[Plan, Field(strict=False)] = Plan.BASIC
    region: Annotated[Region, Field(strict=False)] = Region.EUROPE
    plan_started: dt.date | None = Field(default=None, description="when the plan's first term began")
    plan_expires: dt.date | None = Field(default=None, description="the end of the plan's first term")
    renewals: list[Renewal] = []
    add_ons: list[AddOn] = []
    end_of_support: dt.date | None = Field(default=None, description="ends the term early (D4.8)")
    end_of_life: bool = Field(default=False, description="no support at all (D4.8)")
    covers_fleet: bool = Field(default=False, description="the plan the daemon's router incidents run under (D4.9)")


class SupportFile(Spec):
    """services/support.yaml: the support plans of the products (D4)."""

    products: list[Product] = Field(min_length=1)
