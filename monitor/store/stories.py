"""Stories: placing each new article (exact, near-duplicate, same story) and listing them.

The pipeline inserts an article row, runs extraction, then calls :func:`place_article`
and :func:`mark_new_facts` in the same transaction, and finally inserts the article's
facts with its ``story_id``. Articles already stored are never rewritten except for the
dedup columns (``minhash``, ``duplicate_of``, ``similarity``, ``story_id``,
``join_reason``).

Story time is the news timeline: an article counts at its ``sort_at`` (published, clamped
to when it was first seen), so a story's window does not depend on when a batch was
ingested. ``now`` stands in for an article without one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Session

from monitor.dedup import minhash, story
from monitor.models import Article, FactRow, Mention, Source
from monitor.models import Story as StoryRow
from monitor.store.dedup_index import (
    PlainSql,
    add_to_index,
    exact_duplicate,
    find_near_duplicate,
)
from monitor.values import Extraction, Fact, TermHit, TopicHit

ARTICLE: sa.Table = Article.__table__  # type: ignore[attr-defined]
STORY: sa.Table = StoryRow.__table__  # type: ignore[attr-defined]
FACT: sa.Table = FactRow.__table__  # type: ignore[attr-defined]
MENTION: sa.Table = Mention.__table__  # type: ignore[attr-defined]
SOURCE: sa.Table = Source.__table__  # type: ignore[attr-defined]

# Below this many words a text is a title or a teaser: equal teasers are not one article,
# so only the same-story level applies.
MIN_WORDS = 12
MAX_STORY_CANDIDATES = 100  # most recent stories compared per article
MAX_MEMBERS_PROFILED = 30  # newest members whose titles and ledes represent a story
_LEDE_CHARS = 800  # enough text for LEDE_WORDS words


@dataclass(frozen=True, slots=True)
class Placement:
    article_id: int
    story_id: int
    level: str  # new | exact | near-duplicate | story
    new_story: bool
    duplicate_of: int | None = None
    similarity: float | None = None
    reason: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class _Types:
    """SQLAlchemy's own conversions for the timestamp and JSON columns, for plain SQL."""

    ts_in: Callable[[Any], Any]
    ts_out: Callable[[Any], Any]
    json_in: Callable[[Any], Any]
    json_out: Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


@lru_cache(maxsize=8)
def _types(dialect: Dialect) -> _Types:
    ts = ARTICLE.c.sort_at.type.dialect_impl(dialect)
    js = ARTICLE.c.join_reason.type.dialect_impl(dialect)
    return _Types(
        ts_in=ts.bind_processor(dialect) or _same,
        ts_out=ts.result_processor(dialect, None) or _same,
        json_in=js.bind_processor(dialect) or _same,
        json_out=js.result_processor(dialect, None) or _same,
    )


# Every statement of place_article is plain SQL on the session's DB-API cursor (see
# monitor.store.dedup_index): through SQLAlchemy Core each one costs ~0.4 ms of CPU on
# the reference machine, which made the statements, not the signatures, the bottleneck.
_READ = (
    "SELECT title, text, content_hash, sort_at, story_id, duplicate_of, similarity,"
    " join_reason FROM article WHERE id = %s"
)
_WRITE = (
    "UPDATE article SET duplicate_of = %s, similarity = %s, story_id = %s, join_reason = %s,"
    " minhash = COALESCE(%s, minhash) WHERE id = %s"
)
_NEW_STORY = (
    "INSERT INTO story (title, main_entity, canonical_article_id, first_seen_at,"
    " last_seen_at, article_count) VALUES (%s, %s, %s, %s, %s, 1) RETURNING id"
)
# Count, first/last seen and the canonical article (the earliest non-AI member if there
# is one, else the earliest; issue 4, point 4) in one statement.
_CANONICAL = "FROM article WHERE story_id = %s ORDER BY ai_generated, sort_at, id LIMIT 1"
_JOIN_STORY = (
    "UPDATE story SET article_count = article_count + 1,"
    " first_seen_at = CASE WHEN first_seen_at > %s THEN %s ELSE first_seen_at END,"
    " last_seen_at = CASE WHEN last_seen_at < %s THEN %s ELSE last_seen_at END,"
    f" canonical_article_id = (SELECT id {_CANONICAL}),"
    f" title = (SELECT COALESCE(title, '') {_CANONICAL}),"
    " main_entity = COALESCE(main_entity, %s) WHERE id = %s"
)


