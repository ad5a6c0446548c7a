"""Backtests run beside the requests, in a worker process.

A backtest replays a rule over the history the analyst picks: a year of a busy series
(13,000 values in the web benchmark) keeps the engine busy for about a second, longer
than a page may hold a browser (issue 15 point 5: every page under 300 ms). The form's
POST starts one here and answers at once with the address of its result; that page
waits a moment for it (a short replay is shown straight away), else says it is running
and reloads itself (a meta refresh: the view runs no script).

The replay runs in one worker process, not a thread: in a thread it holds the
interpreter lock half the time, and every page served meanwhile took twice as long
(the result page itself 290 ms instead of 140). One replay at a time, so a busy form
cannot take the machine from the pages; the newest ``KEEP`` are kept, under unguessable
ids.
"""

from __future__ import annotations

import multiprocessing
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from monitor.values import AlertDraft

KEEP = 16  # finished or running backtests kept for their result pages


class Replayed(NamedTuple):
    facts: int | None  # the values replayed (None when the rule reads whole batches)
    seconds: float  # the replay's own time
    drafts: list[AlertDraft]


@dataclass
class Backtest:
    id: str
    rule: str
    since: datetime | None
    until: datetime | None
    form: dict[str, str]  # the form as typed, shown again with the result
    future: Future[Replayed]
    started: float = field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        """Seconds since it was asked for (any wait for the worker included)."""
        return time.monotonic() - self.started


def replay_rule(
    url: str,
    rules: Any,
    rule_id: str,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
) -> Replayed:
    """One backtest, in the worker: a read-only engine of its own on the database."""
    from monitor.app import evaluation
    from monitor.store.db import make_read_engine, session_scope

    began = time.monotonic()
    read: list[int] = []
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = make_read_engine(url)
    with session_scope(engine) as session:
        drafts = evaluation.backtest(
            session, rules, rule_id, since=since, until=until, now=now, on_read=read.append
        )
    return Replayed(read[0] if read else None, time.monotonic() - began, drafts)


_engines: dict[str, Any] = {}  # the worker's engines, one per database it was asked about


def _worker() -> Executor:
    # forkserver: the worker starts from a clean process, not a copy of this one with
    # its threads and open database connections
    context = multiprocessing.get_context("forkserver")
    return ProcessPoolExecutor(max_workers=1, mp_context=context)


class Backtests:
    def __init__(self, keep: int = KEEP, pool: Executor | None = None) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, Backtest] = OrderedDict()
        self._pool = pool  # None: one worker process, started on first use

    def start(
        self,
        rule: str,
        *,
        since: datetime | None,
        until: datetime | None,
        form: dict[str, str],
        run: Callable[..., Replayed],
        args: tuple[Any, ...],
    ) -> Backtest:
        """Queue ``run(*args)`` (picklable, for the worker process) as this backtest."""
        with self._lock:
            if self._pool is None:
                self._pool = _worker()
            try:
                future = self._pool.submit(run, *args)
            except BrokenProcessPool:  # the worker died (killed, out of memory): a new one
                self._pool = _worker()
                future = self._pool.submit(run, *args)
            job = Backtest(secrets.token_urlsafe(12), rule, since, until, form, future)
            self._jobs[job.id] = job
            while len(self._jobs) > self._keep:
                _, old = self._jobs.popitem(last=False)
                old.future.cancel()  # one still waiting for the worker is dropped
        return job

    def get(self, job_id: str) -> Backtest | None:
        with self._lock:
            return self._jobs.get(job_id)

    def close(self) -> None:
        """Drop what has not started and stop the worker: a replay under way only reads,
        and left running it outlived the server (a stopped `monitor serve` left its
        worker behind, its parent gone)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is None:
            return
        # the executor offers no way to stop a running call (before Python 3.14's
        # terminate_workers): its processes are ended directly
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(5)
