"""Stories as the product shows them: the list with members, and one story in detail.

Read-only views over the rows placement writes (issue 4, point 4), as typed read models
whose fields are the keys of ``monitor stories --json``. Why a member joined is stored as
the dedup stage's reason; putting it into words is the application's
(``monitor.app.stories``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from monitor.models import Article, FactRow, Source
from monitor.models import Story as StoryRow

ARTICLE: sa.Table = Article.__table__  # type: ignore[attr-defined]
STORY: sa.Table = StoryRow.__table__  # type: ignore[attr-defined]
FACT: sa.Table = FactRow.__table__  # type: ignore[attr-defined]
SOURCE: sa.Table = Source.__table__  # type: ignore[attr-defined]
# the matcher's profile columns are large and of no use to a reader
_SHOWN = [c for c in STORY.c if c.name not in ("profile", "members")]


@dataclass(frozen=True, slots=True)
class Member:
    id: int
    url: str
    title: str
    source: str | None
    ai_generated: bool
    duplicate_of: int | None
    similarity: float | None


@dataclass(frozen=True, slots=True)
class MemberDetail(Member):
    agent: str | None = None
    published_at: datetime | None = None
    first_seen_at: datetime | None = None
    joined: str = ""  # the reason in words, filled by the application
    reason: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class StoryFact:
    article_id: int
    entity: str | None
    metric: str | None
    surface: str
    value: float
    unit: str
    currency: str | None
    period: str | None
    new_to_story: bool


@dataclass(frozen=True, slots=True)
class StoryView:
    id: int
    title: str
    main_entity: str | None
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    article_count: int
    canonical_article_id: int | None
    sources: int
    members: list[Member] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StoryDetail(StoryView):
    facts: list[StoryFact] = field(default_factory=list)


def _members(
    session: Session, story_ids: Sequence[int], *, detail: bool, each: int | None = None
) -> dict[int, list[Any]]:
    """The member articles of each story, oldest first; with ``each``, the first ``each``
    of each story only (a story told 300,000 times is read in part, not whole)."""
    cols = [
        ARTICLE.c.id,
        ARTICLE.c.story_id,
        ARTICLE.c.url,
        ARTICLE.c.title,
        SOURCE.c.name.label("source"),
        ARTICLE.c.ai_generated,
        ARTICLE.c.duplicate_of,
        ARTICLE.c.similarity,
    ]
    if detail:
        cols += [
            ARTICLE.c.agent_name,
            ARTICLE.c.published_at,
            ARTICLE.c.first_seen_at,
            ARTICLE.c.join_reason,
        ]
    out: dict[int, list[Any]] = {sid: [] for sid in story_ids}
    ids = list(story_ids)
    if each is not None and len(ids) == 1:
        # one story (its page): a LIMIT reads those rows from the index alone, where
        # numbering its members would read all 300,000 of them
        wanted = ARTICLE.c.id.in_(
            sa.select(ARTICLE.c.id)
            .where(ARTICLE.c.story_id == ids[0])
            .order_by(ARTICLE.c.sort_at, ARTICLE.c.id)
            .limit(each)
            .scalar_subquery()
        )
    elif each is not None:
        rank = (
            sa.select(
                ARTICLE.c.id,
                sa.func.row_number()
                .over(partition_by=ARTICLE.c.story_id, order_by=(ARTICLE.c.sort_at, ARTICLE.c.id))
                .label("n"),
            )
            .where(ARTICLE.c.story_id.in_(ids))
            .subquery()
        )
        wanted = ARTICLE.c.id.in_(sa.select(rank.c.id).where(rank.c.n <= each))
    else:
        wanted = ARTICLE.c.story_id.in_(ids)
    rows = session.execute(
        sa.select(*cols)
        .join(SOURCE, SOURCE.c.id == ARTICLE.c.source_id, isouter=True)
        .where(wanted)
        .order_by(ARTICLE.c.sort_at, ARTICLE.c.id)
    )
    for r in rows:
        common = (r.id, r.url, r.title, r.source, bool(r.ai_generated), r.duplicate_of)
        m: Member
        if detail:
            m = MemberDetail(
                *common,
                r.similarity,
                agent=r.agent_name,
                published_at=r.published_at,
                first_seen_at=r.first_seen_at,
                reason=r.join_reason,
            )
        else:
            m = Member(*common, r.similarity)
        out[int(r.story_id)].append(m)
    return out


def _fields(r: Any, members: list[Any], sources: int | None = None) -> dict[str, Any]:
    return {
        "id": r.id,
        "title": r.title,
        "main_entity": r.main_entity,
        "first_seen_at": r.first_seen_at,
        "last_seen_at": r.last_seen_at,
        "article_count": r.article_count,
        "canonical_article_id": r.canonical_article_id,
        "sources": len({m.source for m in members}) if sources is None else sources,
        "members": members,
    }


def list_stories(
    session: Session, *, since: datetime | None, limit: int, members: int | None = None
) -> list[StoryView]:
    """Newest stories first (by last seen), each with its member articles (the first
    ``members`` of each, when given). ``since`` is the story's last-seen time (its newest
    article's date)."""
    q = sa.select(*_SHOWN).where(STORY.c.article_count > 0)  # not the emptied, merged ones
    if since is not None:
        q = q.where(STORY.c.last_seen_at >= since)
    rows = session.execute(
        q.order_by(STORY.c.last_seen_at.desc(), STORY.c.id.desc()).limit(limit)
    ).all()
    found = _members(session, [int(r.id) for r in rows], detail=False, each=members)
    return [
        StoryView(**_fields(r, found[int(r.id)], _sources(session, r, found[int(r.id)])))
        for r in rows
    ]


