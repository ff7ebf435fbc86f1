"""Address checks: routers are reached over HTTPS; plain HTTP only in a fleet that says it is a lab.

Where it sits: `building` hands it the devices of a revision and fleet.yaml's `management`.
reconciler logs in to a router with the fleet's password and the operator's, and sends it a
configuration with its secrets unsealed: over `http://` all of that travels in clear (and no CA
pins the router). So an `http://` address is an error at the address, unless the fleet sets
`management.allow_plain_http: true`, which is for labs and stays a warning while it is on. The
driver refuses a plain-HTTP login on its own as well (`shell.drivers.icom`), whatever validated.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.core.fleets import Located
from reconciler.core.models.fleet import Management
from reconciler.core.problems import Origin, Problem, error, warning

CODE = "plain-http"
_SHOWN = 5


def is_plain_http(address: str) -> bool:
    """Whether a device address (`https://host`, `host:port`, `http://host`) is plain HTTP."""
    return address[:7].lower() == "http://"


def plain_http_problems(devices: Iterable[Located], management: Management) -> list[Problem]:
    """An error at each `http://` address, or, in a lab fleet, one warning at the setting that allows them."""
    plain = [item for item in devices if is_plain_http(item.spec.address)]
    if not management.allow_plain_http:
        return [error(CODE, f"device {item.spec.name!r}: {item.spec.address} is plain HTTP: reconciler would send "
                      "the router's passwords and secrets in clear; use https:// (a lab may set "
                      "management.allow_plain_http: true in fleet.yaml)", item.origin.child("address"), item.spec.name)
                for item in plain]
    setting = Origin("fleet.yaml", ("management", "allow_plain_http"))
    if not plain:
        return [warning(CODE, "management.allow_plain_http is on, but no device has an http:// address: remove it",
                        setting)]
    names = ", ".join(item.spec.name for item in plain[:_SHOWN]) + (f" and {len(plain) - _SHOWN} more"
                                                                    if len(plain) > _SHOWN else "")
    many = len(plain) != 1
    return [warning(CODE, f"plain HTTP allowed (labs only): {len(plain)} router{'s' * many} ({names}) "
                    f"get{'s' * (not many)} {'their' if many else 'its'} passwords and secrets in clear", setting)]
