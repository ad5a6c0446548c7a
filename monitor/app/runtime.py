"""What every flow runs with: settings, the database, the current rules, a clock, and who
this worker is."""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitor.notify.channels import Channel
from monitor.rules.loader import RuleSet
from monitor.settings import Settings
from monitor.store.db import db_now

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

    @property
    def story_window(self) -> timedelta:
        return timedelta(days=self.settings.schedule.story_window_days)

    def lease_now(self, session: Session) -> datetime:
        """The time leases are measured by: the database's clock (one clock for workers on
        several machines), unless a test gave this runtime a clock of its own."""
        return db_now(session) if self.clock is utcnow else self.clock()

    @property
    def restatement_reach(self) -> timedelta:
        return timedelta(days=self.settings.schedule.restatement_days)

    def channel(self, name: str) -> Channel | None:
        return next((c for c in self.channels if c.name == name), None)
