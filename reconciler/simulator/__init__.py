"""A simulator of icom OS routers: many virtual routers behind one aiohttp server on loopback.

Where it sits: beside the project, not in it. `reconciler simulate` (`command.py`) and the tests
start it; the icom driver talks to it over real sockets exactly as to real routers
(docs/router-api.md). It is an independent implementation of the router side and imports nothing
from `reconciler.core`, `reconciler.shell`, `reconciler.app` or `reconciler.cli` (an import-linter
contract), so a misreading of the format in the project cannot cancel itself out here.

    fleet.py          which routers: a fleet repository's devices, or N generated ones
    profiles.py       behaviour profiles (latency, offline share, 503s, reboots, rejected keys), seeded
    rules.py          break rules: a configuration that takes a router's WAN or VPN down
    routers.py        the state of each router and the Simulator holding them all
    configuration.py  ASCII configuration applied to a router's key → value store
    credentials.py    credentials stored and shown only hashed
    packets.py        update packets: tar, MANIFEST, MD5SUM
    updating.py       performing packet entries, activating profiles
    status.py         what a router reports of its WAN, VPN and cellular signal
    api.py            the REST API handlers (sections 1–9)
    inspection.py     the `_sim` endpoints (section 10)
    server.py         the aiohttp server, the gates of every API call, `start`
    tls.py            the generated CA and server certificate
    command.py        `add_arguments` and `run` for the CLI
"""

from reconciler.simulator.server import SimulatorHandle, start

__all__ = ["SimulatorHandle", "start"]
