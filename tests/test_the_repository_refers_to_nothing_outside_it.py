"""The repository is self-contained: no tracked file points at documents it does not ship, or at this machine.

A clone holds everything a reader needs (the README and docs/); the design notes the project was
built from are not part of it, so nothing may link to them, cite their sections, or name an
absolute path of the machine the project was developed on.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PROJECT

FORBIDDEN = {
    "a link to the unshipped design notes": re.compile(rb"\.\./shared\b"),
    "the design document": re.compile(rb"\bDESIGN\.md\b"),
    "the domain digest": re.compile(rb"\bDOMAIN\.md\b"),
    "a section of the design document": re.compile("\\bDESIGN \u00a7".encode()),
    "a rule cited by the digest's name (cite the number: D3.7)": re.compile(rb"\bDOMAIN D[0-4]\b"),
    "an absolute path of a home or work directory": re.compile(rb"(?<![\w.~$-])/(?:home|Users|root|work)/[\w.-]+"),
}
# The container image's own user home (Dockerfile `WORKDIR`), not a path of any machine.
ALLOWED = {("Dockerfile", b"/home/reconciler")}
THIS_FILE = Path(__file__).resolve().relative_to(PROJECT).as_posix()


def _tracked_files() -> list[str]:
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: no list of tracked files")
    return [name for name in listed.decode().split("\0") if name and name != THIS_FILE]


def test_no_tracked_file_refers_to_unshipped_documents_or_absolute_paths() -> None:
    """Every tracked file is free of links to ../shared, DESIGN/DOMAIN citations and home/work paths."""
    found = []
    for name in _tracked_files():
        path = PROJECT / name
        if not path.is_file():  # deleted in the work tree, not yet committed
            continue
        content = path.read_bytes()
        for what, pattern in FORBIDDEN.items():
            for match in pattern.finditer(content):
                if (name, match.group()) in ALLOWED:
                    continue
                line = content.count(b"\n", 0, match.start()) + 1
                found.append(f"{name}:{line}: {what}: {match.group().decode(errors='replace')}")
    assert found == []


@pytest.mark.parametrize(("text", "what"), [
    (b"see `../shared/DESIGN.md`", "a link to the unshipped design notes"),
    (b"(DESIGN \xc2\xa74)", "a section of the design document"),
    (b"every rule of DOMAIN.md", "the domain digest"),
    (b"the ports of DOMAIN D3.7", "a rule cited by the digest's name (cite the number: D3.7)"),
    (b'"/work/main/pyproject.toml"', "an absolute path of a home or work directory"),
    (b"cd /home/someone/src", "an absolute path of a home or work directory"),
])
def test_each_pattern_catches_what_it_is_for(text: bytes, what: str) -> None:
    """Each forbidden pattern matches an example of what it forbids."""
    assert FORBIDDEN[what].search(text)


@pytest.mark.parametrize("text", [
    b"https://example.com/work/items", b"docs/entitlements.md", b"D3.7", b"DOMAIN_FILTERS", b"~/work/x",
    b"a design decision", b"WORKDIR /data",
])
def test_the_patterns_leave_ordinary_text_alone(text: bytes) -> None:
    """URLs, relative paths, rule numbers and names that merely contain the words are not flagged."""
    assert not any(pattern.search(text) for pattern in FORBIDDEN.values())
