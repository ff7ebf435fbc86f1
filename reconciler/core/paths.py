"""Paths inside a fleet repository: joining directories, the files a packet ships.

Where it sits: `building`, `digests` and `packets` find packet part files with these helpers.
"""

from __future__ import annotations

from reconciler.core.models import (
    PacketPart,
    PacketSpec,
)
from reconciler.core.models.resources import FirmwarePart


def part_file(part: PacketPart) -> str | None:
    """The file a packet part ships (relative to its packet's directory), if it has one."""
    return None if isinstance(part, FirmwarePart) else part.file


def packet_files(spec: PacketSpec, directory: str) -> list[str]:
    """Paths (relative to the fleet root) of every file the packet's parts ship."""
    return [join(directory, file) for part in spec.parts if (file := part_file(part)) is not None]




def join(directory: str, path: str) -> str:
    return f"{directory}/{path}" if directory else path


def directory_of(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""
