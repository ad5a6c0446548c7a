"""What a digest is made of, read from the store, and the digest rows themselves."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, func, select

from monitor.models import Alert, Article, Digest, FactRow, Mention, Source, Story
from monitor.store.upsert import insert_ignore


@dataclass(frozen=True, slots=True)
class DigestMaterial:
    """Stories seen since the last digest with their members (and source names), their
    new typed facts (with the article's url), terms and topics, and the alerts no digest
    has shown yet."""

    stories: list[Story] = field(default_factory=list)
    members: dict[int, list[tuple[Article, str]]] = field(default_factory=dict)
    facts: dict[int, list[tuple[FactRow, str]]] = field(default_factory=dict)
    mentions: dict[int, list[Mention]] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)


def material(session: Session, *, since: datetime | None) -> DigestMaterial:
    sq = select(Story).order_by(col(Story.first_seen_at))
    if since is not None:
        sq = sq.where(col(Story.last_seen_at) >= since)
    stories = list(session.exec(sq))
    ids = [s.id for s in stories if s.id is not None]
    members: dict[int, list[tuple[Article, str]]] = defaultdict(list)
    facts: dict[int, list[tuple[FactRow, str]]] = defaultdict(list)
    mentions: dict[int, list[Mention]] = defaultdict(list)
    if ids:
        for art, src in session.exec(
            select(Article, Source.name)
            .join(Source, col(Source.id) == Article.source_id)
            .where(col(Article.story_id).in_(ids))
            .order_by(col(Article.sort_at))
        ):
            assert art.story_id is not None
            members[art.story_id].append((art, src))
        for fact, url in session.exec(
            select(FactRow, Article.url)
            .join(Article, col(Article.id) == FactRow.article_id)
            .where(col(FactRow.story_id).in_(ids), col(FactRow.metric).is_not(None))
            .where(col(FactRow.new_to_story))
            .order_by(col(FactRow.id))
        ):
            assert fact.story_id is not None
            facts[fact.story_id].append((fact, url))
        for mention, story_id in session.exec(
            select(Mention, Article.story_id)
            .join(Article, col(Article.id) == Mention.article_id)
            .where(col(Article.story_id).in_(ids))
        ):
            if story_id is not None:
                mentions[story_id].append(mention)
    aq = select(Alert).where(col(Alert.digest_id).is_(None)).order_by(col(Alert.id))
    alerts = list(session.exec(aq))
    return DigestMaterial(stories, dict(members), dict(facts), dict(mentions), alerts)


def save(
    session: Session,
    *,
    window_key: str,
    text: str,
    html: str,
    alert_ids: list[int],
    now: datetime,
) -> int | None:
    """Record a digest once per window; None when another worker already built it."""
    stmt = (
        insert_ignore(session, Digest)
        .values(window_key=window_key, text=text, html=html, alert_ids=alert_ids, created_at=now)
        .returning(col(Digest.id))
    )
    row = session.execute(stmt).first()
    if row is None:
        return None
    digest_id = int(row[0])
    if alert_ids:
        for alert in session.exec(select(Alert).where(col(Alert.id).in_(alert_ids))):
            alert.digest_id = digest_id
            session.add(alert)
    return digest_id


def last_digest_at(session: Session) -> datetime | None:
    return session.exec(select(func.max(Digest.created_at))).one()