def place_article(
    session: Session,
    article_id: int,
    extraction: Extraction,
    *,
    now: datetime,
    window: timedelta,
) -> Placement:
    """Exact, then near-duplicate, then same story; writes the dedup columns and the story.

    Calling it again for an article already placed changes nothing and returns the
    recorded placement.
    """
    sql = PlainSql(session)
    types = _types(sql.dialect)
    found = sql.rows(_READ, (article_id,))
    if not found:
        raise LookupError(f"no article {article_id}")
    title, text, chash, sort_at, placed, dup, sim, why = found[0]
    if placed is not None:
        recorded: dict[str, Any] = types.json_out(why) or {}
        return Placement(
            article_id,
            int(placed),
            str(recorded.get("level", "new")),
            new_story=bool(recorded.get("level") == "new"),
            duplicate_of=dup,
            similarity=sim,
            reason=recorded,
        )
    at: datetime = types.ts_out(sort_at) or now
    title, text = title or "", text or ""

    duplicate_of: int | None = None
    similarity: float | None = None
    sig: bytes | None = None
    reason: dict[str, Any] = {"level": "new"}
    story_id: int | None = None
    if len(text.split(None, MIN_WORDS)) > MIN_WORDS:  # stops splitting early
        original = exact_duplicate(sql, article_id, chash)
        if original is not None:
            duplicate_of, similarity = original, 1.0
            reason = {"level": "exact", "duplicate_of": original}
        else:
            sig = minhash.signature(text)
            near = find_near_duplicate(sql, article_id, sig, text)
            add_to_index(sql, article_id, sig, write_signature=False)
            if near is not None:
                duplicate_of, similarity = near.article_id, round(near.similarity, 4)
                reason = {
                    "level": "near-duplicate",
                    "duplicate_of": near.article_id,
                    "similarity": similarity,
                    "estimated": round(near.estimated, 4),
                    "verified": "exact shingles" if near.exact_checked else "signatures",
                }
    if duplicate_of is not None:
        of = sql.rows("SELECT story_id FROM article WHERE id = %s", (duplicate_of,))
        story_id = int(of[0][0]) if of and of[0][0] is not None else None
    else:
        stories = _candidate_profiles(session, sql, extraction, at, window)
        # the article's own profile (wording included) only when there is something to
        # compare it with
        matches = (
            story.matching_stories(story.profile(title, text, extraction), stories)
            if stories
            else []
        )
        if matches:
            best = matches[0]
            reason, story_id = best.reason(), best.story_id
            bridged = [m.story_id for m in matches[1:] if m.basis in story.BRIDGING]
            if best.basis in story.BRIDGING and bridged:
                story_id = _merge_stories(sql, [best.story_id, *bridged], article_id)
                reason["merged"] = sorted({best.story_id, *bridged} - {story_id})

    new_story = story_id is None
    stamp = types.ts_in(at)
    if story_id is None:
        story_id = int(
            sql.rows(_NEW_STORY, (title, extraction.main_entity, article_id, stamp, stamp))[0][0]
        )
    sql.run(
        _WRITE,
        (duplicate_of, similarity, story_id, types.json_in(reason), sig, article_id),
    )
    if not new_story:
        sql.run(
            _JOIN_STORY,
            (stamp, stamp, stamp, stamp, story_id, story_id, extraction.main_entity, story_id),
        )
    return Placement(
        article_id,
        story_id,
        str(reason["level"]),
        new_story=new_story,
        duplicate_of=duplicate_of,
        similarity=similarity,
        reason=reason,
    )


_MERGE = (
    "UPDATE story SET article_count = (SELECT COUNT(*) FROM article WHERE story_id = %s),"
    " first_seen_at = (SELECT MIN(sort_at) FROM article WHERE story_id = %s),"
    " last_seen_at = (SELECT MAX(sort_at) FROM article WHERE story_id = %s),"
    f" canonical_article_id = (SELECT id {_CANONICAL}),"
    f" title = (SELECT COALESCE(title, '') {_CANONICAL}) WHERE id = %s"
)


def _merge_stories(sql: PlainSql, ids: list[int], bridge: int) -> int:
    """Fold stories into the oldest one (the id that alerts and digests most likely cite);
    the article ``bridge`` being placed joins it afterwards. The others keep their rows,
    empty, and the articles that had started them say so."""
    keep = min(ids)
    gone = sorted(set(ids) - {keep})
    marks = sql.marks(len(gone))
    types = _types(sql.dialect)
    founders = sql.rows(
        f"SELECT id, story_id, join_reason FROM article WHERE story_id IN ({marks})", gone
    )
    for aid, sid, why in founders:
        if (types.json_out(why) or {}).get("level") == "new":
            reason = {"level": "merged", "started": int(sid), "bridged_by": bridge}
            sql.run(
                "UPDATE article SET join_reason = %s WHERE id = %s", (types.json_in(reason), aid)
            )
    sql.run(f"UPDATE article SET story_id = %s WHERE story_id IN ({marks})", (keep, *gone))
    sql.run(f"UPDATE fact SET story_id = %s WHERE story_id IN ({marks})", (keep, *gone))
    # The emptied rows stay: ids are never reused (SQLite would hand a deleted id to the
    # next story), so an alert that cites one cannot come to point at another story.
    sql.run(f"UPDATE story SET article_count = 0 WHERE id IN ({marks})", gone)
    sql.run(_MERGE, (keep,) * 6)
    return keep


