"""The outbox rows: queued messages, claimed with a lease, marked with what happened.

One row per message part, channel and recipient, with a unique key, written in the same
transaction as the digest or alert it carries (RELIABILITY N8-N10). A dispatcher claims
due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite serialises writers, every
transaction beginning IMMEDIATE), sends them outside any transaction, and marks them; a
claim bumps ``lease_token``, and marking checks it, so a dispatcher whose lease expired
and was taken over cannot overwrite the outcome of the one that took over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from monitor.models import Delivery
from monitor.store.upsert import insert_ignore

STATES = ("pending", "retrying", "sent", "dead")
DUE_STATES = ("pending", "retrying")


@dataclass(frozen=True, slots=True)
class NewDelivery:
    unique_key: str
    kind: str  # digest | alert | operator
    ref_id: int | None
    channel: str
    recipient: str
    part: int
    parts: int
    message_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row this dispatcher holds until ``lease_until``; ``token`` proves it when marking."""

    id: int
    token: int
    kind: str
    ref_id: int | None
    channel: str
    recipient: str
    attempts: int  # tries before this one
    created_at: datetime | None
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """One outbox row as ``monitor deliveries --json`` shows it."""

    id: int
    kind: str
    ref_id: int | None
    channel: str
    recipient: str
    part: int
    parts: int
    message_id: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    last_error_kind: str | None
    created_at: datetime | None
    sent_at: datetime | None
    subject: str
    outcome: dict[str, Any] | None
    lease_until: datetime | None = None  # a dispatcher holds it (is sending it) until then