def _sources(session: Session, story: Any, members: list[Any]) -> int | None:
    """How many sources told the story, when its members were read in part (else the
    members say: None)."""
    if len(members) >= (story.article_count or 0):
        return None
    return int(
        session.execute(
            sa.select(sa.func.count(sa.distinct(ARTICLE.c.source_id))).where(
                ARTICLE.c.story_id == story.id
            )
        ).scalar_one()
    )


def story_detail(
    session: Session, story_id: int, *, members: int | None = None, facts: int | None = None
) -> StoryDetail | None:
    """One story: its members with why each joined, and its facts marked new or restated;
    the first ``members`` and ``facts`` of them when given (0 facts: none read)."""
    r = session.execute(sa.select(*_SHOWN).where(STORY.c.id == story_id)).first()
    if r is None:
        return None
    found = _members(session, [story_id], detail=True, each=members)[story_id]
    if facts == 0:
        return StoryDetail(**_fields(r, found, _sources(session, r, found)))
    wanted = sa.select(FACT).where(FACT.c.story_id == story_id).order_by(FACT.c.id)
    shown = [
        StoryFact(
            article_id=f.article_id,
            entity=f.entity,
            metric=f.metric,
            surface=f.surface,
            value=f.value,
            unit=f.unit,
            currency=f.currency,
            period=f.period,
            new_to_story=bool(f.new_to_story),
        )
        for f in session.execute(wanted if facts is None else wanted.limit(facts))
    ]
    return StoryDetail(**_fields(r, found, _sources(session, r, found)), facts=shown)


@dataclass(frozen=True, slots=True)
class StorySummary(StoryView):
    """A story as the web view's overview lists it, without its members: who told it
    (``sources``), and how many of those only through AI-written articles (the digest's
    count, ``digest_reads.StoryRead``)."""

    ai_only_sources: int = 0


def story_page(
    session: Session, *, before: tuple[datetime, int] | None, limit: int
) -> list[StorySummary]:
    """One page of stories, newest first (by last seen); ``before`` is the (last seen, id)
    of the previous page's last story: a page costs the same however deep it is."""
    q = sa.select(*_SHOWN).where(STORY.c.article_count > 0)
    if before is not None:
        at, sid = before
        q = q.where(
            sa.or_(
                STORY.c.last_seen_at < at,
                sa.and_(STORY.c.last_seen_at == at, STORY.c.id < sid),
            )
        )
    rows = session.execute(
        q.order_by(STORY.c.last_seen_at.desc(), STORY.c.id.desc()).limit(limit)
    ).all()
    ids = [int(r.id) for r in rows]
    # per story and source: does the source tell it only in AI-written articles?
    told: dict[int, dict[int, bool]] = {sid: {} for sid in ids}
    if ids:
        for sid, source_id, human in session.execute(
            sa.select(
                ARTICLE.c.story_id,
                ARTICLE.c.source_id,
                sa.func.max(sa.case((ARTICLE.c.ai_generated, 0), else_=1)),
            )
            .where(ARTICLE.c.story_id.in_(ids))
            .group_by(ARTICLE.c.story_id, ARTICLE.c.source_id)
        ):
            told[int(sid)][int(source_id)] = not human
    return [
        StorySummary(
            **{**_fields(r, []), "sources": len(told[int(r.id)])},
            ai_only_sources=sum(told[int(r.id)].values()),
        )
        for r in rows
    ]
