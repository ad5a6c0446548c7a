"""Article, fact and mention rows."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlmodel import Session, col, select

from monitor.models import Article, FactRow, Mention, Source
from monitor.store.clean_text import safe, safe_opt
from monitor.store.plain_sql import PlainSql, chunks
from monitor.values import Extraction, FetchedArticle


def sort_key(published_at: datetime | None, first_seen: datetime) -> datetime:
    """coalesce(published, first_seen), clamped so a future date cannot pin an item on top."""
    if published_at is None or published_at > first_seen:
        return first_seen
    return published_at


_INSERT_ARTICLE = (
    "INSERT INTO article (source_id, entry_key, url, guid, title, author, published_at,"
    " published_raw, first_seen_at, sort_at, text, language, ai_generated, agent_name,"
    " summary_only, content_hash, extracted)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT DO NOTHING RETURNING id"
)


def insert_article(
    session: Session, source_id: int, item: FetchedArticle, *, content_hash: str, now: datetime
) -> int | None:
    """Store a fetched article; None when this source or url already has it (re-poll)."""
    return insert_articles(session, source_id, [(item, content_hash)], now=now)[0]


def entry_key(item: FetchedArticle) -> str:
    """The key an item is stored under in its source (its GUID, as stored)."""
    return safe(item.guid)[:2000]


def insert_articles(
    session: Session,
    source_id: int,
    items: Sequence[tuple[FetchedArticle, str]],
    *,
    now: datetime,
) -> list[int | None]:
    """Store fetched articles with their content hashes, in order; for each, its new id,
    or None when this source or url already has it (a re-poll).

    Plain SQL on the driver's cursor, one statement per article: the ORM's insert
    machinery cost more than the row itself (issue 16's profile: 2.3 ms an article).
    """
    sql = PlainSql(session)
    ts = sql.types.ts_in
    seen = ts(now)
    out: list[int | None] = []
    for item, content_hash in items:
        row = sql.rows(
            _INSERT_ARTICLE,
            (
                source_id,
                entry_key(item),
                safe(item.url),
                safe_opt(item.guid),
                safe(item.title)[:1000],
                safe_opt(item.author),
                ts(item.published_at),
                safe_opt(item.published_raw),
                seen,
                ts(sort_key(item.published_at, now)),
                safe(item.text),
                item.language,
                item.ai_generated,
                safe_opt(item.agent_name),
                item.summary_only,
                content_hash,
                False,
            ),
        )
        out.append(int(row[0][0]) if row else None)
    return out


def url_owners(session: Session, urls: Sequence[str]) -> dict[str, int]:
    """The source that holds each of ``urls`` (an article's url is unique)."""
    out: dict[str, int] = {}
    wanted = sorted({safe(u) for u in urls})
    for i in range(0, len(wanted), 500):
        q = select(Article.url, Article.source_id).where(col(Article.url).in_(wanted[i : i + 500]))
        out.update((url, int(sid)) for url, sid in session.exec(q).all())
    return out


def titles_by(
    session: Session, source_id: int, *, urls: Sequence[str] = (), keys: Sequence[str] = ()
) -> tuple[dict[str, str], dict[str, str]]:
    """The titles of this source's articles at ``urls`` and under the entry ``keys`` it
    holds: (url -> title, key -> title)."""
    by_url: dict[str, str] = {}
    by_key: dict[str, str] = {}
    for column, wanted, out in (
        (Article.url, sorted({safe(u) for u in urls}), by_url),
        (Article.entry_key, sorted(set(keys)), by_key),
    ):
        for i in range(0, len(wanted), 500):
            q = select(column, Article.title).where(
                Article.source_id == source_id, col(column).in_(wanted[i : i + 500])
            )
            out.update((value, title or "") for value, title in session.exec(q).all())
    return by_url, by_key


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
    """Facts and mentions of one article (see :func:`insert_extractions`), each fact
    counted first of its kind in the story (always safe: more are read than needed)."""
    firsts = [True] * len(extraction.facts)
    insert_extractions(session, [(article_id, extraction, story_id, new_flags, firsts)], now=now)


_INSERT_FACT = (
    "INSERT INTO fact (article_id, story_id, entity, metric, value, value_high, unit,"
    " currency, period, qualifiers, approx, alt_value, alt_currency, surface, quote,"
    " span_start, span_end, confidence, new_to_story, first_in_story, created_at, sort_at,"
    " source_id, ai_generated) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
    " %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


class Origin(NamedTuple):
    """What a fact copies from its article (migration 0010): its place in time, its
    source and whether an AI agent wrote it. An article's never change once stored."""

    sort_at: datetime
    source_id: int
    ai_generated: bool


def origin_of(item: FetchedArticle, source_id: int, now: datetime) -> Origin:
    """The origin of an article as :func:`insert_articles` stores it at ``now``."""
    return Origin(sort_key(item.published_at, now), source_id, item.ai_generated)


def origins(session: Session, article_ids: Sequence[int]) -> dict[int, Origin]:
    """The stored articles' origins. ``ai_generated`` lies after the article's text in its
    row, so reading it walks the text's overflow pages: the pipeline, which has just
    stored the articles, passes their origins instead (3x quicker fact inserts)."""
    sql = PlainSql(session)
    out: dict[int, Origin] = {}
    for part in chunks(sorted(set(article_ids))):
        for aid, sort_at, source_id, ai in sql.rows(
            "SELECT id, sort_at, source_id, ai_generated FROM article"
            f" WHERE id IN ({sql.marks(len(part))})",
            part,
        ):
            out[int(aid)] = Origin(sql.types.ts_out(sort_at), int(source_id), bool(ai))
    return out


_INSERT_MENTION = (
    "INSERT INTO mention (article_id, kind, name, value, entity, quote, span_start, span_end)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)


def insert_extractions(
    session: Session,
    rows: Sequence[tuple[int, Extraction, int | None, Sequence[bool], Sequence[bool]]],
    *,
    now: datetime,
    known: Mapping[int, Origin] | None = None,
) -> None:
    """Facts and mentions of a batch of articles, each as (article id, extraction, story
    id, which facts are new to the story, which are the first of their kind in it; see
    ``monitor.app.placement.FactMarks``): one executemany per table, and the articles
    marked extracted in one statement. Plain SQL on the driver's cursor, as
    :func:`insert_articles`. Each fact copies its article's :class:`Origin`, from
    ``known`` when the caller has it, else read."""
    sql = PlainSql(session)
    ts_in = sql.types.ts_in
    created = ts_in(now)
    wanted = [aid for aid, ex, *_ in rows if ex.facts and (known is None or aid not in known)]
    found = {**(known or {}), **(origins(session, wanted) if wanted else {})}
    json_in = sql.types.json_in
    no_qualifiers = json_in(None)  # most facts have none: encoded once, not per row
    facts: list[tuple[Any, ...]] = []
    mentions: list[tuple[Any, ...]] = []
    for article_id, extraction, story_id, flags, firsts in rows:
        if extraction.facts:
            origin = found[article_id]
            copied = (ts_in(origin.sort_at), origin.source_id, origin.ai_generated)
        for f, is_new, first in zip(extraction.facts, flags, firsts, strict=True):
            facts.append(
                (
                    article_id,
                    story_id,
                    f.entity,
                    f.metric,
                    f.value,
                    f.value_high,
                    f.unit,
                    f.currency,
                    f.period,
                    json_in(dict(f.qualifiers)) if f.qualifiers else no_qualifiers,
                    f.approx,
                    f.alt_value,
                    f.alt_currency,
                    safe(f.surface),
                    safe(f.quote),
                    f.span[0],
                    f.span[1],
                    f.confidence,
                    is_new,
                    first,
                    created,
                    *copied,
                )
            )
        for t in extraction.terms:
            mentions.append(
                (article_id, "term", t.family, safe(t.term), t.entity, safe(t.quote), *t.span)
            )
        for p in extraction.topics:
            mentions.append(
                (article_id, "topic", p.topic, safe(p.phrase), p.entity, safe(p.quote), *p.span)
            )
    if facts:
        sql.run_many(_INSERT_FACT, facts)
    if mentions:
        sql.run_many(_INSERT_MENTION, mentions)
    for part in chunks([aid for aid, *_ in rows]):
        marks = sql.marks(len(part))
        sql.run(f"UPDATE article SET extracted = %s WHERE id IN ({marks})", [True, *part])


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
    return [fact_view(*row) for row in session.exec(q).all()]


def fact_view(fact: FactRow, url: str, title: str, source: str) -> FactView:
    assert fact.id is not None
    return FactView(
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