def enqueue(session: Session, rows: Sequence[NewDelivery], *, now: datetime) -> list[int]:
    """Queue messages; a unique key already queued is skipped. Returns the new rows' ids."""
    ids = []
    for r in rows:
        stmt = (
            insert_ignore(session, Delivery)
            .values(
                unique_key=r.unique_key,
                kind=r.kind,
                ref_id=r.ref_id,
                channel=r.channel,
                recipient=r.recipient,
                part=r.part,
                parts=r.parts,
                message_id=r.message_id,
                payload=r.payload,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            .returning(col(Delivery.id))
        )
        got = session.execute(stmt).first()
        if got is not None:
            ids.append(int(got[0]))
    return ids


def claim_due(
    session: Session,
    *,
    worker: str,
    now: datetime,
    lease_s: float,
    limit: int,
    channels: Sequence[str] | None = None,
    other_channels: bool = False,
    created_before: datetime | None = None,
    ids: Sequence[int] | None = None,
) -> list[Claimed]:
    """Lease up to ``limit`` due rows that no live dispatcher holds, oldest first: of
    ``channels`` (all when None), or with ``other_channels`` of every channel but them;
    with ``created_before``, only rows queued before then."""
    q = select(Delivery).where(
        col(Delivery.status).in_(DUE_STATES),
        col(Delivery.next_attempt_at) <= now,
        (col(Delivery.lease_until).is_(None)) | (col(Delivery.lease_until) < now),
    )
    if channels is not None:
        named = col(Delivery.channel).in_(list(channels))
        q = q.where(~named if other_channels else named)
    if created_before is not None:
        q = q.where(col(Delivery.created_at) < created_before)
    if ids is not None:
        q = q.where(col(Delivery.id).in_(list(ids)))
    q = q.order_by(col(Delivery.next_attempt_at), col(Delivery.id)).limit(limit)
    rows = list(session.exec(q.with_for_update(skip_locked=True)))
    out = []
    for row in rows:
        assert row.id is not None
        row.lease_owner = worker
        row.lease_until = now + timedelta(seconds=lease_s)
        row.lease_token += 1
        session.add(row)
        out.append(
            Claimed(
                row.id,
                row.lease_token,
                row.kind,
                row.ref_id,
                row.channel,
                row.recipient,
                row.attempts,
                row.created_at,
                dict(row.payload or {}),
            )
        )
    session.flush()
    return out


def mark(
    session: Session,
    claimed: Claimed,
    *,
    status: str,
    now: datetime,
    next_attempt_at: datetime | None = None,
    error: str | None = None,
    error_kind: str | None = None,
    outcome: dict[str, Any] | None = None,
) -> bool:
    """Record a try's result; False when the lease was lost (another dispatcher took the
    row over: its result stands)."""
    assert status in STATES
    row = session.exec(
        select(Delivery).where(col(Delivery.id) == claimed.id).with_for_update()
    ).first()
    if row is None or row.lease_token != claimed.token:
        return False
    row.status = status
    row.attempts += 1
    row.lease_owner = row.lease_until = None
    row.outcome = outcome
    if status == "sent":
        row.sent_at = now
        row.last_error = row.last_error_kind = None
    else:
        row.last_error, row.last_error_kind = (error or "")[:2000] or None, error_kind
    if next_attempt_at is not None:
        row.next_attempt_at = next_attempt_at
    session.add(row)
    return True


def release(session: Session, *, worker: str) -> int:
    """Give back every row ``worker`` holds (a clean shutdown): due again at once."""
    rows = list(
        session.exec(
            select(Delivery).where(
                col(Delivery.lease_owner) == worker, col(Delivery.status).in_(DUE_STATES)
            )
        )
    )
    for row in rows:
        row.lease_owner = row.lease_until = None
        session.add(row)
    return len(rows)


def give_back(session: Session, claims: Sequence[Claimed]) -> int:
    """Give back claimed rows not tried (still ours by their token): due again at once,
    their tries unspent."""
    given = 0
    for c in claims:
        row = session.get(Delivery, c.id, with_for_update=True)
        if row is not None and row.lease_token == c.token and row.status in DUE_STATES:
            row.lease_owner = row.lease_until = None
            session.add(row)
            given += 1
    return given


def retry(session: Session, delivery_id: int, *, now: datetime) -> DeliveryView | None:
    """Queue a dead (or any unsent) row again, due now; None when there is no such row.
    A sent row is left as it is, and so is a row a dispatcher is sending now (its lease
    is live; ``sending``): freeing it would let another dispatcher send it beside the
    first, and that one's result stands anyway."""
    row = session.get(Delivery, delivery_id)
    if row is None:
        return None
    if row.status != "sent" and not sending(view(row), now):
        row.status = "pending"
        row.next_attempt_at = now
        row.lease_owner = row.lease_until = None
        session.add(row)
        session.flush()
    return view(row)


def sending(row: DeliveryView, now: datetime) -> bool:
    """A dispatcher holds the row: it is being sent."""
    return row.status in DUE_STATES and row.lease_until is not None and row.lease_until > now


def view(row: Delivery) -> DeliveryView:
    assert row.id is not None
    payload = row.payload or {}
    return DeliveryView(
        id=row.id,
        kind=row.kind,
        ref_id=row.ref_id,
        channel=row.channel,
        recipient=row.recipient,
        part=row.part,
        parts=row.parts,
        message_id=row.message_id,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        last_error_kind=row.last_error_kind,
        created_at=row.created_at,
        sent_at=row.sent_at,
        subject=str(payload.get("subject", "")),
        outcome=row.outcome,
        lease_until=row.lease_until,
    )


def list_deliveries(
    session: Session,
    *,
    state: str | None = None,
    kind: str | None = None,
    ref_id: int | None = None,
    limit: int = 1000,
    before: int | None = None,
) -> list[DeliveryView]:
    """Newest first; ``before``: only rows older than this id (the next page)."""
    q = select(Delivery)
    if before is not None:
        q = q.where(col(Delivery.id) < before)
    if state is not None:
        q = q.where(col(Delivery.status) == state)
    if kind is not None:
        q = q.where(col(Delivery.kind) == kind)
    if ref_id is not None:
        q = q.where(col(Delivery.ref_id) == ref_id)
    q = q.order_by(col(Delivery.id).desc()).limit(limit)
    return [view(r) for r in session.exec(q)]


def counts(session: Session) -> dict[str, int]:
    """Rows per state (for health and metrics)."""
    got = session.exec(
        select(col(Delivery.status), func.count()).group_by(col(Delivery.status))
    ).all()
    return {str(s): int(n) for s, n in got}


def next_due(session: Session, *, now: datetime) -> datetime | None:
    """When the earliest row that is not yet due will be."""
    return session.exec(
        select(func.min(col(Delivery.next_attempt_at))).where(
            col(Delivery.status).in_(DUE_STATES), col(Delivery.next_attempt_at) > now
        )
    ).one()
