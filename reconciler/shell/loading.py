"""Loading fleet revisions: files from `sources` in, a built fleet (and its renderer) out.

Where it sits: between `sources` (bytes of a revision) and the pure core (`documents`,
`loading`, `validation`, `rendering`). A `FleetLoader` keeps every file it validated, keyed by
path and git blob id, so a diff reads each distinct file once and a long-lived process (the
daemon) re-parses only the files a new commit changed. The garbage collector is paused during the
bulk load: the parsed documents are long-lived, so scanning them over and over is wasted work.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from reconciler.core.documents import parse_yaml, too_large
from reconciler.core.loading import LoadedFile, load_file, locate_problems
from reconciler.core.models import kind_of
from reconciler.core.problems import Problem, sort_key
from reconciler.core.rendering import Renderer
from reconciler.core.validation import FleetBuild, build_fleet
from reconciler.shell.library import project_library
from reconciler.shell.sources import RevisionFiles, read_revision


@dataclass(frozen=True)
class LoadedRevision:
    """One revision of a fleet repository, read, checked and ready to render."""

    source: RevisionFiles
    build: FleetBuild
    problems: tuple[Problem, ...]  # located (file:line:col) and sorted

    @property
    def label(self) -> str:
        return self.source.label

    @property
    def ok(self) -> bool:
        return self.build.ok

    def renderer(self) -> Renderer:
        assert self.build.fleet is not None and self.build.templates is not None
        return Renderer(self.build.fleet, self.build.templates)


class FleetLoader:
    """Loads revisions of fleet repositories; each distinct file is parsed and validated once."""

    def __init__(self, library: Mapping[str, str] | None = None) -> None:
        self.library = dict(project_library() if library is None else library)
        self._loaded: dict[tuple[str, str], LoadedFile] = {}
        self.parsed = 0  # files parsed by this loader (cache misses), for statistics

    def load(self, path: Path, rev: str | None = None) -> LoadedRevision:
        source = read_revision(path, rev)
        with _gc_paused():
            loaded = self._load_files(source)
            build = build_fleet(loaded, source.files, self.library)
        raw = {p: f.data for p, f in source.files.items()}
        problems = sorted(locate_problems(build.problems, raw), key=sort_key)
        return LoadedRevision(source, build, tuple(problems))

    def _load_files(self, source: RevisionFiles) -> list[LoadedFile]:
        loaded = []
        for path, file in source.files.items():
            kind = kind_of(path)
            if kind is None:
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


@contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
