"""Pipes and devices in a fleet repository are refused by name before they are read; size limits come from fstat."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.core.documents import MAX_FILE_BYTES
from reconciler.shell.files import IrregularFile, open_regular
from reconciler.shell.git.repositories import read_revision
from tests.conftest import GitRepo, small_fleet, write_tree

# A reader that blocks on a pipe or reads a device without end would hang the test: every command
# runs in a child process that is killed after this many seconds (it needs about one).
BOUND_SECONDS = 60


def validate(root: Path) -> subprocess.CompletedProcess[str]:
    """`reconciler validate root` in a child process, killed (and the test failed) if it does not end in time."""
    return subprocess.run([sys.executable, "-m", "reconciler", "validate", str(root)],
                          capture_output=True, text=True, timeout=BOUND_SECONDS, check=False)


def make_character_device(path: Path) -> None:
    """A character device like /dev/zero at `path`, or skip where this process may not create devices."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 5))
    except PermissionError:
        pytest.skip("creating a device node needs CAP_MKNOD")


def test_a_pipe_in_devices_is_refused_at_once_naming_it(tmp_path: Path) -> None:
    """A FIFO among the device files: validate ends at once with an error naming the file, instead of hanging."""
    root = write_tree(tmp_path / "fleet", small_fleet())
    os.mkfifo(root / "devices" / "more.yaml")
    result = validate(root)
    assert result.returncode == 1
    assert result.stderr == (f"reconciler: error: {root}/devices/more.yaml is a named pipe (FIFO), not a regular "
                             "file: a fleet repository holds regular files only; not read\n")
    assert result.stdout == ""


def test_a_tracked_file_replaced_by_a_pipe_is_refused_not_skipped(git_repo: GitRepo) -> None:
    """In a git work tree, a committed device file that is now a FIFO is refused by name, not silently skipped."""
    git_repo.commit(small_fleet(), "the fleet")
    devices = git_repo.root / "devices" / "all.yaml"
    devices.unlink()
    os.mkfifo(devices)
    result = validate(git_repo.root)
    assert result.returncode == 1
    assert f"{devices} is a named pipe (FIFO), not a regular file" in result.stderr


def test_a_character_device_in_the_tree_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """A device node in devices/ (its size says 0, it reads without end) is refused by name, not read."""
    root = write_tree(tmp_path / "fleet", small_fleet())
    make_character_device(root / "devices" / "zero.yaml")
    result = validate(root)
    assert result.returncode == 1
    assert f"{root}/devices/zero.yaml is a character device, not a regular file" in result.stderr


def test_a_link_to_dev_zero_is_a_symlink_error_and_never_read(tmp_path: Path) -> None:
    """devices/zero.yaml linking to /dev/zero is reported as a link; validation ends with the rest of the fleet."""
    root = write_tree(tmp_path / "fleet", small_fleet())
    (root / "devices" / "zero.yaml").symlink_to("/dev/zero")
    result = validate(root)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == (
        "devices/zero.yaml:1:1: error: a symbolic link: the repository must hold regular files (a link could "
        "reach outside it); not read [symlink]")


@pytest.mark.parametrize(("path", "kind"), [("/dev/zero", "a character device"), ("/dev", "a directory")])
def test_open_regular_refuses_what_is_not_a_regular_file(path: str, kind: str) -> None:
    """The reader names what it refuses, and refuses it before opening it."""
    with pytest.raises(IrregularFile) as caught, open_regular(Path(path)):
        pass
    assert caught.value.kind == kind
    assert str(caught.value) == f"{path} is {kind}, not a regular file"


def test_open_regular_refuses_a_link_even_to_a_regular_file(tmp_path: Path) -> None:
    """A link is never followed, whatever it points at."""
    (tmp_path / "target.yaml").write_text("devices: []\n", encoding="utf-8")
    (tmp_path / "link.yaml").symlink_to("target.yaml")
    with pytest.raises(IrregularFile, match="is a symbolic link"), open_regular(tmp_path / "link.yaml"):
        pass


def test_an_oversized_file_is_sized_from_the_descriptor_before_anything_is_read(tmp_path: Path) -> None:
    """A (sparse) file past the limit is reported with the size fstat gives, its content never held in memory."""
    root = write_tree(tmp_path / "fleet", small_fleet())
    huge = root / "devices" / "huge.yaml"
    with huge.open("wb") as stream:
        stream.truncate(MAX_FILE_BYTES + 1)
    with open_regular(huge) as (opened, size):
        assert size == MAX_FILE_BYTES + 1
        assert opened.tell() == 0
    source = read_revision(root, None)
    assert source.oversized == {"devices/huge.yaml": MAX_FILE_BYTES + 1}
    assert source.files["devices/huge.yaml"].data == b""
    result = validate(root)
    assert result.returncode == 1
    assert (f"devices/huge.yaml:1:1: error: the file is {MAX_FILE_BYTES + 1:,} bytes; the limit is"
            in result.stdout)
