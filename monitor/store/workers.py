"""Workers' heartbeats and the counts `monitor health` reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, func, select

from monitor.models import Alert, Heartbeat


@dataclass(frozen=True, slots=True)
class WorkerView:
    worker: str
    role: str
    started_at: datetime | None
    seen_at: datetime | None


def beat(session: Session, *, worker: str, host: str, pid: int, role: str, now: datetime) -> None:
    """The worker's heartbeat row, for `monitor health` and for spotting dead workers."""
    row = session.get(Heartbeat, worker)
    if row is None:
        row = Heartbeat(worker=worker, host=host, pid=pid, role=role, started_at=now)
    row.seen_at = now
    session.add(row)


def forget(session: Session, *, worker: str) -> None:
    """A worker stopping cleanly takes its heartbeat away: `monitor health` then lists
    the workers running, and those that stopped without a word (crashed, killed)."""
    row = session.get(Heartbeat, worker)
    if row is not None:
        session.delete(row)


def workers(session: Session) -> list[WorkerView]:
    """Every worker beating, or that stopped beating without a clean stop, the most
    recently seen first."""
    return [
        WorkerView(h.worker, h.role, h.started_at, h.seen_at)
        for h in session.exec(select(Heartbeat).order_by(col(Heartbeat.seen_at).desc()))
    ]


def alert_counts(session: Session) -> tuple[int, int]:
    """Operator alerts ever raised, and alerts no digest has shown yet."""
    operator = session.exec(
        select(func.count()).select_from(Alert).where(col(Alert.rule_id).like("operator:%"))
    ).one()
    undigested = session.exec(
        select(func.count()).select_from(Alert).where(col(Alert.digest_id).is_(None))
    ).one()
    return int(operator), int(undigested)
