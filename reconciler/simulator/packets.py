"""Update packets as a router reads them: an uncompressed tar whose first member is `MANIFEST`.

Where it sits: the API's `upload/analyze` hands the uploaded bytes to `read_packet` and keeps the
entries it returns under an identifier; `upload/perform` later runs the valid ones. A packet that is
no tar, or whose first member is not `MANIFEST`, is refused as a whole (`PacketError`, a 400); an
entry whose file is missing or whose MD5SUM (or FILESIZE) does not match is kept with its `error`
(`"valid": false`). The simulator's own reader, independent of the project's packet writer.

MANIFEST: `KEY=value` lines, no spaces around `=`, case-sensitive; each section starts with
`FILENAME`; `FILENAME`, `FILETYPE` and `MD5SUM` are required, `FILESIZE`, `DESCRIPTION` and
`VERSION` optional (other keys are ignored, as a router ignores what it does not know).
"""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
from dataclasses import dataclass

FILETYPES = ("ASCII Configuration", "Certificate", "Lua Script", "Container")
_MANIFEST_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_REQUIRED = ("FILETYPE", "MD5SUM")


class PacketError(Exception):
    """The upload is not a packet at all (answered 400 with this message)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One MANIFEST section with its file's content, or the reason it cannot be used."""

    number: int
    filename: str
    filetype: str
    description: str
    version: str
    data: bytes
    error: str | None

    @property
    def valid(self) -> bool:
        """Whether the entry can be performed."""
        return self.error is None

    @property
    def md5(self) -> str:
        """MD5 hex digest of the file's content (how stored files are listed)."""
        return hashlib.md5(self.data, usedforsecurity=False).hexdigest()


def read_packet(data: bytes) -> list[Entry]:
    """The entries of a packet, numbered from 1 in MANIFEST order; raises PacketError."""
    members = _members(data)
    if not members or members[0][0] != "MANIFEST":
        raise PacketError("the first member of the packet must be MANIFEST")
    try:
        manifest = members[0][1].decode("utf-8")
    except UnicodeDecodeError as error:
        raise PacketError("MANIFEST is not UTF-8 text") from error
    files = dict(members[1:])
    return [_entry(number, section, files) for number, section in enumerate(_sections(manifest), start=1)]


def _members(data: bytes) -> list[tuple[str, bytes]]:
    """(name, content) of each regular file, in archive order."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            return [(_name(member), _content(archive, member)) for member in archive if member.isfile()]
    except (tarfile.TarError, EOFError, ValueError) as error:
        raise PacketError(f"the upload is not an uncompressed tar archive: {error}") from error


def _name(member: tarfile.TarInfo) -> str:
    # `tar -C dir .` writes ./MANIFEST: the same member as MANIFEST.
    return member.name.removeprefix("./")


def _content(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    stream = archive.extractfile(member)
    assert stream is not None  # regular files always have content
    return stream.read()


def _sections(manifest: str) -> list[dict[str, str]]:
    sections: list[dict[str, str]] = []
    for number, raw in enumerate(manifest.replace("\r\n", "\n").split("\n"), start=1):
        if not raw.strip():
            continue
        key, equals, value = raw.partition("=")
        if not equals or _MANIFEST_KEY.fullmatch(key) is None:
            raise PacketError(f"MANIFEST line {number}: expected KEY=value without spaces around '=': {raw[:60]!r}")
        if key == "FILENAME":
            sections.append({})
        elif not sections:
            raise PacketError(f"MANIFEST line {number}: a section must start with FILENAME")
        if key in sections[-1]:
            raise PacketError(f"MANIFEST line {number}: {key} twice in one section")
        sections[-1][key] = value
    if not sections:
        raise PacketError("MANIFEST lists no files")
    return sections


def _entry(number: int, section: dict[str, str], files: dict[str, bytes]) -> Entry:
    filename = section["FILENAME"]
    name = filename.removeprefix("./")
    data = files.get(name, b"")
    return Entry(
        number=number,
        filename=filename,
        filetype=section.get("FILETYPE", ""),
        description=section.get("DESCRIPTION", ""),
        version=section.get("VERSION", ""),
        data=data,
        error=_problem(section, name in files, data),
    )


def _problem(section: dict[str, str], present: bool, data: bytes) -> str | None:
    """Why an entry cannot be used, or None."""
    missing = [key for key in _REQUIRED if key not in section]
    if missing:
        return f"MANIFEST section {section['FILENAME']} lacks {', '.join(missing)}"
    if section["FILETYPE"] not in FILETYPES:
        return f"unsupported FILETYPE: {section['FILETYPE']}"
    if not present:
        return f"file missing from the packet: {section['FILENAME']}"
    if hashlib.md5(data, usedforsecurity=False).hexdigest() != section["MD5SUM"].strip().lower():
        return f"MD5SUM mismatch for {section['FILENAME']}"
    if "FILESIZE" in section and section["FILESIZE"].strip() != str(len(data)):
        return f"FILESIZE mismatch for {section['FILENAME']}: {len(data)} bytes in the packet"
    return None
