"""Reading and writing files safely: readers see the old content or the new, never a part of it, and
a reader is never handed a pipe or a device for a file.

`open_regular` is how `git.worktrees` opens the files of a fleet repository's working tree: only regular
files, never through a link, with the size taken from the open descriptor so a limit can be checked
before anything is read. `write_atomically` is how results (plans, schemas, keys) are written.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from reconciler.errors import OutputError

_IRREGULAR_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class IrregularFile(Exception):
    """`path` is not a regular file (`kind` says what it is), so it was not opened for reading."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(f"{path} is {kind}, not a regular file")
        self.path = path
        self.kind = kind


@contextmanager
def open_regular(path: Path) -> Iterator[tuple[BinaryIO, int]]:
    """`path` open for reading, with its size, if it is a regular file; `IrregularFile` otherwise.

    A pipe would block the reader and a device reads without end (`/dev/zero`) while its size says
    0, so the kind is checked before opening (opening a device can have effects of its own). The
    path may be swapped between that check and the open, so the file is opened without following
    a link and without blocking, and the open descriptor is checked again: the size returned is
    that descriptor's, for the caller to compare with its limit before reading.
    """
    _refuse_irregular(path, os.lstat(path).st_mode)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # replaced by a link since the lstat
            raise IrregularFile(path, "a symbolic link") from None
        raise
    with os.fdopen(fd, "rb") as stream:
        status = os.fstat(fd)
        _refuse_irregular(path, status.st_mode)
        yield stream, status.st_size


def _refuse_irregular(path: Path, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _IRREGULAR_KINDS if test(mode)), "not a regular file")
    raise IrregularFile(path, kind)


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
