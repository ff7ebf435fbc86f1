"""Hosted telephony, UCaaS (D3): the licence rules, the sites' firewall ports, link quality, billing.

Where it sits: `validate` calls `customer_problems` (D3.1–D3.4) and `missing_ports` for each router
at a telephony site (D3.7, against its rendered configuration); `reconciler costs --month` calls
`monthly_bill` with every version of services/ucaas.yaml in effect that month (D3.5, rebuilt from
git history); `link_problems` checks observed link metrics (D3.6). A purely computational module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconciler.core.entitlements import sla
from reconciler.core.entitlements.models.telephony import Customer, Package, UcaasFile
from reconciler.core.problems import Origin, Problem, error, warning

DEMO_DAYS = 28  # D3.4: four weeks
DEMO_USERS, DEMO_TRUNKS = 3, 1  # D3.4
MAX_DELAY_MS, MAX_JITTER_MS, MAX_LOSS_PERCENT = 150.0, 20.0, 1.0  # D3.6 (loss must stay below 1 %)
UC_PLATFORM, UC_SERVICES, UC_STUN = "46.189.64.189", "46.189.64.186", "46.189.64.249"

# D3.7: (function, protocol, first port, last port, destination); the SIP rows only with a local trunk
REQUIRED_PORTS: tuple[tuple[str, str, int, int, str], ...] = (
    ("UC client (HTTPS)", "tcp", 443, 443, UC_PLATFORM),
    ("reporting (HTTPS)", "tcp", 8443, 8443, UC_PLATFORM),
    ("update and backup (HTTPS)", "tcp", 4443, 4443, UC_SERVICES),
    ("registration and signalling (H.323/TLS)", "tcp", 1300, 1300, UC_PLATFORM),
    ("external phone book (LDAPS)", "tcp", 636, 636, UC_SERVICES),
    ("internal phone book (LDAPS)", "tcp", 8636, 8636, UC_PLATFORM),
    ("media negotiation (STUN/TURN)", "tcp", 3478, 3478, UC_STUN),
    ("media negotiation (STUN/TURN)", "udp", 3478, 3478, UC_STUN),
    ("voice (RTP)", "udp", 16384, 32767, UC_PLATFORM),
    ("video telephony", "udp", 50000, 50100, UC_PLATFORM),
    ("application sharing", "udp", 60000, 60100, UC_PLATFORM),
)
SIP_PORTS = (("SIP/TLS signalling", "tcp", 5060, 5061), ("SIP/TLS signalling", "udp", 5060, 5061))


def customer_problems(spec: UcaasFile, origin: Origin, today: dt.date) -> list[Problem]:
    """D3.1–D3.4 for every customer, positioned at the offending key."""
    problems: list[Problem] = []
    for index, customer in enumerate(spec.customers):
        where = origin.child("customers", index)
        problems += _base(customer, where) + _locations(customer, where) + _users(customer, where)
        problems += _demo(customer, where, today)
    return problems + maintenance_problems(spec, origin)


def maintenance_problems(spec: UcaasFile, origin: Origin) -> list[Problem]:
    """D3.8: windows outside business hours (Mon–Fri 08–17), announced a week ahead; emergencies: an hour."""
    problems = []
    for index, window in enumerate(spec.maintenance):
        where = origin.child("maintenance", index)
        notice = sla.UCAAS_EMERGENCY_NOTICE if window.emergency else sla.UCAAS_NOTICE
        if window.start - window.announced < notice:
            problems.append(warning("ucaas-maintenance", f"maintenance on {window.start.isoformat()} was announced "
                                    f"{window.start - window.announced} ahead; D3.8 promises "
                                    f"{'1 hour' if window.emergency else '1 week'}", where.child("announced")))
        if not window.emergency and sla.in_business_hours(sla.UCAAS_SERVICE, window.start,
                                                          window.start + window.duration):
            problems.append(warning("ucaas-maintenance", f"maintenance on {window.start.isoformat()} falls into "
                                    "business hours (Mon–Fri 08:00–17:00): only emergency updates may (D3.8)",
                                    where.child("start")))
    return problems


def _base(customer: Customer, where: Origin) -> list[Problem]:
    if len(customer.licences) == 1:
        return []
    return [error("ucaas-base", f"{customer.pbx}: needs exactly one base licence (base or extended-base), has "
                  f"{len(customer.licences)} (D3.1)", where.child("licences"))]


def _locations(customer: Customer, where: Origin) -> list[Problem]:
    problems = []
    if len(customer.locations) - 1 > customer.additional_locations:
        problems.append(error("ucaas-locations", f"{customer.pbx}: {len(customer.locations)} locations need "
                              f"{len(customer.locations) - 1} additional-location licences, it has "
                              f"{customer.additional_locations} (D3.3)", where.child("additional_locations")))
    trunks: dict[str, str] = {}
    for number, location in enumerate(customer.locations):
        if location.trunk is None:
            continue
        if location.trunk.id in trunks:
            problems.append(error("ucaas-trunk", f"{customer.pbx}: SIP trunk {location.trunk.id} is at "
                                  f"{trunks[location.trunk.id]} already: a trunk belongs to one location (D3.3)",
                                  where.child("locations", number, "trunk", "id")))
        trunks[location.trunk.id] = location.name
    return problems


def _users(customer: Customer, where: Origin) -> list[Problem]:
    names = {location.name for location in customer.locations}
    problems = []
    for number, user in enumerate(customer.users):
        if not user.packages:
            problems.append(error("ucaas-package", f"{customer.pbx}: user {user.name!r} has no package (klar, "
                                  "klingend or voll): every user needs one (D3.2)",
                                  where.child("users", number, "packages")))
        if user.location not in names:
            problems.append(error("ucaas-location", f"{customer.pbx}: user {user.name!r} is at unknown location "
                                  f"{user.location!r}", where.child("users", number, "location")))
    return problems


def _demo(customer: Customer, where: Origin, today: dt.date) -> list[Problem]:
    demo = customer.demo
    if demo is None:
        return []
    problems = []
    trunks = sum(1 for location in customer.locations if location.trunk is not None)
    if len(customer.users) > DEMO_USERS:
        problems.append(error("ucaas-demo", f"{customer.pbx}: a demo has at most {DEMO_USERS} users, this one "
                              f"{len(customer.users)} (D3.4)", where.child("users")))
    if trunks > DEMO_TRUNKS:
        problems.append(error("ucaas-demo", f"{customer.pbx}: a demo has at most {DEMO_TRUNKS} SIP trunk, this one "
                              f"{trunks} (D3.4)", where.child("locations")))
    ends = demo.started + dt.timedelta(days=DEMO_DAYS)
    if today >= ends:
        problems.append(error("ucaas-demo", f"{customer.pbx}: the demo started {demo.started} ended on {ends} "
                              "(4 weeks, D3.4): order licences or remove it", where.child("demo", "started")))
    return problems


def missing_ports(config: Mapping[str, str], sip_provider: str | None) -> list[str]:
    """The D3.7 rows a router's (parsed) configuration does not let out: active output rules by protocol,
    port range and destination."""
    rules: dict[str, dict[str, str]] = {}
    for key, value in config.items():
        if key.startswith("netfilter.ip_filter.rule[") and "]." in key:
            index, field_name = key.removeprefix("netfilter.ip_filter.rule[").split("].", 1)
            rules.setdefault(index, {})[field_name] = value
    allowed = {(r.get("rule_protocol"), int(r.get("rule_dport", "0") or 0),
                int(r.get("rule_dport_end") or r.get("rule_dport", "0") or 0), r.get("rule_dst_ip"))
               for r in rules.values() if r.get("rule_direction") == "output" and r.get("rule_active", "1") == "1"}
    required = [*REQUIRED_PORTS, *((f, p, a, b, sip_provider) for f, p, a, b in SIP_PORTS if sip_provider)]
    return [f"{function} {protocol} {first}" + (f"–{last}" if last != first else "") + f" to {destination}"
            for function, protocol, first, last, destination in required
            if not any(p == protocol and a <= first and last <= b and d in (destination, None)
                       for p, a, b, d in allowed)]


@dataclass(frozen=True)
class LinkReading:
    device: str
    delay_ms: float
    jitter_ms: float
    loss_percent: float


def link_problems(site: str, readings: Sequence[LinkReading]) -> list[str]:
    """D3.6 per site: delay ≤ 150 ms, jitter ≤ 20 ms, loss below 1 %, for each router's reading."""
    found = []
    for reading in readings:
        broken = [f"delay {reading.delay_ms:g} ms > {MAX_DELAY_MS:g}" if reading.delay_ms > MAX_DELAY_MS else "",
                  f"jitter {reading.jitter_ms:g} ms > {MAX_JITTER_MS:g}" if reading.jitter_ms > MAX_JITTER_MS else "",
                  f"loss {reading.loss_percent:g} % ≥ {MAX_LOSS_PERCENT:g}"
                  if reading.loss_percent >= MAX_LOSS_PERCENT else ""]
        if any(broken):
            found.append(f"{site}: {reading.device}: " + ", ".join(b for b in broken if b) + " (D3.6)")
    return found


