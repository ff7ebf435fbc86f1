"""Packaging: every subpackage ships, and the project's template library ships inside the package."""

from __future__ import annotations

import tomllib

from reconciler.shell.library import project_library
from tests.conftest import PROJECT


def test_every_subpackage_is_listed_for_installation() -> None:
    """pyproject lists packages explicitly (the library is mapped); a new subpackage must be added there."""
    listed = set(tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(PROJECT).parts)
        for init in (PROJECT / "reconciler").rglob("__init__.py")
    }
    assert found - listed == set()


def test_the_icom_library_is_importable_as_package_data() -> None:
    """The fleet templates' `icom/` macro library is found through the installed package."""
    library = project_library()
    assert "icom/firewall.j2" in library
    assert "telephony_rules" in library["icom/firewall.j2"]
