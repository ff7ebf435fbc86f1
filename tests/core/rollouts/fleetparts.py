"""Devices and policies for the rollout tests, built as the validation would build them."""

from __future__ import annotations

from reconciler.core.documents import parse_yaml
from reconciler.core.fleets import Device
from reconciler.core.models import ConfigMode, SiteSpec
from reconciler.core.models.rollouts import RolloutsFile
from reconciler.core.problems import Origin

ZONES = {"berlin": "Europe/Berlin", "hamburg": "Europe/Berlin", "newark": "America/New_York",
         "dubai": "Asia/Dubai", "sydney": "Australia/Sydney"}


def site(name: str) -> SiteSpec:
    return SiteSpec(name=name, timezone=ZONES[name], lat=0.0, lon=0.0)


def device(name: str, model: str = "MRX5 LTE", site_name: str | None = "berlin", groups: tuple[str, ...] = (),
           tags: tuple[str, ...] = (), template: str | None = "base", firmware: str | None = "10.6") -> Device:
    """A resolved device with only what rollouts look at filled in meaningfully."""
    return Device(name=name, serial=name, model=model, address="https://10.0.0.1",
                  site=site(site_name) if site_name is not None else None, groups=groups, tags=tags,
                  template=template, config_mode=ConfigMode.MERGE, firmware=firmware, packets=(), fields={},
                  description="", origin=Origin("devices/all.yaml"))


def policy(text: str) -> RolloutsFile:
    """A rollouts.yaml, parsed and validated as the loader does it."""
    document = parse_yaml("rollouts.yaml", text.encode())
    assert not document.problems, document.problems
    return RolloutsFile.model_validate(document.data)
