"""Facts as the web view pages through them: filtered, newest first, one page at a time.

``monitor facts`` lists in article order from the oldest (``articles.list_facts``); an
analyst searching wants the newest first, with the article's date and whether an AI
wrote it. Pages are keyset pages: the next one starts after the (article date, fact id)
of the last row shown, so page 1,000 costs what page 1 does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col

from monitor.models import Article, FactRow, Source
from monitor.store.articles import FactView, fact_view


@dataclass(frozen=True, slots=True)
class FactHit:
    fact: FactView
    at: datetime  # the article's date: published, else first seen
    ai_generated: bool
    agent: str | None


def search_facts(
    session: Session,
    *,
    entity: str | None = None,
    metric: str | None = None,
    period: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    story_id: int | None = None,
    typed_only: bool = True,
    before: tuple[datetime, int] | None = None,
    limit: int | None = 50,
    ids: Sequence[int] | None = None,
    article_ids: Sequence[int] | None = None,
) -> list[FactHit]:
    """Facts newest first (article date, then id). ``period`` matches the stated period
    case-insensitively as a part ("2025" finds "FY2025" and "Q3 2025"); ``since`` and
    ``until`` bound the article's date, ``until`` excluded.

    Without an entity, metric, story or ids the newest articles are read first, a chunk
    at a time, and their facts then: sorting every fact of a million articles by its
    article's date for one page took ~400 ms."""
    if not (entity or metric or story_id is not None or ids is not None or article_ids):
        return _by_newest_articles(
            session, period=period, since=since, until=until, typed_only=typed_only,
            before=before, limit=limit,
        )  # fmt: skip
    q = (
        sa.select(
            FactRow,
            col(Article.url),
            col(Article.title),
            col(Source.name),
            col(Article.sort_at),
            col(Article.ai_generated),
            col(Article.agent_name),
        )
        .join(Article, col(Article.id) == FactRow.article_id)
        .join(Source, col(Source.id) == Article.source_id)
    )
    if entity:
        q = q.where(col(FactRow.entity) == entity)
    if metric:
        q = q.where(col(FactRow.metric) == metric)
    elif typed_only:
        q = q.where(col(FactRow.metric).is_not(None))
    if period:
        q = q.where(col(FactRow.period).icontains(period, autoescape=True))
    if story_id is not None:
        q = q.where(col(FactRow.story_id) == story_id)
    if ids is not None:
        q = q.where(col(FactRow.id).in_(list(ids)))
    if article_ids is not None:
        q = q.where(col(FactRow.article_id).in_(list(article_ids)))
    if since is not None:
        q = q.where(col(Article.sort_at) >= since)
    if until is not None:
        q = q.where(col(Article.sort_at) < until)
    if before is not None:
        at, fid = before
        q = q.where(
            (col(Article.sort_at) < at) | ((col(Article.sort_at) == at) & (col(FactRow.id) < fid))
        )
    q = q.order_by(col(Article.sort_at).desc(), col(FactRow.id).desc())
    if limit is not None:
        q = q.limit(limit)
    out = []
    for fact, url, title, source, at, ai, agent in session.execute(q).all():
        out.append(FactHit(fact_view(fact, url, title, source), at, bool(ai), agent))
    return out


CHUNK = 500  # articles read at a time, newest first


def _by_newest_articles(
    session: Session,
    *,
    period: str | None,
    since: datetime | None,
    until: datetime | None,
    typed_only: bool,
    before: tuple[datetime, int] | None,
    limit: int | None,
) -> list[FactHit]:
    out: list[FactHit] = []
    upper = before[0] if before is not None else until
    inclusive = before is not None  # the cursor's own date may hold more of its facts
    while limit is None or len(out) < limit:
        q = sa.select(col(Article.id), col(Article.sort_at))
        if upper is not None:
            q = q.where(
                col(Article.sort_at) <= upper if inclusive else col(Article.sort_at) < upper
            )
        if since is not None:
            q = q.where(col(Article.sort_at) >= since)
        if until is not None:
            q = q.where(col(Article.sort_at) < until)
        chunk = list(
            session.execute(
                q.order_by(col(Article.sort_at).desc(), col(Article.id).desc()).limit(CHUNK)
            ).all()
        )
        if not chunk:
            break
        last = chunk[-1][1]
        if len(chunk) == CHUNK:  # the whole of the last date: facts sort by id within it
            chunk += session.execute(
                sa.select(col(Article.id), col(Article.sort_at)).where(
                    col(Article.sort_at) == last, col(Article.id) < chunk[-1][0]
                )
            ).all()
        got = search_facts(
            session, period=period, typed_only=typed_only, limit=None,
            article_ids=[int(a) for a, _ in chunk],
        )  # fmt: skip
        if before is not None:
            at, fid = before
            got = [h for h in got if h.at < at or (h.at == at and h.fact.id < fid)]
        out += got
        upper, inclusive = last, False
        if len(chunk) < CHUNK:
            break
    return out[:limit]
