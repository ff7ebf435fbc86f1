"""Writing files safely: readers see the old content or the new, never a part of it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from reconciler.errors import UsageError


def write_atomically(target: Path, content: bytes, mode: int | None = None) -> None:
    """Write `content` to a temporary file beside `target`, then rename it over `target`."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(fd, "wb") as stream:
            stream.write(content)
        if mode is not None:
            Path(temporary).chmod(mode)
        Path(temporary).replace(target)
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror}") from exc