def licence_counts(spec: UcaasFile | None) -> dict[str, int]:
    """What one version of the file makes available, by licence (demos are not billed, D3.4)."""
    counts: dict[str, int] = {}
    for customer in (spec.customers if spec else ()):
        if customer.demo is not None:
            continue
        for licence in customer.licences:
            counts[licence.value] = counts.get(licence.value, 0) + 1
        if customer.additional_locations:
            counts["additional-location"] = counts.get("additional-location", 0) + customer.additional_locations
        for user in customer.users:
            for package in user.packages:
                counts[package.value] = counts.get(package.value, 0) + 1
    return counts


def monthly_bill(versions: Sequence[tuple[dt.datetime, UcaasFile | None]], month_start: dt.datetime,
                 month_end: dt.datetime) -> dict[str, int]:
    """D3.5: for each licence, the most made available at any time of the month. `versions` come in commit
    order: each is available from its time until the next one's, so the one in effect at the month's start and
    every one made during it count, and one superseded in the same second never was available."""
    in_effect = []
    for index, (when, spec) in enumerate(versions):
        until = versions[index + 1][0] if index + 1 < len(versions) else None
        if until is not None and until <= when:
            continue
        if when < month_end and (until is None or until > month_start):
            in_effect.append(spec)
    bill: dict[str, int] = {}
    for spec in in_effect:
        for licence, count in licence_counts(spec).items():
            bill[licence] = max(bill.get(licence, 0), count)
    order = [b.value for b in Package] + ["base", "extended-base", "additional-location"]
    return {key: bill[key] for key in sorted(bill, key=lambda k: order.index(k) if k in order else 99)}


