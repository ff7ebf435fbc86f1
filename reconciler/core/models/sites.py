"""`sites.yaml`: where routers stand: coordinates (D0.9 location, D0.20 map) and time zone (windows)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from reconciler.core.models.common import Name, Spec, Text, TimeZone


class SiteSpec(Spec):
    name: Name
    description: Text = ""
    timezone: TimeZone
    lat: Annotated[float, Field(ge=-90, le=90, strict=False)]
    lon: Annotated[float, Field(ge=-180, le=180, strict=False)]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")] | None = None
    address: Text = ""


class SitesFile(Spec):
    sites: list[SiteSpec]
