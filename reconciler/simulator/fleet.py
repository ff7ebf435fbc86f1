"""Which routers to simulate: the devices of a fleet repository, or N generated ones.

Where it sits: `command.py` hands `--fleet PATH` to `read_devices` or `--devices N` to
`generated_devices`; the `Simulator` (`routers.py`) makes one virtual router of each `Device`.
A small reader of its own (PyYAML `safe_load` of `devices/**/*.yaml`, `!secret x` read as a plain
string): the simulator only needs name, serial and model, and must not lean on the project's loader.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

try:  # libyaml's parser when PyYAML has it: a 20,000-device fleet loads in a fraction of the time
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

GENERATED_MODELS = ("MRX5 LTE", "MRX3 LTE", "MRX6 DSL", "SCR LTE", "MRO-L200")
FIRST_GENERATED_SERIAL = 30_000_000


class FleetError(Exception):
    """The fleet cannot be read (the message names the file and what is wrong)."""


@dataclass(frozen=True, slots=True)
class Device:
    """A router to simulate."""

    serial: str
    name: str
    model: str


class _Loader(_SafeLoader):
    """Safe loading plus the fleet's `!secret name` tag, read as the name."""


def _secret(loader: _SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


_Loader.add_constructor("!secret", _secret)


def generated_devices(count: int) -> list[Device]:
    """`count` routers: serials 30000000 + i, names sim-<i>, the five models in turn."""
    return [
        Device(str(FIRST_GENERATED_SERIAL + i), f"sim-{i}", GENERATED_MODELS[i % len(GENERATED_MODELS)])
        for i in range(count)
    ]


def read_devices(repository: Path) -> list[Device]:
    """Every device in `repository/devices/**/*.yaml`, files in path order; raises FleetError."""
    folder = repository / "devices"
    if not folder.is_dir():
        raise FleetError(f"{repository}: no devices/ folder (is this a fleet repository?)")
    devices: list[Device] = []
    for path in sorted([*folder.rglob("*.yaml"), *folder.rglob("*.yml")]):
        devices.extend(_devices_in(path))
    if not devices:
        raise FleetError(f"{folder}: no devices found")
    seen: set[str] = set()
    for device in devices:
        if device.serial in seen:
            raise FleetError(f"{folder}: serial {device.serial} appears twice")
        seen.add(device.serial)
    return devices


def _devices_in(path: Path) -> list[Device]:
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (a SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise FleetError(f"{path}: {error}") from error
    if document is None:
        return []
    entries = document.get("devices") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise FleetError(f"{path}: expected a 'devices:' list")
    return [_device(path, position, entry) for position, entry in enumerate(entries, start=1)]


def _device(path: Path, position: int, entry: Any) -> Device:
    if not isinstance(entry, dict):
        raise FleetError(f"{path}: device {position} is not a mapping")
    missing = [key for key in ("name", "serial", "model") if entry.get(key) in (None, "")]
    if missing:
        raise FleetError(f"{path}: device {position} has no {', '.join(missing)}")
    return Device(str(entry["serial"]), str(entry["name"]), str(entry["model"]))