def site_link_problems(spec: UcaasFile, fleet_devices: Mapping[str, str], observed: Mapping[str, Mapping[str, float]]
                       ) -> list[str]:
    """D3.6 per telephony location: each of its routers' observed link metrics (`delay_ms`, `jitter_ms`,
    `loss_percent`); `fleet_devices` maps router name → site, `observed` router name → metrics."""
    found = []
    for customer in spec.customers:
        for location in customer.locations:
            if location.site is None:
                continue
            routers = location.routers or [n for n, site in fleet_devices.items() if site == location.site]
            readings = [LinkReading(name, metrics.get("delay_ms", 0.0), metrics.get("jitter_ms", 0.0),
                                    metrics.get("loss_percent", 0.0))
                        for name in routers if (metrics := observed.get(name))]
            found += link_problems(f"{location.site} ({customer.pbx}/{location.name})", readings)
    return found


AVAILABILITY_TARGET = 0.998  # D3.9, per year


def yearly_availability(spec: UcaasFile, year: int, until: dt.datetime | None = None,
                        zone: dt.tzinfo = dt.UTC) -> float:
    """D3.9: the share of the calendar year in `zone` (up to `until`) the platform was available; maintenance
    announced as D3.8 promises is not counted as an outage. Durations are elapsed time (UTC)."""
    start = dt.datetime(year, 1, 1, tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime(year + 1, 1, 1, tzinfo=zone).astimezone(dt.UTC)
    end = min(until.astimezone(dt.UTC), end) if until else end
    announced = [(w.start, w.start + w.duration) for w in spec.maintenance
                 if w.start - w.announced >= (sla.UCAAS_EMERGENCY_NOTICE if w.emergency else sla.UCAAS_NOTICE)]
    counted = 0.0
    for outage in spec.outages:
        a, b = max(outage.start, start), min(outage.end, end)
        if b <= a:
            continue
        covered = sum(max(0.0, (min(b, wb) - max(a, wa)).total_seconds()) for wa, wb in announced)
        counted += (b - a).total_seconds() - covered
    total = (end - start).total_seconds()
    return 1 - counted / total if total > 0 else 1.0
