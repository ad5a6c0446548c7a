"""Health for operators: sources with their staleness, workers, digests and alerts.

Exit codes of ``monitor health`` (documented in README for probes): 0 when the database
answers at the newest schema and no source is failing, 1 otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine

from monitor.fetch.policy import is_stale
from monitor.store import digests, workers
from monitor.store import sources as sources_store
from monitor.store.db import current_revision, head_revision, session_scope
from monitor.store.sources import SourceView


@dataclass(frozen=True, slots=True)
class WorkerHealth:
    worker: str
    role: str
    started_at: datetime | None
    seen_at: datetime | None
    seen_s_ago: int | None


@dataclass(frozen=True, slots=True)
class HealthReport:
    """What ``monitor health --json`` prints (one object in the array)."""

    workers: list[WorkerHealth]
    last_digest_at: datetime | None
    alerts_not_in_a_digest: int
    operator_alerts: int
    revision: str | None
    head_revision: str | None
    sources: int
    failing_sources: list[str] = field(default_factory=list)
    stale_sources: list[str] = field(default_factory=list)
    healthy: bool = True


def source_views(engine: Engine, *, now: datetime, stale_factor: float) -> list[SourceView]:
    """Every active source's state, marked stale when it has been quiet for longer than
    ``stale_factor`` times its usual gap between new items."""
    with session_scope(engine) as session:
        return [
            sources_store.view(
                s, stale=is_stale(s.last_new_item_at, s.usual_gap_s, now, stale_factor)
            )
            for s in sources_store.active_sources(session)
        ]


def report(engine: Engine, *, now: datetime, stale_factor: float) -> HealthReport:
    revision = current_revision(engine)  # its own connection: not inside the transaction
    head = head_revision(engine)
    srcs = source_views(engine, now=now, stale_factor=stale_factor)
    with session_scope(engine) as session:
        seen = workers.workers(session)
        last = digests.last_digest_at(session)
        operator, undigested = workers.alert_counts(session)
    failing = sorted(s.name for s in srcs if s.error_count)
    return HealthReport(
        workers=[
            WorkerHealth(
                w.worker,
                w.role,
                w.started_at,
                w.seen_at,
                None if w.seen_at is None else round((now - w.seen_at).total_seconds()),
            )
            for w in seen
        ],
        last_digest_at=last,
        alerts_not_in_a_digest=undigested,
        operator_alerts=operator,
        revision=revision,
        head_revision=head,
        sources=len(srcs),
        failing_sources=failing,
        stale_sources=sorted(s.name for s in srcs if s.stale),
        healthy=not failing and revision == head,
    )
