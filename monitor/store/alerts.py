"""Alert rows: the rules' alerts, the daemon's own operator alerts, and their listing.

Alerts are inserted with ``ON CONFLICT (key) DO NOTHING``: the key is derived from the
event (rule, series, values, time), so evaluating the same facts twice, or again after a
restart that lost nothing but memory, inserts no second row (issue 6, point 5).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from monitor.models import Alert
from monitor.store.upsert import insert_ignore
from monitor.values import AlertDraft


@dataclass(frozen=True, slots=True)
class AlertView:
    """One alert as listings show it (``monitor alerts --json`` keeps these keys)."""

    id: int
    rule: str
    key: str
    severity: str
    title: str
    entity: str | None
    metric: str | None
    old: float | None
    new: float | None
    story_id: int | None
    created_at: datetime | None
    channels: list[str] = field(default_factory=list)
    immediate: bool = False
    evidence: list[Any] = field(default_factory=list)
    payload: dict[str, Any] = field(default_factory=dict)


def insert_alerts(
    session: Session, drafts: Iterable[AlertDraft], *, now: datetime | None = None
) -> list[int]:
    """Insert new alerts; a key already stored is skipped. Returns the new rows' ids."""
    ids: list[int] = []
    for d in drafts:
        created = now or d.at
        assert created is not None, "an alert needs a time"
        stmt = (
            insert_ignore(session, Alert)
            .values(
                rule_id=d.rule_id,
                key=d.key,
                severity=d.severity,
                entity=d.entity,
                metric=d.metric,
                old_value=d.old_value,
                new_value=d.new_value,
                story_id=d.story_id,
                title=d.title,
                payload=d.payload,
                channels=list(d.channels),
                immediate=d.immediate,
                created_at=created,
            )
            .returning(col(Alert.id))
        )
        row = session.execute(stmt).first()
        if row is not None:
            ids.append(int(row[0]))
    return ids


def severities(session: Session, ids: Sequence[int]) -> list[str]:
    """The severity of each of these alerts."""
    if not ids:
        return []
    q = select(Alert.severity).where(col(Alert.id).in_(list(ids)))
    return [str(s) for s in session.exec(q)]


def article_time(session: Session, alert_id: int) -> datetime | None:
    """When the article behind an alert was published (else first seen): its first
    piece of evidence."""
    row = session.get(Alert, alert_id)
    evidence = ((row.payload or {}).get("evidence") or [{}]) if row else [{}]
    at = evidence[0].get("at") if isinstance(evidence[0], dict) else None
    return datetime.fromisoformat(at) if isinstance(at, str) else None


def raise_operator_alert(
    session: Session, *, topic: str, title: str, details: list[str], now: datetime
) -> int | None:
    """The daemon's own problem (a rejected rule edit, a dead-lettered message), recorded
    once per distinct problem set; None when the same one was already raised."""
    digest = hashlib.sha256("\n".join([topic, *details]).encode()).hexdigest()[:16]
    payload: dict[str, Any] = {"details": details, "quote": details[0] if details else None}
    stmt = (
        insert_ignore(session, Alert)
        .values(
            rule_id=f"operator:{topic}",
            key=f"operator:{topic}:{digest}",
            severity="high",
            title=title,
            payload=payload,
            channels=["log"],
            immediate=True,
            created_at=now,
        )
        .returning(col(Alert.id))
    )
    row = session.execute(stmt).first()
    return None if row is None else int(row[0])


def view(row: Alert) -> AlertView:
    payload = row.payload or {}
    assert row.id is not None
    return AlertView(
        id=row.id,
        rule=row.rule_id,
        key=row.key,
        severity=row.severity,
        title=row.title,
        entity=row.entity,
        metric=row.metric,
        old=row.old_value,
        new=row.new_value,
        story_id=row.story_id,
        created_at=row.created_at,
        channels=list(row.channels or []),
        immediate=row.immediate,
        evidence=list(payload.get("evidence", [])),
        payload=payload,
    )


def list_alerts(
    session: Session,
    *,
    since: datetime | None,
    limit: int,
    before: tuple[datetime, int] | None = None,
    story_id: int | None = None,
) -> list[AlertView]:
    """Newest first; ``since`` is the alert's time (when it fired), not an article date.
    ``before`` is the (time, id) of the previous page's last alert (a page of the web
    view); ``story_id`` keeps one story's alerts."""
    q = select(Alert)
    if since is not None:
        q = q.where(col(Alert.created_at) >= since)
    if story_id is not None:
        q = q.where(col(Alert.story_id) == story_id)
    if before is not None:
        at, aid = before
        q = q.where(
            (col(Alert.created_at) < at) | ((col(Alert.created_at) == at) & (col(Alert.id) < aid))
        )
    q = q.order_by(col(Alert.created_at).desc(), col(Alert.id).desc()).limit(limit)
    return [view(row) for row in session.exec(q).all()]


def last_fired(session: Session, rule_ids: Sequence[str]) -> dict[str, AlertView]:
    """Each rule's newest alert (one index lookup per rule: ``ix_alert_rule_id_created_at``)."""
    out: dict[str, AlertView] = {}
    for rule_id in rule_ids:
        q = (
            select(Alert)
            .where(col(Alert.rule_id) == rule_id)
            .order_by(col(Alert.created_at).desc(), col(Alert.id).desc())
            .limit(1)
        )
        row = session.exec(q).first()
        if row is not None:
            out[rule_id] = view(row)
    return out


@dataclass(frozen=True, slots=True)
class SeriesAlert:
    """What a metric chart needs of an alert: its values, evidence and series."""

    id: int
    rule: str
    title: str
    old: float | None
    new: float | None
    created_at: datetime | None
    payload: dict[str, Any]


def series_alerts(
    session: Session, rule_ids: Sequence[str], *, entity: str, metric: str, limit: int = 500
) -> list[SeriesAlert]:
    """The alerts these rules raised on one entity's metric, oldest first (the newest
    ``limit``): a metric chart's steps and conflicts. Columns, not ORM rows: a chart
    may read hundreds."""
    if not rule_ids:
        return []
    q = (
        sa.select(
            col(Alert.id), col(Alert.rule_id), col(Alert.title), col(Alert.old_value),
            col(Alert.new_value), col(Alert.created_at), col(Alert.payload),
        )
        .where(
            col(Alert.rule_id).in_(list(rule_ids)),
            col(Alert.entity) == entity,
            col(Alert.metric) == metric,
        )
        .order_by(col(Alert.created_at).desc(), col(Alert.id).desc())
        .limit(limit)
    )  # fmt: skip
    rows = reversed(session.execute(q).all())
    return [SeriesAlert(int(r[0]), r[1], r[2], r[3], r[4], r[5], dict(r[6] or {})) for r in rows]
