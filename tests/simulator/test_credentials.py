"""Credentials on a virtual router: which keys hold them, how they are stored, how a login checks them."""

from __future__ import annotations

import pytest

from reconciler.simulator.credentials import is_credential, stored_value, verify

KEY = "administration.users[1].password"


@pytest.mark.parametrize("key", [KEY, "interfaces.dsl1.ppp_password", "ipsec.connection[2].psk",
                                 "interfaces.wwan1.sim_pin", "certs.own[1].private_key", "snmp.secret"])
def test_keys_named_like_credentials_are_credentials(key: str) -> None:
    """Passwords, pre-shared keys, PINs, private keys and secrets are credentials."""
    assert is_credential(key)


@pytest.mark.parametrize("key", ["administration.users[1].username", "interfaces.wwan1.apn", "services.ping",
                                 "a.password_policy"])
def test_other_keys_are_not(key: str) -> None:
    """Names that merely contain a credential word are ordinary keys."""
    assert not is_credential(key)


def test_a_credential_is_stored_as_a_hash_that_verifies_only_its_password() -> None:
    """The stored text is `$6$salt$digest`, without the password; it verifies the password and nothing else."""
    stored = stored_value("24130101", KEY, "s3cret")
    assert stored.startswith("$6$")
    assert "s3cret" not in stored
    assert verify(stored, "s3cret")
    assert not verify(stored, "s3cret ")
    assert not verify("s3cret", "s3cret")


def test_the_same_password_stores_the_same_text_on_one_router_and_differs_between_routers() -> None:
    """The salt comes from router, key and password: setting it again changes nothing; another router differs."""
    assert stored_value("1", KEY, "pw") == stored_value("1", KEY, "pw")
    assert stored_value("1", KEY, "pw") != stored_value("2", KEY, "pw")


def test_hashes_empty_values_and_ordinary_keys_are_stored_as_given() -> None:
    """A value that is already a hash, an empty credential and a non-credential key are kept verbatim."""
    hashed = stored_value("1", KEY, "pw")
    assert stored_value("2", KEY, hashed) == hashed
    assert stored_value("1", KEY, "") == ""
    assert stored_value("1", "administration.hostnames.hostname", "pw") == "pw"
