"""Article, fact and mention rows."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from monitor.models import Article, FactRow, Mention, Source
from monitor.store.clean_text import safe, safe_opt
from monitor.store.upsert import insert_ignore
from monitor.values import Extraction, Fact, FetchedArticle


def sort_key(published_at: datetime | None, first_seen: datetime) -> datetime:
    """coalesce(published, first_seen), clamped so a future date cannot pin an item on top."""
    if published_at is None or published_at > first_seen:
        return first_seen
    return published_at


def insert_article(
    session: Session, source_id: int, item: FetchedArticle, *, content_hash: str, now: datetime
) -> int | None:
    """Store a fetched article; None when this source or url already has it (re-poll)."""
    values = {
        "source_id": source_id,
        "entry_key": safe(item.guid)[:2000],
        "url": safe(item.url),
        "guid": safe_opt(item.guid),
        "title": safe(item.title)[:1000],
        "author": safe_opt(item.author),
        "published_at": item.published_at,
        "published_raw": safe_opt(item.published_raw),
        "first_seen_at": now,
        "sort_at": sort_key(item.published_at, now),
        "text": safe(item.text),
        "language": item.language,
        "ai_generated": item.ai_generated,
        "agent_name": safe_opt(item.agent_name),
        "summary_only": item.summary_only,
        "content_hash": content_hash,
        "extracted": False,
    }
    stmt = insert_ignore(session, Article).values(**values).returning(col(Article.id))
    row = session.execute(stmt).first()
    return None if row is None else int(row[0])


def url_owners(session: Session, urls: Sequence[str]) -> dict[str, int]:
    """The source that holds each of ``urls`` (an article's url is unique)."""
    out: dict[str, int] = {}
    wanted = sorted({safe(u) for u in urls})
    for i in range(0, len(wanted), 500):
        q = select(Article.url, Article.source_id).where(col(Article.url).in_(wanted[i : i + 500]))
        out.update((url, int(sid)) for url, sid in session.exec(q).all())
    return out


def known_keys(session: Session, source_id: int, keys: Sequence[str]) -> set[str]:
    if not keys:
        return set()
    q = select(Article.entry_key).where(
        Article.source_id == source_id, col(Article.entry_key).in_(list(keys))
    )
    return set(session.exec(q).all())


def seen_keys(session: Session, source_id: int, *, limit: int = 5000) -> frozenset[str]:
    """Entry keys and urls of a source's latest articles: pages the fetcher need not fetch."""
    q = (
        select(Article.entry_key, Article.url)
        .where(Article.source_id == source_id)
        .order_by(col(Article.id).desc())
        .limit(limit)
    )
    return frozenset(k for row in session.exec(q) for k in row)


def as_stored(extraction: Extraction) -> Extraction:
    """The extraction as its rows will read back: :func:`insert_extraction` strips the
    characters no database takes from surfaces, quotes and terms. The same object when
    nothing changes."""
    facts = tuple(
        f if f.surface == safe(f.surface) and f.quote == safe(f.quote)
        else dataclasses.replace(f, surface=safe(f.surface), quote=safe(f.quote))
        for f in extraction.facts
    )  # fmt: skip
    terms = tuple(
        t if t.term == safe(t.term) else dataclasses.replace(t, term=safe(t.term))
        for t in extraction.terms
    )
    if all(a is b for a, b in zip(facts, extraction.facts, strict=True)) and all(
        a is b for a, b in zip(terms, extraction.terms, strict=True)
    ):
        return extraction
    return dataclasses.replace(extraction, facts=facts, terms=terms)


def get(session: Session, article_id: int) -> Article | None:
    return session.get(Article, article_id)


def insert_extraction(
    session: Session,
    article_id: int,
    extraction: Extraction,
    *,
    story_id: int | None,
    new_flags: Sequence[bool],
    now: datetime,
) -> None:
    """Facts and mentions of one article, in two executemany statements (no ORM flush)."""
    facts = [
        _fact_values(article_id, fact, story_id, is_new, now)
        for fact, is_new in zip(extraction.facts, new_flags, strict=True)
    ]
    mentions = [
        _mention_values(article_id, "term", t.family, t.term, t.entity, t.quote, t.span)
        for t in extraction.terms
    ] + [
        _mention_values(article_id, "topic", t.topic, t.phrase, t.entity, t.quote, t.span)
        for t in extraction.topics
    ]
    if facts:
        session.execute(sa.insert(FactRow), facts)
    if mentions:
        session.execute(sa.insert(Mention), mentions)
    session.execute(sa.update(Article).where(col(Article.id) == article_id).values(extracted=True))


def _mention_values(
    article_id: int,
    kind: str,
    name: str,
    value: str,
    entity: str | None,
    quote: str,
    span: tuple[int, int],
) -> dict[str, Any]:
    return {
        "article_id": article_id,
        "kind": kind,
        "name": name,
        "value": safe(value),
        "entity": entity,
        "quote": safe(quote),
        "span_start": span[0],
        "span_end": span[1],
    }


def _fact_values(
    article_id: int, fact: Fact, story_id: int | None, is_new: bool, now: datetime
) -> dict[str, Any]:
    return {
        "article_id": article_id,
        "story_id": story_id,
        "entity": fact.entity,
        "metric": fact.metric,
        "value": fact.value,
        "value_high": fact.value_high,
        "unit": fact.unit,
        "currency": fact.currency,
        "period": fact.period,
        "qualifiers": dict(fact.qualifiers) or None,
        "approx": fact.approx,
        "alt_value": fact.alt_value,
        "alt_currency": fact.alt_currency,
        "surface": safe(fact.surface),
        "quote": safe(fact.quote),
        "span_start": fact.span[0],
        "span_end": fact.span[1],
        "confidence": fact.confidence,
        "new_to_story": is_new,
        "created_at": now,
    }


@dataclass(frozen=True, slots=True)
class FactView:
    """One fact as ``monitor facts --json`` shows it."""

    id: int
    entity: str | None
    metric: str | None
    value: float
    value_high: float | None
    unit: str
    currency: str | None
    surface: str
    period: str | None
    qualifiers: dict[str, str]
    approx: str | None
    alt_value: float | None
    alt_currency: str | None
    confidence: float
    article_id: int
    story_id: int | None
    url: str
    title: str
    source: str
    quote: str
    span: tuple[int, int]
    new_to_story: bool
    kind: str = "fact"


@dataclass(frozen=True, slots=True)
class MentionView:
    """A term (model name) or topic found in an article, shaped like a :class:`FactView`."""

    kind: str  # term | topic
    entity: str | None
    name: str  # the term family or topic id
    value: str  # the term, or the phrase that matched
    article_id: int
    url: str
    title: str
    source: str
    quote: str
    span: tuple[int, int]
    metric: None = None


def list_facts(
    session: Session,
    *,
    entity: str | None = None,
    metric: str | None = None,
    since: datetime | None = None,
    typed_only: bool = False,
    limit: int = 1000,
) -> list[FactView]:
    """Facts in article order; ``since`` is the article's date (published, else seen)."""
    q = (
        select(FactRow, Article.url, Article.title, Source.name)
        .join(Article, col(Article.id) == FactRow.article_id)
        .join(Source, col(Source.id) == Article.source_id)
    )
    if entity:
        q = q.where(FactRow.entity == entity)
    if metric:
        q = q.where(FactRow.metric == metric)
    if typed_only:
        q = q.where(col(FactRow.metric).is_not(None))
    if since:
        q = q.where(col(Article.sort_at) >= since)
    q = q.order_by(col(FactRow.article_id), col(FactRow.span_start)).limit(limit)
    out = []
    for fact, url, title, source in session.exec(q).all():
        assert fact.id is not None
        out.append(
            FactView(
                id=fact.id,
                entity=fact.entity,
                metric=fact.metric,
                value=fact.value,
                value_high=fact.value_high,
                unit=fact.unit,
                currency=fact.currency,
                surface=fact.surface,
                period=fact.period,
                qualifiers=dict(fact.qualifiers or {}),
                approx=fact.approx,
                alt_value=fact.alt_value,
                alt_currency=fact.alt_currency,
                confidence=round(fact.confidence, 3),
                article_id=fact.article_id,
                story_id=fact.story_id,
                url=url,
                title=title,
                source=source,
                quote=fact.quote,
                span=(fact.span_start, fact.span_end),
                new_to_story=fact.new_to_story,
            )
        )
    return out


def list_mentions(
    session: Session,
    *,
    kind: str | None = None,
    article_ids: Sequence[int] | None = None,
    entity: str | None = None,
    since: datetime | None = None,
    limit: int = 1000,
) -> list[MentionView]:
    """Terms and topics found in articles; ``since`` is the article's date."""
    q = (
        select(Mention, Article.url, Article.title, Source.name)
        .join(Article, col(Article.id) == Mention.article_id)
        .join(Source, col(Source.id) == Article.source_id)
    )
    if kind:
        q = q.where(Mention.kind == kind)
    if article_ids is not None:
        q = q.where(col(Mention.article_id).in_(list(article_ids)))
    if entity:
        q = q.where(Mention.entity == entity)
    if since:
        q = q.where(col(Article.sort_at) >= since)
    q = q.order_by(col(Mention.article_id), col(Mention.span_start)).limit(limit)
    return [
        MentionView(
            kind=m.kind,
            entity=m.entity,
            name=m.name,
            value=m.value,
            article_id=m.article_id,
            url=url,
            title=title,
            source=source,
            quote=m.quote,
            span=(m.span_start, m.span_end),
        )
        for m, url, title, source in session.exec(q).all()
    ]
