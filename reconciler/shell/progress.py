"""Progress and outcome tables for the live commands: a rich progress bar on a terminal, plain lines
otherwise (CI logs, pipes), and a final per-device table.

Where it sits: `app.live` opens a `Reporter` around observing and applying and passes its
callbacks down (`observed`, `applied`); the table is the command's output. Progress goes to
stderr, so stdout stays the result (a snapshot, a plan, a table).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from reconciler.core.results import DeviceOutcome, DeviceResult
from reconciler.core.secrets import redact

_STYLE = {DeviceOutcome.CONVERGED: "green", DeviceOutcome.IN_SYNC: "green", DeviceOutcome.ALREADY: "green",
          DeviceOutcome.FAILED: "red", DeviceOutcome.UNREACHABLE: "yellow", DeviceOutcome.BUSY: "yellow",
          DeviceOutcome.STALE: "yellow",
          DeviceOutcome.SKIPPED: "dim", DeviceOutcome.INTERRUPTED: "magenta"}


class Reporter:
    """Reports devices as they finish; a progress bar only when stderr is a terminal."""

    def __init__(self, what: str, total: int, stream: TextIO | None = None) -> None:
        self.what = what
        self.total = total
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> Reporter:
        if self.interactive and self.total:
            self._progress = Progress(TextColumn(f"{self.what}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), console=Console(file=self.stream), transient=True)
            self._progress.start()
            self._task = self._progress.add_task(self.what, total=self.total)
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()

    def observed(self, device: str, state: str) -> None:
        self._advance(f"{self.what}: {device}: {state}", quiet=state == "online")

    def applied(self, result: DeviceResult) -> None:
        self._advance(f"{self.what}: {result.device}: {result.outcome.value}"
                      + (f" ({redact(result.detail)})" if result.detail else ""), quiet=False)

    def _advance(self, line: str, quiet: bool) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)
        elif not quiet:
            print(line, file=self.stream, flush=True)

    def table(self, results: Sequence[DeviceResult]) -> str:
        """The per-device outcomes, as a rich table on a terminal and as aligned text otherwise."""
        ordered = sorted(results, key=lambda r: (r.outcome is DeviceOutcome.CONVERGED, r.device))
        if not self.interactive:
            width = max([len(r.device) for r in ordered] + [6])
            lines = [f"{'device':<{width}}  {'outcome':<15}  seconds  detail"]
            lines += [f"{r.device:<{width}}  {r.outcome.value:<15}  {r.seconds:7.1f}  {redact(r.detail)}"
                      for r in ordered]
            return "\n".join(lines) + "\n"
        table = Table("device", "outcome", "seconds", "detail", title=f"{len(results)} devices")
        for r in ordered:
            table.add_row(r.device, f"[{_STYLE[r.outcome]}]{r.outcome.value}[/]", f"{r.seconds:.1f}", redact(r.detail))
        console = Console(file=None, record=True, width=160)
        with console.capture() as captured:
            console.print(table)
        return captured.get()
