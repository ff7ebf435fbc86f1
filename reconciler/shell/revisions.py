"""Loading fleet revisions: a revision's files in (`shell.git`), a built fleet (and its renderer) out.

Where it sits: between `shell.git` (the bytes of a revision) and the pure core (`documents`,
`loading`, `building`, `rendering`). A `FleetLoader` keeps every file it validated, keyed by
path and git blob id, so a diff reads each distinct file once and a long-lived process (the
daemon) re-parses only the files a new commit changed. The garbage collector is paused during the
bulk load: the parsed documents are long-lived, so scanning them over and over is wasted work.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from reconciler.core.building import FleetBuild, build_fleet
from reconciler.core.digests import digest
from reconciler.core.documents import parse_yaml, too_large
from reconciler.core.loading import LoadedFile, load_file, locate_problems
from reconciler.core.memos import DeviceMemo, HashMemo, environment_key
from reconciler.core.models import GroupsFile, kind_of
from reconciler.core.problems import Problem, sort_key
from reconciler.core.rendering import Renderer
from reconciler.shell.git.protocol import RevisionFiles
from reconciler.shell.git.repositories import read_revision
from reconciler.shell.library import project_library

T = TypeVar("T")


@dataclass
class _Built:
    """What one set of file contents builds to, kept for the next load of the same contents."""

    build: FleetBuild
    problems: tuple[Problem, ...]  # located (file:line:col) and sorted
    hashes: HashMemo  # shared by the builds of one environment (see _Environment)
    files: frozenset[tuple[str, str]]  # (path, blob) of its YAML files: what keeps them in the file cache
    renderer: Renderer | None = None


@dataclass
class _Environment:
    """Memos shared by builds whose files outside devices/ are the same (devices resolve the same)."""

    devices: DeviceMemo = field(default_factory=DeviceMemo)
    hashes: HashMemo = field(default_factory=HashMemo)


@dataclass(frozen=True)
class LoadedRevision:
    """One revision of a fleet repository, read, checked and ready to render."""

    source: RevisionFiles
    _built: _Built

    @property
    def build(self) -> FleetBuild:
        return self._built.build

    @property
    def problems(self) -> tuple[Problem, ...]:
        return self._built.problems

    @property
    def label(self) -> str:
        return self.source.label

    @property
    def content(self) -> str:
        """Digest of every file of the revision: what a saved plan records to be applied exactly."""
        return _content_key(self.source)

    @property
    def ok(self) -> bool:
        return self.build.ok

    def locate(self, problems: list[Problem]) -> list[Problem]:
        """Problems found after loading (render failures), with their positions filled in."""
        return locate_problems(problems, {p: f.data for p, f in self.source.files.items()})

    def renderer(self) -> Renderer:
        """The revision's renderer (one per content, so the input hashes it computed are kept)."""
        if self._built.renderer is None:
            assert self.build.fleet is not None and self.build.templates is not None
            self._built.renderer = Renderer(self.build.fleet, self.build.templates, hashes=self._built.hashes)
        return self._built.renderer


class FleetLoader:
    """Loads revisions of fleet repositories; each distinct file is parsed and validated once.

    A revision whose files are all unchanged since an earlier load (same paths, same blob ids)
    is not even rebuilt: the last few builds are kept by content. Everything is bounded by them:
    files, resolved devices and input hashes no kept build uses are dropped after each build, so a
    process that loads revision after revision (the daemon) does not grow.
    """

    KEPT_BUILDS = 4

    def __init__(self, library: Mapping[str, str] | None = None) -> None:
        self.library = dict(project_library() if library is None else library)
        self._loaded: dict[tuple[str, str], LoadedFile] = {}
        self._builds: dict[str, _Built] = {}
        self._environments: dict[str, _Environment] = {}
        self.parsed = 0  # files parsed by this loader (cache misses), for statistics

    def load(self, path: Path, rev: str | None = None) -> LoadedRevision:
        return self.load_files(read_revision(path, rev))

    def load_files(self, source: RevisionFiles) -> LoadedRevision:
        """Build a revision already read (the daemon reads commits of its own clone)."""
        built = _recent(self._builds, _content_key(source), self.KEPT_BUILDS)
        if built is None:
            built = self._build(source)
            self._builds[_content_key(source)] = built
            self._forget_unused()
        return LoadedRevision(source, built)

    def _forget_unused(self) -> None:
        while len(self._builds) > self.KEPT_BUILDS:
            del self._builds[next(iter(self._builds))]
        live = frozenset().union(*(built.files for built in self._builds.values()))
        self._loaded = {key: value for key, value in self._loaded.items() if key in live}
        fleets = [built.build.fleet for built in self._builds.values() if built.build.fleet is not None]
        devices = [device for fleet in fleets for device in fleet.devices.values()]
        for environment in self._environments.values():
            environment.devices.retain(devices)
            environment.hashes.retain(devices)

    def _build(self, source: RevisionFiles) -> _Built:
        with _gc_paused():
            loaded = self._load_files(source)
            groups = next((f.spec for f in loaded if isinstance(f.spec, GroupsFile)), None)
            key = environment_key(source.files, groups, [f"{path}\x00symlink" for path in source.symlinks])
            environment = _recent(self._environments, key, self.KEPT_BUILDS) or _Environment()
            self._environments[key] = environment
            build = build_fleet(loaded, source.files, self.library, source.oversized, environment.devices,
                                source.symlinks)
        raw = {p: f.data for p, f in source.files.items()}
        problems = tuple(sorted(locate_problems(build.problems, raw), key=sort_key))
        files = frozenset((path, file.blob) for path, file in source.files.items() if kind_of(path) is not None)
        return _Built(build, problems, environment.hashes, files)

    def _load_files(self, source: RevisionFiles) -> list[LoadedFile]:
        loaded = []
        for path, file in source.files.items():
            kind = kind_of(path)
            if kind is None or path in source.oversized:
                continue
            key = (path, file.blob)
            done = self._loaded.get(key)
            if done is None:
                done = self._loaded[key] = load_file(parse_yaml(path, file.data), kind)
                self.parsed += 1
            loaded.append(done)
        for path, size in source.oversized.items():
            kind = kind_of(path)
            if kind is not None:
                loaded.append(load_file(too_large(path, size), kind))
        return loaded


def _content_key(source: RevisionFiles) -> str:
    """Identity of a revision: every file's path and blob id, and its symbolic links."""
    entries = sorted(f"{path}\x00{file.blob}" for path, file in source.files.items())
    return digest(*entries, *(f"{path}\x00symlink" for path in source.symlinks))


def _recent(cache: dict[str, T], key: str, kept: int) -> T | None:
    """Look up `key` and mark it most recently used; forget the least recently used beyond `kept`."""
    value = cache.pop(key, None)
    if value is not None:
        cache[key] = value
    while len(cache) > kept:
        del cache[next(iter(cache))]
    return value


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No collections while a revision loads, and none that scan it afterwards.

    What a load builds lives as long as the build is kept; `gc.freeze` moves it out of the
    collector's generations, so the collections that later work triggers (rendering allocates a
    lot) do not walk millions of long-lived objects each time. Frozen objects are still freed by
    reference counting when the build is dropped; only cyclic garbage among them would stay.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
