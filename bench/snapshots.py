"""Synthetic observed-state snapshots: what a fleet's routers might report, for demos and benchmarks.

Starts from each device's desired state and makes the fleet realistic: some routers still on an
older firmware, some with packets missing, a share with drifted keys (changed by hand on the
router), one offline, one the repository does not know, router-side keys the templates do not
manage, and volatile status keys. Seeded, so the same arguments give the same snapshot.

    python -m bench.snapshots example-fleet-repo --out example-fleet-repo/.demo/observed.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from pathlib import Path

from reconciler.core.fleets import Fleet
from reconciler.core.observed import FORMAT, ObservedDevice, ObservedSnapshot, snapshot_json
from reconciler.core.rendering import DesiredState, Renderer
from reconciler.core.secrets import contains_secret
from reconciler.shell.revisions import FleetLoader

TAKEN_AT = dt.datetime(2026, 11, 21, 9, 30, tzinfo=dt.UTC)
ROUTER_ONLY_KEYS = {"services.snmp.active": "0", "services.telnet.active": "0"}


def synthesize(fleet: Fleet, renderer: Renderer, seed: int = 1, outdated: float = 0.1, drifted: float = 0.05,
               taken_at: dt.datetime = TAKEN_AT) -> ObservedSnapshot:
    rng = random.Random(seed)
    devices = []
    for device in fleet.devices.values():
        state = renderer.render(device)
        if isinstance(state, DesiredState):
            devices.append(_observe(state, fleet, rng, outdated, drifted, taken_at))
    if devices:
        offline = rng.randrange(len(devices))
        devices[offline] = devices[offline].model_copy(
            update={"online": False, "last_seen": taken_at - dt.timedelta(hours=26)})
    devices.append(ObservedDevice(serial="99999999", name="unknown-router", model="MRX5 LTE", firmware="10.4",
                                  online=True, last_seen=taken_at, config={"administration.hostnames.hostname": "x"}))
    return ObservedSnapshot(format=FORMAT, taken_at=taken_at, devices=devices)


def _observe(state: DesiredState, fleet: Fleet, rng: random.Random, outdated: float, drifted: float,
             taken_at: dt.datetime) -> ObservedDevice:
    config = {key: _as_reported(key, value) for key, value in state.parsed().values.items()}
    config.update(ROUTER_ONLY_KEYS)
    config["status.system.uptime"] = str(rng.randrange(10_000, 9_000_000))
    if rng.random() < drifted and config:
        _drift(config, rng)
    firmware = state.firmware
    older = [v for v in fleet.firmware if v != firmware and state.model in fleet.firmware[v].models]
    if firmware and older and rng.random() < outdated:
        firmware = sorted(older)[0]
    packets = {name: digest for name, digest in state.packets if rng.random() > outdated}
    return ObservedDevice(serial=state.serial, name=state.device, model=state.model, firmware=firmware,
                          online=True, last_seen=taken_at, packets=packets, config=config)


def _as_reported(key: str, value: str) -> str:
    # Routers report credentials hashed; the plan treats secret-valued keys as write-only.
    return "$6$hashed$" if contains_secret(value) else value


def _drift(config: dict[str, str], rng: random.Random) -> None:
    candidates = [k for k, v in config.items() if not v.startswith("$6$") and not k.startswith("status.")]
    key = rng.choice(candidates)
    if rng.random() < 0.5:
        config[key] = config[key] + "-changed-by-hand"
    else:
        del config[key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fleet", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    revision = FleetLoader().load(args.fleet)
    assert revision.build.fleet is not None, "the fleet must validate"
    snapshot = synthesize(revision.build.fleet, revision.renderer(), args.seed)
    args.out.write_bytes(snapshot_json(snapshot))
    print(f"wrote {args.out}: {len(snapshot.devices)} devices")


if __name__ == "__main__":
    main()
