"""Update packets: the tar files icom OS routers install (docs/router-api.md; D0.12, D0.13).

Where it sits: the apply steps (`shell/applying.py`) hand a packet's parts, or a device's rendered
configuration, to `build_packet` and upload the bytes to the router (`upload/analyze`, then
`upload/perform`); the daemon's auto-update endpoint (a later layer) serves the same bytes.

A packet is an uncompressed tar whose first member is `MANIFEST`: `KEY=value` lines, no spaces
around `=`, each section starting with `FILENAME` and carrying `FILETYPE` and `MD5SUM` (plus
`FILESIZE`, `DESCRIPTION`, `VERSION`); entries are applied in manifest order. The bytes are
deterministic (fixed times, owners and modes), so the same content gives the same packet, the
same ETag and the same MD5.
"""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconciler.core.fleets import Packet, SourceFile
from reconciler.core.models.resources import PacketPart
from reconciler.core.paths import join, part_file

FILETYPES = {
    "configuration": "ASCII Configuration",
    "certificate": "Certificate",
    "script": "Lua Script",
    "container": "Container",
}
_UNSAFE = re.compile(r"[\r\n=]")


@dataclass(frozen=True, slots=True)
class PacketEntry:
    filename: str
    filetype: str  # one of FILETYPES' values
    data: bytes
    description: str = ""
    version: str | None = None


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def manifest(entries: Sequence[PacketEntry]) -> bytes:
    """The MANIFEST of a packet: one section per entry, in order."""
    lines: list[str] = []
    for entry in entries:
        lines += [f"FILENAME={entry.filename}", f"FILETYPE={entry.filetype}", f"MD5SUM={md5(entry.data)}",
                  f"FILESIZE={len(entry.data)}"]
        if entry.description:
            lines.append(f"DESCRIPTION={_UNSAFE.sub(' ', entry.description)}")
        if entry.version:
            lines.append(f"VERSION={_UNSAFE.sub(' ', entry.version)}")
    return ("\n".join(lines) + "\n").encode()


def build_packet(entries: Sequence[PacketEntry]) -> bytes:
    """A purely computational function: the packet's bytes (a tar with MANIFEST first)."""
    names = [entry.filename for entry in entries]
    if len(set(names)) != len(names) or "MANIFEST" in names:
        raise ValueError(f"packet entries need distinct file names other than MANIFEST: {names}")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        _add(tar, "MANIFEST", manifest(entries))
        for entry in entries:
            _add(tar, entry.filename, entry.data)
    return buffer.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def configuration_entry(text: str, device: str, revision: str | None) -> PacketEntry:
    """A device's rendered configuration (secrets already substituted) as a packet entry."""
    description = f"reconciler: configuration of {device}" + (f" at {revision[:12]}" if revision else "")
    return PacketEntry("configuration.txt", FILETYPES["configuration"], text.encode(), description)


def packet_entries(packet: Packet, files: Mapping[str, SourceFile]) -> list[PacketEntry]:
    """The entries of one of the fleet's update packets: its parts that ship a file from the repository.

    Firmware parts are installed by the firmware step (a firmware update by version), and parts
    given only by URL are fetched by the router itself; neither travels inside the packet.
    """
    entries: list[PacketEntry] = []
    for index, part in enumerate(packet.spec.parts, 1):
        file = part_file(part)
        if file is None or part.type not in FILETYPES:
            continue
        source = files[join(packet.directory, file)]
        entries.append(PacketEntry(_entry_name(index, file), FILETYPES[part.type], source.data,
                                   _description(packet, part), packet.spec.version))
    return entries


def _entry_name(index: int, file: str) -> str:
    return f"{index:02d}-{file.rsplit('/', 1)[-1]}"


def _description(packet: Packet, part: PacketPart) -> str:
    return part.description or f"{packet.spec.name}: {part.type}"
