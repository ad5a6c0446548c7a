"""Progress of long work: a bar on a terminal, a line now and then otherwise.

On a terminal (stderr is one) a rich progress bar shows the count, the rate and the time
left; in a log or a pipe a line every ``EVERY`` seconds says the same, so a backfill
piped to a file is never silent for long. Either way it goes to stderr: ``--json`` on
stdout stays clean. The command prints its own summary at the end.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any

EVERY = 10.0  # seconds between two lines when not on a terminal


class Progress:
    """``with Progress("ingest", total=n, unit="files") as p: p.advance()``; ``total``
    None when unknown (a count without a bar end)."""

    def __init__(self, what: str, *, total: int | None, unit: str) -> None:
        self.what, self.total, self.unit = what, total, unit
        self.done = 0
        self.note = ""
        self._bar: Any = None
        self._task: Any = None
        self._started = time.monotonic()
        self._said = self._started

    def __enter__(self) -> Progress:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as Bar

            self._bar = Bar(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(self.unit),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[note]}"),
                console=Console(file=sys.stderr),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.what, total=self.total, note="")
        return self

    def advance(self, n: int = 1, *, note: str | None = None) -> None:
        self.done += n
        if note is not None:
            self.note = note
        if self._bar is not None:
            self._bar.update(self._task, advance=n, note=self.note)
            return
        now = time.monotonic()
        if now - self._said >= EVERY:
            self._said = now
            print(self.line(now), file=sys.stderr, flush=True)

    def line(self, now: float | None = None) -> str:
        spent = max(1e-9, (now or time.monotonic()) - self._started)
        of = f"/{self.total:,}" if self.total is not None else ""
        rate = self.done / spent
        left = ""
        if self.total is not None and rate > 0:
            left = f", {(self.total - self.done) / rate:.0f} s left"
        note = f"; {self.note}" if self.note else ""
        return f"{self.what}: {self.done:,}{of} {self.unit} ({rate:,.0f}/s{left}){note}"

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
