"""Judging a revision's entitlements at a moment: the problems `validate` reports for them.

Where it sits: `app.verdicts` hands it a built fleet, its entitlement files, the revision's files,
a renderer and `now`; it asks the rule modules (licences, platform, support, telephony) and
returns their problems, plus the one rule that needs rendered configurations: the routers at a
telephony location must let its ports out (D3.7). `link_notes` reads D3.6 from observed link
metrics for the plans. A purely computational module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

from reconciler.core.entitlements import telephony
from reconciler.core.entitlements.licences import fleet_licences
from reconciler.core.entitlements.models.telephony import Location
from reconciler.core.entitlements.platform import platform_problems
from reconciler.core.entitlements.support import support_problems
from reconciler.core.fleets import Fleet, Located, SourceFile
from reconciler.core.models import PaasFile, SupportFile, UcaasFile
from reconciler.core.observed import ObservedSnapshot
from reconciler.core.problems import Origin, Problem, error
from reconciler.core.rendering import Renderer, RenderFailure


def entitlement_problems(fleet: Fleet, entitlements: Sequence[Located], files: Mapping[str, SourceFile],
                         renderer: Renderer | None, now: dt.datetime) -> list[Problem]:
    """The licences, the platform, telephony and support plans, judged at `now`."""
    today = now.astimezone(ZoneInfo(fleet.spec.timezone)).date()
    problems = fleet_licences(entitlements, fleet, now)[1]
    for located in entitlements:
        if isinstance(located.spec, PaasFile):
            problems += platform_problems(located, files, now)
        elif isinstance(located.spec, SupportFile):
            problems += support_problems(located.spec, located.origin, today)
    return problems + _telephony_problems(fleet, entitlements, renderer, today)


def _telephony_problems(fleet: Fleet, entitlements: Sequence[Located], renderer: Renderer | None,
                        today: dt.date) -> list[Problem]:
    """D3.1–D3.4 of services/ucaas.yaml, and D3.7: the routers at a telephony site let its ports out."""
    problems: list[Problem] = []
    for located in entitlements:
        if not isinstance(located.spec, UcaasFile):
            continue
        problems += telephony.customer_problems(located.spec, located.origin, today)
        if renderer is None:
            continue
        for index, customer in enumerate(located.spec.customers):
            for number, location in enumerate(customer.locations):
                where = located.origin.child("customers", index, "locations", number, "site")
                problems += _site_ports(fleet, renderer, location, customer.pbx, where)
    return problems


def _site_ports(fleet: Fleet, renderer: Renderer, location: Location, pbx: str, where: Origin) -> list[Problem]:
    if location.site is None:
        return []
    if location.site not in fleet.sites:
        return [error("ucaas-site", f"{pbx}/{location.name}: unknown site {location.site!r}", where)]
    problems = [error("ucaas-router", f"{pbx}/{location.name}: router {name!r} is not at site {location.site}",
                      where) for name in location.routers
                if name not in fleet.devices or (site := fleet.devices[name].site) is None
                or site.name != location.site]
    provider = location.trunk.provider_ip if location.trunk is not None else None
    for device in fleet.devices.values():
        at_site = device.site is not None and device.site.name == location.site
        if not at_site or (location.routers and device.name not in location.routers):
            continue
        desired = renderer.render(device)
        if isinstance(desired, RenderFailure):
            continue  # reported as a render failure
        missing = telephony.missing_ports(desired.parsed().values, provider)
        if missing:
            problems.append(error("ucaas-ports", f"{device.name} at telephony site {location.site} ({pbx}, "
                                  f"{location.name}) does not let out: {'; '.join(missing)} (D3.7)", where,
                                  device=device.name))
    return problems


def link_notes(fleet: Fleet, entitlements: Sequence[Located], snapshot: ObservedSnapshot) -> list[str]:
    """D3.6: the observed link quality of the routers at telephony locations, per site."""
    sites = {name: device.site.name for name, device in fleet.devices.items() if device.site is not None}
    by_serial = {device.serial: name for name, device in fleet.devices.items()}
    metrics = {by_serial[d.serial]: d.metrics for d in snapshot.devices if d.metrics and d.serial in by_serial}
    return [note for located in entitlements if isinstance(located.spec, UcaasFile)
            for note in telephony.site_link_problems(located.spec, sites, metrics)]