# ------------------------------------------------------------------ same-story candidates


_RECENT = (
    "SELECT id, main_entity FROM story WHERE last_seen_at >= %s AND first_seen_at <= %s"
    " AND article_count > 0 ORDER BY last_seen_at DESC LIMIT {limit}"
)
_RECENT_OF = (
    "SELECT id, main_entity FROM story WHERE last_seen_at >= %s AND first_seen_at <= %s"
    " AND (main_entity = %s OR main_entity IS NULL) AND article_count > 0"
    " ORDER BY last_seen_at DESC LIMIT {limit}"
)
# Another main entity can still be the same story when many figures agree (an extractor
# may pick another company as main in a market-wide rewrite): such stories are found
# through the amounts of money the article states.
_SAME_AMOUNTS = (
    "SELECT DISTINCT story.id, story.main_entity FROM story JOIN fact ON fact.story_id = story.id"
    " WHERE story.last_seen_at >= %s AND story.first_seen_at <= %s AND fact.unit = 'money'"
    " AND fact.value IN ({amounts}) LIMIT {limit}"
)


def _candidate_profiles(
    session: Session,
    sql: PlainSql,
    extraction: Extraction,
    at: datetime,
    window: timedelta,
) -> list[story.StoryProfile]:
    types = _types(sql.dialect)
    lo, hi = types.ts_in(at - window), types.ts_in(at + window)
    entity = extraction.main_entity
    limit = MAX_STORY_CANDIDATES
    if entity is None:
        rows = sql.rows(_RECENT.format(limit=limit), (lo, hi))
    else:
        rows = sql.rows(_RECENT_OF.format(limit=limit), (lo, hi, entity))
    found: dict[int, str | None] = {int(sid): ent for sid, ent in rows}
    amounts = sorted({f.value for f in extraction.facts if f.unit == "money"})
    if entity is not None and amounts:
        q = _SAME_AMOUNTS.format(amounts=sql.marks(len(amounts)), limit=limit)
        for sid, ent in sql.rows(q, (lo, hi, *amounts)):
            found.setdefault(int(sid), ent)
    if not found:
        return []
    return _profiles(session, found)


_HEADS = (
    sa.select(
        ARTICLE.c.id,
        ARTICLE.c.story_id,
        ARTICLE.c.title,
        sa.func.substr(ARTICLE.c.text, 1, _LEDE_CHARS).label("head"),
    )
    .where(
        ARTICLE.c.story_id.in_(sa.bindparam("sids", expanding=True)),
        ARTICLE.c.duplicate_of.is_(None),
    )
    .order_by(ARTICLE.c.id.desc())
)
_MEMBER_FACTS = sa.select(
    FACT.c.article_id,
    FACT.c.entity,
    FACT.c.metric,
    FACT.c.value,
    FACT.c.unit,
    FACT.c.currency,
    FACT.c.surface,
    FACT.c.quote,
    FACT.c.span_start,
    FACT.c.span_end,
    FACT.c.confidence,
    FACT.c.alt_value,
    FACT.c.alt_currency,
).where(FACT.c.article_id.in_(sa.bindparam("aids", expanding=True)))
_MEMBER_MENTIONS = sa.select(
    MENTION.c.article_id, MENTION.c.kind, MENTION.c.name, MENTION.c.value
).where(MENTION.c.article_id.in_(sa.bindparam("aids", expanding=True)))


