"""Writing files safely: readers see the old content or the new, never a part of it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from reconciler.errors import OutputError


def write_atomically(target: Path, content: bytes, mode: int | None = None) -> None:
    """Write `content` to a temporary file beside `target`, then rename it over `target`.

    Without `mode`, the file gets the permissions a plain `open()` would give it (0666 less the umask).
    """
    temporary: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        temporary = Path(name)
        with os.fdopen(fd, "wb") as stream:
            stream.write(content)
        temporary.chmod(mode if mode is not None else 0o666 & ~_umask())
        temporary.replace(target)
    except OSError as exc:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        raise OutputError(f"cannot write {target}: {_reason(target, exc)}") from exc


def _reason(target: Path, exc: OSError) -> str:
    # mkdir(exist_ok=True) says "File exists" when a parent is a regular file: name the real obstacle.
    if isinstance(exc, FileExistsError | NotADirectoryError):
        blocking = next((parent for parent in target.parents if parent.is_file()), None)
        if blocking is not None:
            return f"{blocking} is a file, not a directory"
    return exc.strerror or type(exc).__name__


def _umask() -> int:
    current = os.umask(0o022)  # reading the umask means setting it; set it straight back
    os.umask(current)
    return current
