"""Stories as the product shows them: the list with members, and one story explained.

Read-only views over the rows :mod:`monitor.store.stories` writes (issue 4, point 4).
"""

from __future__ import annotations

from collections.abc import Sequence
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


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.isoformat()


def _members(
    session: Session, story_ids: Sequence[int], *, detail: bool
) -> dict[int, list[dict[str, Any]]]:
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
            ARTICLE.c.sort_at,
            ARTICLE.c.join_reason,
        ]
    out: dict[int, list[dict[str, Any]]] = {sid: [] for sid in story_ids}
    rows = session.execute(
        sa.select(*cols)
        .join(SOURCE, SOURCE.c.id == ARTICLE.c.source_id, isouter=True)
        .where(ARTICLE.c.story_id.in_(list(story_ids)))
        .order_by(ARTICLE.c.sort_at, ARTICLE.c.id)
    )
    for r in rows:
        m: dict[str, Any] = {
            "id": r.id,
            "url": r.url,
            "title": r.title,
            "source": r.source,
            "ai_generated": bool(r.ai_generated),
            "duplicate_of": r.duplicate_of,
            "similarity": r.similarity,
        }
        if detail:
            m["agent"] = r.agent_name
            m["published_at"] = _iso(r.published_at)
            m["first_seen_at"] = _iso(r.first_seen_at)
            m["joined"] = _explain(r.join_reason or {})
            m["reason"] = r.join_reason
        out[int(r.story_id)].append(m)
    return out


def _explain(reason: dict[str, Any]) -> str:
    """One line an analyst can read: why this member is in the story."""
    level = reason.get("level")
    if level == "new":
        return "started the story"
    if level == "merged":
        return (
            f"started story {reason.get('started')}, merged into this one when article"
            f" {reason.get('bridged_by')} restated the figures of both"
        )
    if level == "exact":
        return f"exact copy of article {reason.get('duplicate_of')} (same normalised text)"
    if level == "near-duplicate":
        return (
            f"near-duplicate of article {reason.get('duplicate_of')}"
            f" (Jaccard {reason.get('similarity')}, verified by {reason.get('verified')})"
        )
    if level == "story":
        parts = []
        shared = reason.get("shared_facts") or []
        if shared:
            parts.append("shared facts " + ", ".join(str(p[0]) for p in shared))
        terms = reason.get("shared_terms") or []
        if terms:
            parts.append("terms " + ", ".join(terms))
        topics = reason.get("shared_topics") or []
        if topics:
            parts.append("topics " + ", ".join(topics))
        if reason.get("basis") in ("title", "lede"):
            parts.append(
                f"similar {reason['basis']} ({reason.get(reason['basis'] + '_similarity')})"
            )
        return "same story: " + ("; ".join(parts) if parts else str(reason.get("basis")))
    return "unknown"


def _story_dict(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "title": r.title,
        "main_entity": r.main_entity,
        "first_seen_at": _iso(r.first_seen_at),
        "last_seen_at": _iso(r.last_seen_at),
        "article_count": r.article_count,
        "canonical_article_id": r.canonical_article_id,
    }


def list_stories(session: Session, *, since: datetime | None, limit: int) -> list[dict[str, Any]]:
    """Newest stories first (by last seen), JSON-ready, each with its member articles."""
    q = sa.select(*_SHOWN).where(STORY.c.article_count > 0)  # not the emptied, merged ones
    if since is not None:
        q = q.where(STORY.c.last_seen_at >= since)
    rows = session.execute(
        q.order_by(STORY.c.last_seen_at.desc(), STORY.c.id.desc()).limit(limit)
    ).all()
    members = _members(session, [int(r.id) for r in rows], detail=False)
    out = []
    for r in rows:
        d = _story_dict(r)
        d["sources"] = len({m["source"] for m in members[int(r.id)]})
        d["members"] = members[int(r.id)]
        out.append(d)
    return out


def story_detail(session: Session, story_id: int) -> dict[str, Any] | None:
    """One story: its members with why each joined, and its facts marked new or restated."""
    r = session.execute(sa.select(*_SHOWN).where(STORY.c.id == story_id)).first()
    if r is None:
        return None
    d = _story_dict(r)
    members = _members(session, [story_id], detail=True)[story_id]
    d["sources"] = len({m["source"] for m in members})
    d["members"] = members
    d["facts"] = [
        {
            "article_id": f.article_id,
            "entity": f.entity,
            "metric": f.metric,
            "surface": f.surface,
            "value": f.value,
            "unit": f.unit,
            "currency": f.currency,
            "period": f.period,
            "new_to_story": bool(f.new_to_story),
        }
        for f in session.execute(
            sa.select(FACT).where(FACT.c.story_id == story_id).order_by(FACT.c.id)
        )
    ]
    return d
