"""Facts as the web view pages through them: filtered, newest first, one page at a time.

``monitor facts`` lists in article order from the oldest (``articles.list_facts``); an
analyst searching wants the newest first, with the article's date and whether an AI
wrote it. Pages are keyset pages: the next one starts after the (article date, fact id)
of the last row shown, so page 1,000 costs what page 1 does.
"""

from __future__ import annotations

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
    limit: int = 50,
) -> list[FactHit]:
    """Facts newest first (article date, then id). ``period`` matches the stated period
    case-insensitively as a part ("2025" finds "FY2025" and "Q3 2025"); ``since`` and
    ``until`` bound the article's date, ``until`` excluded."""
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
    if since is not None:
        q = q.where(col(Article.sort_at) >= since)
    if until is not None:
        q = q.where(col(Article.sort_at) < until)
    if before is not None:
        at, fid = before
        q = q.where(
            (col(Article.sort_at) < at) | ((col(Article.sort_at) == at) & (col(FactRow.id) < fid))
        )
    q = q.order_by(col(Article.sort_at).desc(), col(FactRow.id).desc()).limit(limit)
    out = []
    for fact, url, title, source, at, ai, agent in session.execute(q).all():
        out.append(FactHit(fact_view(fact, url, title, source), at, bool(ai), agent))
    return out
