"""A router's status as it reports it: the WAN link, the VPN tunnels and the cellular signal.

Where it sits: the API's `status/wan`, `status/vpn` and `status/cellular` handlers (`api.py`) and
the inspection endpoint `_sim/state` (`inspection.py`) ask here; the values follow the running
configuration (`routers.Router.config`) and the break rules the `Simulator` holds (`rules.py`):

    WAN       the first member of `wan.wan_chain[1]` whose interface is not switched off
              (`interfaces.<if>.active=0`), or the model's own port without a chain (dsl1 on a
              DSL model, else net2); up unless every member is off or a break rule holds
    VPN       one tunnel per IPsec connection (`ipsec.connection[n].…`) not switched off, none
              when `ipsec.active=0`; up when the WAN is up, no break rule takes the VPN down and
              the connection names its `remote_gateway`
    cellular  on LTE models only: the modem `wwan1`, off with `interfaces.wwan1.active=0`, else
              registered with a signal drawn once per router from the seed (-105 to -60 dBm) or
              set by hand (`_sim/signal`)
"""

from __future__ import annotations

import re
from typing import Any

from reconciler.simulator.profiles import Stream
from reconciler.simulator.routers import Router, Simulator

UP, DOWN = "up", "down"
MODEM = "wwan1"
_CHAIN_MEMBER = "wan.wan_chain[1].member[{}].interface"
_IPSEC_CONNECTION = re.compile(r"ipsec\.connection\[([0-9]+)\]\.")
# A chain with more members than this is not one a router would take; the bound keeps the loop short.
MAX_CHAIN = 16
LOWEST_RSSI, HIGHEST_RSSI = -105, -60


def cellular_model(model: str) -> bool:
    """Whether a model has an LTE modem (`MRX5 LTE`, `SCR LTE`, the `MRO-L…` series)."""
    upper = model.upper()
    return "LTE" in upper or upper.startswith("MRO-L")


def wan(simulator: Simulator, router: Router) -> dict[str, Any]:
    """The WAN link: the interface carrying it and whether it is up."""
    values = router.config.values
    members = []
    for position in range(1, MAX_CHAIN + 1):
        member = values.get(_CHAIN_MEMBER.format(position))
        if member is None:
            break
        members.append(member)
    if not members:
        members = ["dsl1" if "DSL" in router.model.upper() else "net2"]
    active = [member for member in members if values.get(f"interfaces.{member}.active") != "0"]
    up = bool(active) and not simulator.breakage(router).wan_down
    return {"interface": (active or members)[0], "state": UP if up else DOWN}


def tunnels(simulator: Simulator, router: Router) -> list[dict[str, Any]]:
    """The configured VPN tunnels (IPsec connections not switched off), each up or down."""
    values = router.config.values
    if values.get("ipsec.active") == "0":
        return []
    numbers = sorted({int(match.group(1)) for key in values if (match := _IPSEC_CONNECTION.match(key))})
    carried = wan(simulator, router)["state"] == UP and not simulator.breakage(router).vpn_down
    answer = []
    for number in numbers:
        prefix = f"ipsec.connection[{number}]."
        if values.get(prefix + "active") == "0":
            continue
        up = carried and bool(values.get(prefix + "remote_gateway"))
        answer.append({"name": f"ipsec{number}", "type": "ipsec", "description": values.get(prefix + "description", ""),
                       "state": UP if up else DOWN})
    return answer


def cellular(simulator: Simulator, router: Router) -> list[dict[str, Any]]:
    """The LTE modem and its signal; nothing on a model without one."""
    if not cellular_model(router.model):
        return []
    if router.config.values.get(f"interfaces.{MODEM}.active") == "0":
        return [{"interface": MODEM, "state": "off"}]
    rssi = router.signal if router.signal is not None else drawn_rssi(simulator.seed, router.serial)
    return [{"interface": MODEM, "state": "registered", "rssi_dbm": rssi, "quality": quality(rssi)}]


def drawn_rssi(seed: int, serial: str) -> int:
    """The signal a router has unless set by hand: the same for a seed and serial at every read."""
    return LOWEST_RSSI + round((HIGHEST_RSSI - LOWEST_RSSI) * Stream(seed, serial, "signal").random())


def quality(rssi: int) -> str:
    """The usual LTE reading of an RSSI."""
    if rssi >= -65:
        return "excellent"
    if rssi >= -75:
        return "good"
    if rssi >= -85:
        return "fair"
    return "poor" if rssi > -110 else "none"


def summary(simulator: Simulator, router: Router) -> dict[str, Any]:
    """All of it, as `_sim/state` shows it."""
    return {"wan": wan(simulator, router), "vpn": tunnels(simulator, router), "cellular": cellular(simulator, router)}