def _profiles(session: Session, stories: dict[int, str | None]) -> list[story.StoryProfile]:
    """Rebuild each story's profile from its newest original members.

    Copies (exact or near-duplicate) are left out: they restate their original's text and
    facts, and a story syndicated a hundred times would otherwise be re-read a hundred times
    for every new article.
    """
    heads: dict[int, list[Any]] = {sid: [] for sid in stories}
    for r in session.execute(_HEADS, {"sids": list(stories)}):
        group = heads[int(r.story_id)]
        if len(group) < MAX_MEMBERS_PROFILED:
            group.append(r)
    aids = [int(r.id) for group in heads.values() for r in group]
    if not aids:
        return []
    facts: dict[int, list[Fact]] = {}
    for r in session.execute(_MEMBER_FACTS, {"aids": aids}):
        facts.setdefault(int(r.article_id), []).append(
            Fact(
                entity=r.entity,
                metric=r.metric,
                value=r.value,
                unit=r.unit,
                surface=r.surface,
                quote=r.quote,
                span=(r.span_start, r.span_end),
                confidence=r.confidence,
                currency=r.currency,
                alt_value=r.alt_value,
                alt_currency=r.alt_currency,
            )
        )
    terms: dict[int, list[TermHit]] = {}
    topics: dict[int, list[TopicHit]] = {}
    for r in session.execute(_MEMBER_MENTIONS, {"aids": aids}):
        aid = int(r.article_id)
        if r.kind == "term":
            terms.setdefault(aid, []).append(TermHit(r.name, r.value, "", (0, 0)))
        elif r.kind == "topic":
            topics.setdefault(aid, []).append(TopicHit(r.name, r.value, "", (0, 0)))
    out = []
    for sid, group in heads.items():
        if not group:
            continue
        members = [
            story.profile(
                r.title or "",
                r.head or "",
                _extraction(int(r.id), stories[sid], facts, terms, topics),
            )
            for r in group
        ]
        out.append(story.story_profile(sid, stories[sid], members))
    return out


def _extraction(
    aid: int,
    entity: str | None,
    facts: dict[int, list[Fact]],
    terms: dict[int, list[TermHit]],
    topics: dict[int, list[TopicHit]],
) -> Extraction:
    return Extraction(
        main_entity=entity,
        facts=tuple(facts.get(aid, ())),
        terms=tuple(terms.get(aid, ())),
        topics=tuple(topics.get(aid, ())),
    )


# ----------------------------------------------------------------------------- new facts


def _same_fact(f: Fact, g: Fact) -> bool:
    """The story already holds this figure: same unit and amount (in either currency of a
    two-currency pair), and no disagreement on entity or metric where both are known."""
    if f.unit != g.unit:
        return False
    if f.entity and g.entity and f.entity != g.entity:
        return False
    if f.metric and g.metric and f.metric != g.metric:
        return False
    mine = {(f.currency, f.value)}
    if f.alt_value is not None:
        mine.add((f.alt_currency, f.alt_value))
    theirs = {(g.currency, g.value)}
    if g.alt_value is not None:
        theirs.add((g.alt_currency, g.alt_value))
    return any(
        c1 == c2 and abs(v1 - v2) <= 1e-9 * max(1.0, abs(v1))
        for c1, v1 in mine
        for c2, v2 in theirs
    )


def _keys(f: Fact) -> list[tuple[str, str | None, float]]:
    keys = [(f.unit, f.currency, round(float(f.value), 6))]
    if f.alt_value is not None:
        keys.append((f.unit, f.alt_currency, round(float(f.alt_value), 6)))
    return keys


_HELD = (
    sa.select(
        FACT.c.entity,
        FACT.c.metric,
        FACT.c.value,
        FACT.c.unit,
        FACT.c.currency,
        FACT.c.alt_value,
        FACT.c.alt_currency,
    )
    .where(FACT.c.story_id == sa.bindparam("sid"))
    .distinct()
)


def mark_new_facts(session: Session, story_id: int, facts: Sequence[Fact]) -> list[bool]:
    """Which of ``facts`` the story did not hold yet (call before inserting them).

    A figure restated by a rewrite is not new; a different value for the same thing ("$52
    billion" where the story said "$53 billion") is, so that digests show the conflict.
    A figure repeated within the article counts as new once.
    """
    held: dict[tuple[str, str | None, float], list[Fact]] = {}

    def hold(f: Fact) -> None:
        for k in _keys(f):
            held.setdefault(k, []).append(f)

    for r in session.execute(_HELD, {"sid": story_id}):
        hold(
            Fact(
                entity=r.entity,
                metric=r.metric,
                value=r.value,
                unit=r.unit,
                surface="",
                quote="",
                span=(0, 0),
                confidence=1.0,
                currency=r.currency,
                alt_value=r.alt_value,
                alt_currency=r.alt_currency,
            )
        )
    out: list[bool] = []
    for f in facts:
        new = not any(_same_fact(f, g) for k in _keys(f) for g in held.get(k, ()))
        out.append(new)
        hold(f)
    return out


# ------------------------------------------------------------------------------- listing


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
    q = sa.select(STORY).where(STORY.c.article_count > 0)  # not the emptied, merged ones
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
    r = session.execute(sa.select(STORY).where(STORY.c.id == story_id)).first()
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
