"""Source rows: the configured sources, their HTTP validators and their poll state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from monitor.models import Source
from monitor.store.upsert import insert_ignore


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """What sources.yaml says about one source (the store's view of it)."""

    name: str
    url: str
    kind: str
    interval_s: float
    tags: tuple[str, ...] = ()
    config: dict[str, Any] | None = None


def sync_sources(session: Session, configs: Sequence[SourceConfig], now: datetime) -> None:
    """Make the source table match the file; removed sources go inactive, keeping articles.

    Several daemons starting at once on one database each sync the same file: new rows
    are inserted with ON CONFLICT DO NOTHING (the later ones wait for the first and find
    the rows there), then every row is updated under its row lock."""
    known = set(session.exec(select(Source.name)).all())
    for cfg in configs:
        if cfg.name not in known:
            session.execute(
                insert_ignore(session, Source).values(
                    name=cfg.name, url=cfg.url, next_poll_at=now, kind=cfg.kind,
                    interval_s=cfg.interval_s, active=True, poll_count=0, item_count=0,
                    error_count=0, error_total=0, lease_token=0,
                )
            )  # fmt: skip
    existing = {s.name: s for s in session.exec(select(Source).with_for_update()).all()}
    for cfg in configs:
        row = existing.pop(cfg.name, None)
        if row is None:  # cannot happen after the insert above; kept for clarity of types
            row = Source(name=cfg.name, url=cfg.url, next_poll_at=now)
        elif row.url != cfg.url:
            # another address: old validators say nothing about it
            row.etag = row.last_modified = row.content_hash = None
            row.next_poll_at = now
        row.url, row.kind, row.interval_s = cfg.url, cfg.kind, cfg.interval_s
        row.tags, row.config, row.active = list(cfg.tags), cfg.config, True
        session.add(row)
    for row in existing.values():
        if row.name != "file":
            row.active = False
            session.add(row)
    session.flush()


def ensure_source(session: Session, name: str, url: str, kind: str = "file") -> Source:
    """The pseudo-source of `monitor ingest` (never polled). Two ingests that start at
    once on a new database both find no row: the second insert is skipped, not a
    unique-key error that ended its whole run."""
    row = session.exec(select(Source).where(Source.name == name)).first()
    if row is None:
        session.execute(
            insert_ignore(session, Source).values(
                name=name, url=url, kind=kind, interval_s=900.0, active=False, poll_count=0,
                item_count=0, error_count=0, error_total=0, lease_token=0,
            )
        )  # fmt: skip
        row = session.exec(select(Source).where(Source.name == name)).one()
    return row


def by_name(
    session: Session, name: str, *, lock: bool = False, nowait: bool = False
) -> Source | None:
    """The source row; with ``lock``, held FOR UPDATE until the transaction ends (with
    ``nowait``, an error at once when another transaction holds it: PostgreSQL)."""
    q = select(Source).where(Source.name == name)
    return session.exec(q.with_for_update(nowait=nowait) if lock else q).first()


def active_sources(session: Session) -> list[Source]:
    return list(session.exec(select(Source).where(col(Source.active)).order_by(Source.name)))


def claim_due(
    session: Session,
    *,
    worker: str,
    now: datetime,
    lease_s: float,
    include_not_due: bool = False,
    limit: int | None = 500,
) -> list[Source]:
    """Lease the sources that are due and not leased by a live worker.

    On PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets several daemons claim at once without
    blocking each other or taking the same source; SQLite serialises writers anyway
    (BEGIN IMMEDIATE). Each claim bumps ``lease_token``, the fencing token that
    ``record_success``/``record_failure`` check, so a worker whose lease expired cannot
    overwrite the state written by the worker that took over.
    """
    q = select(Source).where(
        col(Source.active),
        (col(Source.lease_until).is_(None)) | (col(Source.lease_until) < now),
    )
    if not include_not_due:
        q = q.where((col(Source.next_poll_at).is_(None)) | (col(Source.next_poll_at) <= now))
    q = q.order_by(col(Source.next_poll_at), col(Source.name))
    if limit is not None:
        q = q.limit(limit)
    rows = list(session.exec(q.with_for_update(skip_locked=True)))
    for row in rows:
        row.lease_owner = worker
        row.lease_until = now + timedelta(seconds=lease_s)
        row.lease_token += 1
        session.add(row)
    session.flush()
    return rows


def holds_lease(source: Source, token: int | None) -> bool:
    """True when nobody claimed the source since ``token`` was handed out."""
    return token is None or source.lease_token == token


def release(source: Source) -> None:
    source.lease_owner = None
    source.lease_until = None


def renew_lease(session: Session, name: str, *, token: int, until: datetime) -> bool:
    """Extend a lease still held with ``token`` (a long poll); False when it was lost.
    The row is not waited for: the poll's own store holds it while it stores (an
    OperationalError then), and its commit records the poll."""
    row = by_name(session, name, lock=True, nowait=True)
    if row is None or row.lease_token != token or row.lease_owner is None:
        return False
    row.lease_until = until
    session.add(row)
    return True


def give_back(session: Session, name: str, *, token: int) -> bool:
    """Release a lease still held with ``token`` without recording a poll (a poll cut
    short at shutdown): the source is due again at once, for any worker."""
    row = by_name(session, name, lock=True)
    if row is None or row.lease_token != token:
        return False
    release(row)
    session.add(row)
    return True


def release_leases(session: Session, *, worker: str) -> int:
    """Give back every lease ``worker`` holds (a clean shutdown); returns how many."""
    rows = list(session.exec(select(Source).where(col(Source.lease_owner) == worker)))
    for row in rows:
        release(row)
        session.add(row)
    return len(rows)


def record_success(
    session: Session,
    source: Source,
    *,
    etag: str | None,
    last_modified: str | None,
    content_hash: str | None,
    new_items: int,
    next_delay_s: float,
    now: datetime,
) -> None:
    source.etag, source.last_modified, source.content_hash = etag, last_modified, content_hash
    source.last_poll_at = source.last_success_at = now
    source.poll_count += 1
    source.error_count = 0
    if new_items:
        if source.last_new_item_at is not None:
            gap = (now - source.last_new_item_at).total_seconds()
            # smoothed so one burst or one quiet week does not redefine "usual"
            source.usual_gap_s = (
                gap if source.usual_gap_s is None else (0.7 * source.usual_gap_s + 0.3 * gap)
            )
        source.last_new_item_at = now
        source.item_count += new_items
    source.next_poll_at = now + timedelta(seconds=next_delay_s)
    release(source)
    session.add(source)


def record_failure(
    session: Session,
    source: Source,
    *,
    kind: str,
    message: str,
    next_delay_s: float,
    now: datetime,
) -> None:
    """Count a failure; validators and articles stay as they are (RELIABILITY F1)."""
    source.last_poll_at = now
    source.poll_count += 1
    source.error_count += 1
    source.error_total += 1
    source.last_error, source.last_error_kind, source.last_error_at = message[:1000], kind, now
    source.next_poll_at = now + timedelta(seconds=next_delay_s)
    release(source)
    session.add(source)


@dataclass(frozen=True, slots=True)
class SourceView:
    """A source's state as ``monitor sources list --json`` shows it. ``stale`` is decided
    above the store (``monitor.app.health``)."""

    name: str
    url: str
    kind: str
    active: bool
    interval_s: float
    tags: list[str]
    last_poll_at: datetime | None
    last_new_item_at: datetime | None
    next_poll_at: datetime | None
    items: int
    error_count: int
    last_error_kind: str | None
    last_error: str | None
    stale: bool
    usual_gap_s: float | None


def view(source: Source, *, stale: bool = False) -> SourceView:
    return SourceView(
        name=source.name,
        url=source.url,
        kind=source.kind,
        active=source.active,
        interval_s=source.interval_s,
        tags=list(source.tags or []),
        last_poll_at=source.last_poll_at,
        last_new_item_at=source.last_new_item_at,
        next_poll_at=source.next_poll_at,
        items=source.item_count,
        error_count=source.error_count,
        last_error_kind=source.last_error_kind,
        last_error=source.last_error,
        stale=stale,
        usual_gap_s=source.usual_gap_s,
    )
