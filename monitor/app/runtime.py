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

from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitor.app import collector
from monitor.notify.channels import Channel
from monitor.rules.loader import RuleSet
from monitor.settings import Settings
from monitor.store.db import db_now, writer_now

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
