"""Reading a fleet repository: the working tree or a git revision, in a subdirectory of a work tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.core import limits
from reconciler.core.documents import MAX_FILE_BYTES
from reconciler.errors import NotAFleetRepository, RevisionNotFound
from reconciler.shell.git.protocol import WORKING_TREE
from reconciler.shell.git.repositories import read_revision
from reconciler.shell.git.worktrees import blob_id
from reconciler.shell.revisions import FleetLoader
from tests.conftest import GitRepo, small_fleet, write_tree

SUBDIR = "infra/fleet"


def in_subdir(files: dict[str, str]) -> dict[str, str]:
    return {f"{SUBDIR}/{path}": content for path, content in files.items()}


def git_blobs(repo: GitRepo, rev: str, prefix: str) -> dict[str, str]:
    """path (relative to `prefix`) → blob id, as git itself lists them."""
    listing = repo.git("ls-tree", "-r", rev, "--", prefix)
    blobs = {}
    for line in listing.splitlines():
        meta, path = line.split("\t", 1)
        blobs[path.removeprefix(prefix + "/")] = meta.split()[2]
    return blobs


def test_working_tree_of_a_fleet_in_a_subdirectory_has_gits_blob_ids(git_repo: GitRepo) -> None:
    """Every fleet file of the subdirectory is read, with the blob id git gives it, and nothing outside."""
    git_repo.commit({**in_subdir(small_fleet()), "README.md": "project\n", "infra/other.yaml": "x: 1\n"})
    found = read_revision(git_repo.root / SUBDIR, None)
    assert found.revision is None
    assert found.label == WORKING_TREE
    assert {path: f.blob for path, f in found.files.items()} == git_blobs(git_repo, "HEAD", SUBDIR)
    assert set(found.files) == set(small_fleet())
    assert found.files["fleet.yaml"].data == small_fleet()["fleet.yaml"].encode()


def test_revision_of_a_fleet_in_a_subdirectory_is_read_from_git_objects(git_repo: GitRepo) -> None:
    """At a revision, the files are those of the commit (not the working tree), with git's blob ids."""
    first = git_repo.commit(in_subdir(small_fleet()))
    changed = small_fleet()
    changed["groups.yaml"] = changed["groups.yaml"].replace("ntp.eu.example.net", "ntp2.eu.example.net")
    git_repo.commit(in_subdir({**changed, "devices/more.yaml": "devices: []\n"}))
    write_tree(git_repo.root, in_subdir({"sites.yaml": "sites: []\n"}))  # uncommitted edit

    found = read_revision(git_repo.root / SUBDIR, first[:10])
    assert found.revision == first
    assert found.label == f"{first[:10]} ({first[:10]})"
    assert {path: f.data.decode() for path, f in found.files.items()} == small_fleet()
    assert {path: f.blob for path, f in found.files.items()} == git_blobs(git_repo, first, SUBDIR)


def test_working_tree_and_head_share_blob_ids_for_unchanged_files(git_repo: GitRepo) -> None:
    """An unchanged file has the same blob id in the working tree and at HEAD (one cache entry)."""
    git_repo.commit(in_subdir(small_fleet()))
    write_tree(git_repo.root, in_subdir({"sites.yaml": small_fleet()["sites.yaml"] + "# edited\n"}))
    tree = read_revision(git_repo.root / SUBDIR, None)
    head = read_revision(git_repo.root / SUBDIR, "HEAD")
    same = {p for p in tree.files if tree.files[p].blob == head.files[p].blob}
    assert same == set(small_fleet()) - {"sites.yaml"}


def test_hidden_and_ignored_files_are_skipped(git_repo: GitRepo) -> None:
    """Dot files and directories and git-ignored files are not part of the fleet."""
    git_repo.commit({
        **in_subdir(small_fleet()),
        f"{SUBDIR}/.gitignore": "scratch.yaml\nbuild/\n",
        f"{SUBDIR}/.ci/pipeline.yaml": "steps: []\n",
        f"{SUBDIR}/devices/.draft.yaml": "devices: []\n",
    })
    write_tree(git_repo.root, in_subdir({
        "scratch.yaml": "not: tracked\n",
        "build/out.yaml": "generated: true\n",
        ".local/notes.yaml": "a: 1\n",
        "devices/untracked.yaml": "devices: []\n",
    }))
    tree = read_revision(git_repo.root / SUBDIR, None)
    assert set(tree.files) == set(small_fleet()) | {"devices/untracked.yaml"}
    head = read_revision(git_repo.root / SUBDIR, "HEAD")
    assert set(head.files) == set(small_fleet())


