"""What every flow runs with: settings, the database, the current rules, a clock, and who
this worker is."""

from __future__ import annotations

import os
import random
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitor.app import collector
from monitor.notify.channels import Channel
from monitor.rules.loader import RuleSet
from monitor.settings import Settings
from monitor.store.db import db_now, make_read_engine, writer_now

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    # Swapped whole on reload (one reference: atomic); a flow reads it once per batch.
    rules: RuleSet
    clock: Clock = utcnow
    worker: str = field(default_factory=worker_name)
    rng: random.Random = field(default_factory=random.Random)
    channels: tuple[Channel, ...] = ()  # where digests and alerts go (the channels file)
    _store: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    # Sources whose poll the database's going away cut short, by name with their lease
    # token: given back as soon as it answers again (``polling``), not held until the
    # lease expires.
    owed_back: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    _store_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _reader: Engine | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        # the settings, the rules and the modules a flow needs are loaded by now
        collector.settle()

    def store_thread(self) -> ThreadPoolExecutor:
        """Where a poll's database work runs (store, extract, place, evaluate): one poll at
        a time, off the event loop. On the loop, a batch that takes a second stalls every
        fetch under way; at 1M stored, 0.5% of a 10,000-feed cycle timed out that way. One
        thread: SQLite has one writer anyway, and the caches placement keeps (decoded
        story profiles, the band-key tail) are then never used by two threads at once."""
        with self._store_lock:
            if self._store is None:
                self._store = ThreadPoolExecutor(1, thread_name_prefix="monitor-store")
            return self._store

    def reader(self) -> Engine:
        """A read-only engine on the same database, for the reads made on the event loop
        (a source's validators before its fetch). The writing engine's transactions begin
        IMMEDIATE on SQLite, so such a read waited there for the store thread's write lock
        and froze every other poll, and /healthz, for as long as a store took; this one's
        are deferred, and a WAL reader never waits for the writer. Made on first use, and
        disposed with ``engine``."""
        with self._store_lock:
            if self._reader is None:
                db = self.settings.database
                reader = make_read_engine(
                    self.engine.url.render_as_string(hide_password=False),
                    busy_timeout_ms=db.busy_timeout_ms,
                    cache_mb=db.cache_mb,
                )
                sa.event.listen(self.engine, "engine_disposed", lambda _: reader.dispose())
                self._reader = reader
            return self._reader

    @property
    def story_window(self) -> timedelta:
        return timedelta(days=self.settings.schedule.story_window_days)

    def lease_now(self, session: Session) -> datetime:
        """The time leases are measured by: the database's clock (one clock for workers on
        several machines), unless a test gave this runtime a clock of its own."""
        return db_now(session) if self.clock is utcnow else self.clock()

    def store_now(self, session: Session) -> datetime:
        """When a batch stored in ``session`` is first seen: the database's
        :func:`~monitor.store.db.writer_now`, unless a test gave this runtime a clock of
        its own."""
        return writer_now(session) if self.clock is utcnow else self.clock()

    @property
    def restatement_reach(self) -> timedelta:
        return timedelta(days=self.settings.schedule.restatement_days)

    def channel(self, name: str) -> Channel | None:
        return next((c for c in self.channels if c.name == name), None)
