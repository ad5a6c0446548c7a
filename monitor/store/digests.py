"""Digest rows: one per channel and window, as it was built and sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, func, select

from monitor.models import Digest
from monitor.store.upsert import insert_ignore


@dataclass(frozen=True, slots=True)
class DigestRow:
    """A recorded digest (``monitor digest list --json``; ``show`` adds the text)."""

    id: int
    channel: str | None
    window_key: str
    window_start: datetime | None
    window_end: datetime | None
    created_at: datetime | None
    title: str
    parts: int  # messages it was split into; 0: nothing new, nothing sent
    alerts: int
    text: str | None = None
    html: str | None = None


def last_window_end(session: Session, channel: str) -> datetime | None:
    """Where the channel's next digest starts: the end of its last one."""
    return session.exec(
        select(func.max(col(Digest.window_end))).where(col(Digest.channel) == channel)
    ).one()


def last_digest_at(session: Session) -> datetime | None:
    return session.exec(select(func.max(Digest.created_at))).one()


def save_window(
    session: Session,
    *,
    channel: str,
    window_key: str,
    start: datetime | None,
    end: datetime,
    title: str,
    text: str,
    html: str,
    alert_ids: Sequence[int],
    now: datetime,
) -> int | None:
    """Record a channel's digest once per window; None when another worker already did."""
    stmt = (
        insert_ignore(session, Digest)
        .values(
            window_key=window_key,
            channel=channel,
            window_start=start,
            window_end=end,
            title=title,
            text=text,
            html=html,
            alert_ids=list(alert_ids),
            created_at=now,
            parts=0,
        )
        .returning(col(Digest.id))
    )
    row = session.execute(stmt).first()
    return None if row is None else int(row[0])


def set_parts(session: Session, digest_id: int, parts: int) -> None:
    row = session.get(Digest, digest_id)
    if row is not None:
        row.parts = parts
        session.add(row)


def _row(d: Digest, *, full: bool) -> DigestRow:
    assert d.id is not None
    return DigestRow(
        id=d.id,
        channel=d.channel,
        window_key=d.window_key,
        window_start=d.window_start,
        window_end=d.window_end,
        created_at=d.created_at,
        title=d.title,
        parts=d.parts,
        alerts=len(d.alert_ids or ()),
        text=d.text if full else None,
        html=d.html if full else None,
    )


def list_digests(
    session: Session, *, channel: str | None = None, limit: int = 100, before: int | None = None
) -> list[DigestRow]:
    """Newest first; ``before``: only digests older than this id (the next page)."""
    q = select(Digest)
    if before is not None:
        q = q.where(col(Digest.id) < before)
    if channel is not None:
        q = q.where(col(Digest.channel) == channel)
    q = q.order_by(col(Digest.id).desc()).limit(limit)
    return [_row(d, full=False) for d in session.exec(q)]


def get_digest(session: Session, digest_id: int) -> DigestRow | None:
    d = session.get(Digest, digest_id)
    return None if d is None else _row(d, full=True)
