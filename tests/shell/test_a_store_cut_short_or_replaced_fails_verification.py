"""The audit anchor: a store wiped, replaced or rolled back fails `audit --verify`, and nothing starts on it;
a crash or two writers never make a genuine store look tampered; a restore is reset on purpose, audited."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.shell.store import ANCHOR_FILE_NAME, FILE_NAME, Store
from tests.conftest import PROJECT, GitRepo, small_fleet
from tests.conftest import run_cli as run


def _store_with_rows(data_dir: Path, count: int) -> None:
    store = Store(data_dir)
    for number in range(count):
        store.audit("tester", "token-create", [], None, "done", f"row {number}")
    store.close()


def _verify(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code, out, _ = run(["audit", "--verify", "--data-dir", str(data_dir)], capsys)
    return code, out


def test_a_genuine_store_verifies_and_says_what_vouches_for_it(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """An intact store passes, naming the anchor file that vouches for its newest row."""
    _store_with_rows(tmp_path / "data", 3)
    code, out = _verify(tmp_path / "data", capsys)
    assert code == 0
    assert "intact: 3 rows" in out and ANCHOR_FILE_NAME in out


def test_a_truncated_store_fails_verification_and_the_daemon_refuses_it(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """`truncate -s 0` of the store: verify fails (no 'intact: 0 rows'), serve and token create refuse to run."""
    data = tmp_path / "data"
    _store_with_rows(data, 3)
    for name in (FILE_NAME, FILE_NAME + "-wal", FILE_NAME + "-shm"):
        if (data / name).exists():
            os.truncate(data / name, 0)
    code, out = _verify(data, capsys)
    assert code == 1
    assert "replaced or wiped" in out
    repo = GitRepo(tmp_path / "repo")
    repo.commit(small_fleet(), "fleet")
    code, _, err = run(["serve", str(repo.root), "--data-dir", str(data), "--listen", "127.0.0.1:0"], capsys)
    assert code == 1
    assert "replaced or wiped" in err and "--reset-anchor" in err
    code, _, err = run(["token", "create", "--role", "viewer", "--data-dir", str(data)], capsys)
    assert code == 1 and "replaced or wiped" in err


def test_an_older_copy_put_back_fails_verification(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A backup taken at row 2 put back after row 5 was written: the log ends before the anchored row."""
    data = tmp_path / "data"
    _store_with_rows(data, 2)
    backup = tmp_path / "backup.sqlite3"
    store = Store(data)
    store._db.execute(f"vacuum into '{backup}'")
    store.close()
    _store_with_rows(data, 3)
    shutil.copyfile(backup, data / FILE_NAME)
    for name in (FILE_NAME + "-wal", FILE_NAME + "-shm"):
        (data / name).unlink(missing_ok=True)
    code, out = _verify(data, capsys)
    assert code == 1
    assert "ends at row 2, but its anchor has seen row 5" in out


def test_another_store_put_in_its_place_fails_verification(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """A different store (its own id) in the data directory is not the one the anchor names."""
    _store_with_rows(tmp_path / "data", 2)
    _store_with_rows(tmp_path / "other", 4)
    shutil.copyfile(tmp_path / "other" / FILE_NAME, tmp_path / "data" / FILE_NAME)
    for name in (FILE_NAME + "-wal", FILE_NAME + "-shm"):
        (tmp_path / "data" / name).unlink(missing_ok=True)
        if (tmp_path / "other" / name).exists():
            shutil.copyfile(tmp_path / "other" / name, tmp_path / "data" / name)
    code, out = _verify(tmp_path / "data", capsys)
    assert code == 1 and "is not the one its anchor names" in out


def test_an_anchor_one_row_behind_is_not_tampering(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A crash between the database's commit and the anchor's write leaves it a row behind: still intact."""
    data = tmp_path / "data"
    _store_with_rows(data, 2)
    anchor = (data / ANCHOR_FILE_NAME).read_bytes()
    _store_with_rows(data, 1)
    (data / ANCHOR_FILE_NAME).write_bytes(anchor)  # as if killed after the commit, before the anchor moved
    assert _verify(data, capsys)[0] == 0
    _store_with_rows(data, 1)  # the next write moves it on
    assert json.loads((data / ANCHOR_FILE_NAME).read_text())["last_id"] == 4


def test_a_missing_anchor_is_said_plainly_and_a_reset_is_audited(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Without its anchor verify fails and says so; `--reset-anchor --reason` records the reset and passes again."""
    data = tmp_path / "data"
    _store_with_rows(data, 2)
    (data / ANCHOR_FILE_NAME).unlink()
    code, out = _verify(data, capsys)
    assert code == 1 and "audit anchor" in out and "is missing" in out
    code, _, err = run(["audit", "--reset-anchor", "--data-dir", str(data)], capsys)
    assert code == 2 and "--reason" in err
    code, out, _ = run(["audit", "--reset-anchor", "--reason", "restored from the nightly backup",
                        "--data-dir", str(data)], capsys)
    assert code == 0 and "row 3" in out
    assert _verify(data, capsys)[0] == 0
    code, out, _ = run(["audit", "--format", "json", "--data-dir", str(data)], capsys)
    reset = json.loads(out)[-1]
    assert reset["action"] == "anchor-reset"
    assert "restored from the nightly backup" in reset["detail"] and "the anchor was: none" in reset["detail"]


def test_a_store_from_before_anchors_gets_one_and_says_what_it_cannot_vouch_for(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An existing store without an anchor (an older version's) is anchored at its head on first use."""
    data = tmp_path / "data"
    _store_with_rows(data, 2)
    (data / ANCHOR_FILE_NAME).unlink()
    store = Store(data)
    store._db.execute("delete from meta where key in ('anchored_from', 'store_id')")
    store.close()
    code, out = _verify(data, capsys)
    assert code == 0
    assert "rows 1–2 were written before the store had an anchor" in out


_WRITER = """
import sys
from pathlib import Path
from reconciler.shell.store import Store
store = Store(Path(sys.argv[1]))
for number in range(int(sys.argv[2])):
    store.audit(sys.argv[3], "token-create", [], None, "done", str(number))
"""


def test_two_writers_beside_each_other_keep_the_anchor_right(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Two processes appending at once (the CLI beside the daemon): the chain verifies, the anchor is at the head."""
    data = tmp_path / "data"
    Store(data).close()
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(data), "60", f"writer-{n}"], cwd=PROJECT)
               for n in range(2)]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]
    assert _verify(data, capsys)[0] == 0
    assert json.loads((data / ANCHOR_FILE_NAME).read_text())["last_id"] == 120


def test_kill_9_while_writing_never_makes_a_genuine_store_look_tampered(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A writer killed at any moment: the store still verifies and the next writer carries on."""
    data = tmp_path / "data"
    Store(data).close()
    written = 0
    for _ in range(3):
        writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(data), "100000", "writer"], cwd=PROJECT)
        written = _wait_for_rows(data, written + 40)  # in the middle of its writes
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
        code, out = _verify(data, capsys)
        assert code == 0, out
    assert main(["audit", "--verify", "--data-dir", str(data)]) == 0


def _wait_for_rows(data: Path, at_least: int) -> int:
    deadline = time.monotonic() + 60
    with sqlite3.connect(data / FILE_NAME) as db:
        while time.monotonic() < deadline:
            count = int(db.execute("select count(*) from audit").fetchone()[0])
            if count >= at_least:
                return count
            time.sleep(0.005)
    raise AssertionError(f"the writer did not reach {at_least} rows")