def test_hidden_files_are_skipped_outside_git(tmp_path: Path) -> None:
    """A fleet directory that is not in a git repository is walked, dot files skipped."""
    root = write_tree(tmp_path / "fleet", {**small_fleet(), ".cache/x.yaml": "a: 1\n", "devices/.old.yaml": "b\n"})
    assert set(read_revision(root, None).files) == set(small_fleet())


def test_unknown_revision_is_revision_not_found(git_repo: GitRepo) -> None:
    """A revision git does not know raises RevisionNotFound naming it."""
    git_repo.commit(in_subdir(small_fleet()))
    with pytest.raises(RevisionNotFound, match="unknown revision 'no-such-branch'"):
        read_revision(git_repo.root / SUBDIR, "no-such-branch")


def test_path_without_fleet_yaml_is_not_a_fleet_repository(git_repo: GitRepo) -> None:
    """A directory without fleet.yaml is refused, in the working tree and at a revision."""
    git_repo.commit(in_subdir(small_fleet()))
    with pytest.raises(NotAFleetRepository, match=r"no fleet\.yaml"):
        read_revision(git_repo.root / "infra", None)
    with pytest.raises(NotAFleetRepository, match=r"no fleet\.yaml"):
        read_revision(git_repo.root / "infra", "HEAD")


def test_revision_without_the_fleet_is_not_a_fleet_repository(git_repo: GitRepo) -> None:
    """A commit from before the fleet existed is not a fleet repository at that revision."""
    first = git_repo.commit({"README.md": "empty\n"})
    git_repo.commit(in_subdir(small_fleet()))
    with pytest.raises(NotAFleetRepository, match=f"at {first[:10]}"):
        read_revision(git_repo.root / SUBDIR, first)


def test_loader_parses_each_distinct_file_once_across_revisions(git_repo: GitRepo) -> None:
    """Loading HEAD and a working tree that changed one file parses that one file again, nothing else."""
    git_repo.commit(in_subdir(small_fleet()))
    write_tree(git_repo.root, in_subdir({"groups.yaml": small_fleet()["groups.yaml"] + "# edited\n"}))
    loader = FleetLoader()
    yaml_files = [path for path in small_fleet() if path.endswith(".yaml")]
    assert loader.load(git_repo.root / SUBDIR, "HEAD").ok
    assert loader.parsed == len(yaml_files)
    assert loader.load(git_repo.root / SUBDIR).ok
    assert loader.parsed == len(yaml_files) + 1


def oversized(size: int = MAX_FILE_BYTES + 1) -> bytes:
    line = b"# padding padding padding padding padding padding padding padding\n"
    return (line * (size // len(line) + 1))[:size]


def test_yaml_file_over_the_size_limit_is_a_problem_not_read(tmp_path: Path) -> None:
    """A devices file over 32 MiB is not held in memory (only its blob id); validation reports it at the file."""
    root = write_tree(tmp_path / "fleet", {**small_fleet(), "devices/huge.yaml": oversized()})
    source = read_revision(root, None)
    assert source.files["devices/huge.yaml"].data == b""
    assert source.files["devices/huge.yaml"].blob == blob_id(oversized())
    assert source.oversized == {"devices/huge.yaml": MAX_FILE_BYTES + 1}
    problems = [str(p) for p in FleetLoader().load(root).problems]
    assert problems == [
        f"devices/huge.yaml:1:1: error: the file is {MAX_FILE_BYTES + 1:,} bytes; the limit is "
        f"{limits.YAML_BYTES:,} bytes (split it) [file-too-large]"
    ]


def test_file_over_the_size_limit_at_a_revision_is_not_read(git_repo: GitRepo) -> None:
    """At a git revision, an oversized blob is listed as oversized, not fetched."""
    git_repo.commit(in_subdir({**small_fleet(), "devices/huge.yaml": oversized().decode()}))
    source = read_revision(git_repo.root / SUBDIR, "HEAD")
    assert source.files["devices/huge.yaml"].data == b""
    assert source.files["devices/huge.yaml"].blob == git_repo.git("rev-parse", f"HEAD:{SUBDIR}/devices/huge.yaml")
    assert source.oversized == {"devices/huge.yaml": MAX_FILE_BYTES + 1}
    assert [p.code for p in FleetLoader().load(git_repo.root / SUBDIR, "HEAD").problems] == ["file-too-large"]


def test_template_over_the_size_limit_is_reported_as_too_large(tmp_path: Path) -> None:
    """An oversized `.j2` is refused as too large, not misreported as a missing file."""
    files = {**small_fleet(), "templates/base.j2": oversized()}
    root = write_tree(tmp_path / "fleet", files)
    problems = FleetLoader().load(root).problems
    assert [(p.file, p.code) for p in problems if p.is_error] == [("templates/base.j2", "file-too-large")]
