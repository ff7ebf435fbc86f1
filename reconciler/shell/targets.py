"""Targets: how to reach each router of a fleet, and with which credentials.

Where it sits: between a loaded fleet and the driver. A device is reached at its `address`, or,
with `--simulator URL`, at `URL/d/<serial>`. Credentials never come from plain YAML in the fleet
repository: the password the fleet gives a router (the `management.password_field` of each
device, a sealed secret) is unsealed with the operator's sealing key, and the operator's
credentials file (kept out of git; e.g. factory or bootstrap passwords) adds fallbacks:

```yaml
default: {username: admin, password: "…"}
groups:  {lab: {password: "…"}}
devices: {ber-plant-r01: {username: service, password: "…"}}
```

The driver tries the passwords in order: the fleet's first (what the router has after an apply),
then the file's, most specific first. It talks HTTPS only: plain HTTP is allowed for the simulator
on loopback and for a fleet that sets `management.allow_plain_http` (labs; validate refuses
`http://` addresses otherwise).

`redactor` collects what outputs must never show: every secret of the fleet the key unseals;
snapshots, plans and the daemon's API and logs hide router values equal to one.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from reconciler.core.fleets import Device, Fleet
from reconciler.core.secrets import Redactor, SecretValue, secret_names, substitute
from reconciler.errors import SecretError, UsageError
from reconciler.shell import sealing
from reconciler.shell.drivers import Target

SECRETS_KEY_ENV = "RECONCILER_SECRETS_KEY_FILE"


@dataclass(frozen=True)
class Login:
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class CredentialsFile:
    """The operator's credentials file, parsed (empty when there is none)."""

    default: Login = Login()
    groups: Mapping[str, Login] = field(default_factory=dict)
    devices: Mapping[str, Login] = field(default_factory=dict)

    def for_device(self, device: Device) -> list[Login]:
        """The logins that apply to a device, most specific first."""
        found = [self.devices.get(device.name)]
        found += [self.groups.get(group) for group in reversed(device.groups)]
        found.append(self.default)
        return [login for login in found if login is not None]


def read_credentials(path: Path | None) -> CredentialsFile:
    if path is None:
        return CredentialsFile()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise UsageError(f"cannot read the credentials file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected default/groups/devices mappings")
    return CredentialsFile(_login(data.get("default"), path, "default"),
                           _logins(data.get("groups"), path, "groups"), _logins(data.get("devices"), path, "devices"))


def _logins(value: Any, path: Path, where: str) -> dict[str, Login]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(f"{path}: `{where}` must map names to {{username, password}}")
    return {str(name): _login(entry, path, f"{where}.{name}") for name, entry in value.items()}


def _login(value: Any, path: Path, where: str) -> Login:
    if value is None:
        return Login()
    if not isinstance(value, dict) or not set(value) <= {"username", "password"}:
        raise UsageError(f"{path}: `{where}` must be a mapping with username and/or password")
    return Login(_text(value.get("username")), _text(value.get("password")))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class Unsealer:
    """Unseals the fleet's secrets with the operator's private key (read once, kept in memory only)."""

    def __init__(self, fleet: Fleet, key_file: Path | None) -> None:
        self._sealed = {name: value.sealed for name, value in fleet.secrets.items()}
        self._key_file = key_file or _key_from_environment()
        self._key: str | None = None
        self._plain: dict[str, str] = {}

    @property
    def available(self) -> bool:
        return self._key_file is not None

    def plaintext(self, name: str) -> str:
        if name not in self._plain:
            self._plain[name] = sealing.unseal(self._private_key(), name, self._sealed[name])
        return self._plain[name]

    def every_plaintext(self) -> list[str]:
        """Every secret of the fleet the key unseals (none without a key; one sealed to another key is left out:
        this key cannot have sent it)."""
        if not self.available:
            return []
        self._private_key()  # an unreadable key file is the operator's mistake: say so
        found = []
        for name in self._sealed:
            try:
                found.append(self.plaintext(name))
            except SecretError:
                continue
        return found

    def substitute(self, text: str) -> str:
        """A rendered configuration with every secret marker replaced by its value (for the router only)."""
        return substitute(text, {name: self.plaintext(name) for name in secret_names(text)})

    def _private_key(self) -> str:
        if self._key is None:
            if self._key_file is None:
                raise SecretError(f"the fleet's secrets need the sealing key: pass --secrets-key FILE (or set "
                                  f"{SECRETS_KEY_ENV})")
            try:
                self._key = self._key_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise SecretError(f"cannot read the sealing key {self._key_file}: {exc.strerror}") from exc
        return self._key


def _key_from_environment() -> Path | None:
    value = os.environ.get(SECRETS_KEY_ENV)
    return Path(value) if value else None


def targets(fleet: Fleet, credentials: CredentialsFile, unsealer: Unsealer, simulator: str | None) -> dict[str, Target]:
    """A target for every device of the fleet."""
    management = fleet.spec.management
    plain_http = management.allow_plain_http or (simulator is not None and _on_loopback(simulator))
    result = {}
    for name, device in fleet.devices.items():
        logins = credentials.for_device(device)
        username = next((login.username for login in logins if login.username), management.username)
        passwords = [*_fleet_password(device, management.password_field, unsealer),
                     *(login.password for login in logins if login.password)]
        result[name] = Target(name, device.serial, _base_url(device, simulator), username,
                              tuple(dict.fromkeys(passwords)), plain_http)
    return result


def redactor(unsealer: Unsealer) -> Redactor:
    """What no output may show: the fleet's secrets, those the key unseals.

    Not the credentials file's passwords: a factory password (`admin`) is often an ordinary value too
    (the user name), which every snapshot would hide; the daemon keeps those out of its logs apart.
    """
    return Redactor(unsealer.every_plaintext())


def _on_loopback(url: str) -> bool:
    """Whether a URL's host is this machine (plain HTTP to it never crosses a network)."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _fleet_password(device: Device, field: str | None, unsealer: Unsealer) -> list[str]:
    value = device.fields.get(field) if field else None
    if not isinstance(value, SecretValue) or not unsealer.available:
        return []
    return [unsealer.plaintext(value.name)]


def _base_url(device: Device, simulator: str | None) -> str:
    if simulator:
        return f"{simulator.rstrip('/')}/d/{device.serial}"
    return device.address if "://" in device.address else f"https://{device.address}"
