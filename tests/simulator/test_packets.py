"""The router's reading of update packets: MANIFEST first, sections, MD5SUM and FILESIZE."""

from __future__ import annotations

import hashlib

import pytest

from reconciler.simulator.packets import PacketError, read_packet
from tests.simulator.support import tar

DATA = b"a.b=1\n"
MD5 = hashlib.md5(DATA).hexdigest()


def manifest(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def test_entries_carry_the_manifest_fields_in_order() -> None:
    """Each section becomes an entry numbered from 1, with type, description and the file's bytes."""
    entries = read_packet(tar([
        ("MANIFEST", manifest("FILENAME=c.txt", "FILETYPE=ASCII Configuration", f"MD5SUM={MD5.upper()}",
                              "DESCRIPTION=base", "VERSION=1", f"FILESIZE={len(DATA)}",
                              "FILENAME=s.lua", "FILETYPE=Lua Script", f"MD5SUM={MD5}")),
        ("c.txt", DATA), ("s.lua", DATA)]))
    assert [(e.number, e.filename, e.filetype, e.description, e.version, e.valid) for e in entries] == [
        (1, "c.txt", "ASCII Configuration", "base", "1", True), (2, "s.lua", "Lua Script", "", "", True)]
    assert entries[0].data == DATA


def test_a_dot_slash_member_name_is_the_same_file() -> None:
    """`tar -C dir .` writes ./MANIFEST and ./c.txt: read as MANIFEST and c.txt."""
    entries = read_packet(tar([("./MANIFEST", manifest("FILENAME=c.txt", "FILETYPE=Certificate", f"MD5SUM={MD5}")),
                               ("./c.txt", DATA)]))
    assert entries[0].valid


@pytest.mark.parametrize(("lines", "error"), [
    (("FILENAME=c.txt", "FILETYPE=ASCII Configuration", "MD5SUM=" + "0" * 32), "MD5SUM mismatch"),
    (("FILENAME=c.txt", "FILETYPE=ASCII Configuration", f"MD5SUM={MD5}", "FILESIZE=99"), "FILESIZE mismatch"),
    (("FILENAME=d.txt", "FILETYPE=ASCII Configuration", f"MD5SUM={MD5}"), "file missing"),
    (("FILENAME=c.txt", "FILETYPE=Firmware", f"MD5SUM={MD5}"), "unsupported FILETYPE"),
    (("FILENAME=c.txt", "FILETYPE=ASCII Configuration"), "lacks MD5SUM"),
])
def test_an_entry_that_cannot_be_used_is_invalid_with_its_reason(lines: tuple[str, ...], error: str) -> None:
    """Wrong checksums, sizes, types and missing files make the entry invalid, not the packet."""
    entry = read_packet(tar([("MANIFEST", manifest(*lines)), ("c.txt", DATA)]))[0]
    assert not entry.valid
    assert entry.error is not None
    assert error in entry.error


@pytest.mark.parametrize(("members", "error"), [
    ([("c.txt", DATA), ("MANIFEST", manifest("FILENAME=c.txt"))], "first member"),
    ([("MANIFEST", manifest("FILENAME = c.txt"))], "without spaces"),
    ([("MANIFEST", manifest("FILETYPE=Certificate", "FILENAME=c.txt"))], "start with FILENAME"),
    ([("MANIFEST", manifest("filename=c.txt"))], "start with FILENAME"),
    ([("MANIFEST", b"\n")], "lists no files"),
    ([("MANIFEST", b"\xff\xfe")], "not UTF-8"),
])
def test_a_packet_that_is_not_one_is_refused_as_a_whole(members: list[tuple[str, bytes]], error: str) -> None:
    """A wrong first member and an unreadable MANIFEST refuse the upload (case-sensitive keys, no spaces)."""
    with pytest.raises(PacketError, match=error):
        read_packet(tar(members))


def test_bytes_that_are_no_tar_are_refused() -> None:
    """Random bytes and a compressed archive are not an uncompressed tar."""
    for data in (b"", b"just text", b"\x1f\x8b\x08\x00" + b"\0" * 600):
        with pytest.raises(PacketError, match="not an uncompressed tar"):
            read_packet(data)
