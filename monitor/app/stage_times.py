"""Where a batch's CPU time goes, stage by stage.

A batch runs its stages one after another over all its articles (store, extract, dedup,
facts, rules, alerts), so timing each stage costs two clock reads a batch, not two an
article. The times are this thread's CPU time: a daemon's other threads (the event loop,
the probes) do not count. ``monitor_stage_cpu_seconds`` on ``/metrics`` sums them, and
the pipeline benchmark prints them per article.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

STAGES = ("store", "extract", "dedup", "facts", "rules", "alerts")


class StageTimes:
    """CPU seconds by stage, added up over batches."""

    __slots__ = ("seconds",)

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.thread_time()
        try:
            yield
        finally:
            spent = time.thread_time() - started
            self.seconds[name] = self.seconds.get(name, 0.0) + spent

    def add(self, other: StageTimes) -> None:
        for name, spent in other.seconds.items():
            self.seconds[name] = self.seconds.get(name, 0.0) + spent
