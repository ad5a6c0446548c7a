"""Stories: placing each new article (exact, near-duplicate, same story).

The pipeline inserts a poll's article rows and runs extraction, then calls
:func:`place_articles` for the whole batch and, per article, :func:`mark_new_facts`, all in
one transaction, and finally inserts each article's facts with its ``story_id``. Articles
already stored are never rewritten except for the dedup columns (``minhash``,
``duplicate_of``, ``similarity``, ``story_id``, ``join_reason``). The stories a new article
is compared with come from the same-story index (:mod:`monitor.store.story_index`), which
placing keeps up to date; listing and showing stories is :mod:`monitor.store.story_views`.

Story time is the news timeline: an article counts at its ``sort_at`` (published, clamped
to when it was first seen), so a story's window does not depend on when a batch was
ingested. ``now`` stands in for an article without one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from monitor.dedup import minhash, story
from monitor.models import Article, FactRow
from monitor.models import Story as StoryRow
from monitor.store import story_index
from monitor.store.dedup_index import BatchIndex, PlainSql
from monitor.store.story_index import types as _types
from monitor.store.story_views import list_stories, story_detail
from monitor.values import Extraction, Fact

__all__ = [
    "Copy",
    "Placement",
    "find_copies",
    "list_stories",
    "mark_new_facts",
    "place_article",
    "place_articles",
    "story_detail",
]

ARTICLE: sa.Table = Article.__table__  # type: ignore[attr-defined]
STORY: sa.Table = StoryRow.__table__  # type: ignore[attr-defined]
FACT: sa.Table = FactRow.__table__  # type: ignore[attr-defined]

# Below this many words a text is a title or a teaser: equal teasers are not one article,
# so only the same-story level applies.
MIN_WORDS = 12


@dataclass(frozen=True, slots=True)
class Placement:
    article_id: int
    story_id: int
    level: str  # new | exact | near-duplicate | story
    new_story: bool
    duplicate_of: int | None = None
    similarity: float | None = None
    reason: dict[str, Any] | None = None


# Every statement of place_article is plain SQL on the session's DB-API cursor (see
# monitor.store.dedup_index): through SQLAlchemy Core each one costs ~0.4 ms of CPU on
# the reference machine, which made the statements, not the signatures, the bottleneck.
# The articles, each with the earliest other placed article with the same normalised-text
# hash, in one statement.
_READ = (
    "SELECT a.id, a.title, a.text, a.sort_at, a.story_id, a.duplicate_of, a.similarity,"
    " a.join_reason, a.content_hash, (SELECT o.id FROM article o WHERE o.content_hash ="
    " a.content_hash AND o.id <> a.id AND o.story_id IS NOT NULL ORDER BY o.id LIMIT 1)"
    " FROM article a WHERE a.id IN ({})"
)
_WRITE = (
    "UPDATE article SET duplicate_of = %s, similarity = %s, story_id = %s, join_reason = %s,"
    " minhash = COALESCE(%s, minhash) WHERE id = %s"
)
_NEW_STORY = (
    "INSERT INTO story (title, main_entity, canonical_article_id, first_seen_at,"
    " last_seen_at, article_count, profile, members) VALUES (%s, %s, %s, %s, %s, 1, %s, %s)"
    " RETURNING id"
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
    " main_entity = COALESCE(main_entity, %s),"
    " profile = COALESCE(%s, profile), members = COALESCE(%s, members) WHERE id = %s"
)


def place_article(
    session: Session,
    article_id: int,
    extraction: Extraction,
    *,
    now: datetime,
    window: timedelta,
) -> Placement:
    """One article through :func:`place_articles`."""
    return place_articles(session, [(article_id, extraction)], now=now, window=window)[0]


@dataclass(slots=True)
class _Pending:
    """An article of the batch on its way: what is known before its turn comes."""

    article_id: int
    extraction: Extraction
    title: str
    text: str
    at: datetime
    content_hash: str
    original: int | None  # earliest placed article with the same hash, before this batch
    recorded: Placement | None  # already placed before this call
    long: bool  # enough words for the exact and near levels
    sig: bytes | None = None  # written with the other dedup columns
    copy_of: Copy | None = None


@dataclass(frozen=True, slots=True)
class Copy:
    """What the exact or near-duplicate level found: the article copies ``original``."""

    original: int
    similarity: float
    reason: dict[str, Any]


def place_articles(
    session: Session,
    items: Sequence[tuple[int, Extraction]],
    *,
    now: datetime,
    window: timedelta,
) -> list[Placement]:
    """Exact, then near-duplicate, then same story, for each article in order; writes the
    dedup columns, the band keys and the stories.

    The result is the same as placing the articles one after another: a later article of
    the batch can be a copy of an earlier one. The story's profile and figure keys are
    taken from each article's extraction, which the caller stores with the article
    (monitor.pipeline). Placing an article already placed changes nothing and returns the
    recorded placement.
    """
    sql = PlainSql(session)
    types = _types(sql.dialect)
    pending = _read(sql, types, items, now)
    # The copy levels need nothing from the story level, so they run first for the batch.
    _find_copies(sql, pending)
    out: list[Placement] = []
    done: dict[int, Placement] = {}
    for p in pending:
        placed = p.recorded or done.get(p.article_id)
        if placed is None:
            placed = _place(sql, types, p, window)
            done[p.article_id] = placed
            gone = set((placed.reason or {}).get("merged", ()))
            if gone:  # earlier articles of the batch moved with their stories
                out = [
                    dataclasses.replace(o, story_id=placed.story_id) if o.story_id in gone else o
                    for o in out
                ]
                done = {o.article_id: o for o in out} | {p.article_id: placed}
        out.append(placed)
    return out


def find_copies(session: Session, article_ids: Sequence[int]) -> dict[int, bytes | Copy | None]:
    """The exact and near-duplicate levels alone, for a batch of unplaced articles.

    Writes the band keys of the articles that are not exact copies, as
    :func:`place_articles` does, and returns each article's copy, or its signature (which
    :func:`place_articles` writes to the article row with the other dedup columns), or
    None for a text too short for these levels. The benchmark measures the index with it.
    """
    sql = PlainSql(session)
    none = Extraction(main_entity=None)
    # the time matters only to the story level
    pending = _read(sql, _types(sql.dialect), [(a, none) for a in article_ids], datetime.now(UTC))
    _find_copies(sql, pending)
    return {p.article_id: p.copy_of or p.sig for p in pending}


def _find_copies(sql: PlainSql, pending: Sequence[_Pending]) -> None:
    """Exact copies by normalised-text hash, then near-duplicates through the band index,
    in batch order; the band keys are written at the end."""
    # The first article of each hash is the original of the batch's later ones (an
    # original placed before the batch has a smaller id and wins).
    first_of: dict[str, int] = {}
    keys: dict[int, Sequence[int]] = {}
    shingles: dict[int, Any] = {}
    todo: list[_Pending] = []
    for p in pending:
        if p.recorded is not None or not p.long or p.article_id in keys:
            continue
        if p.original is None and p.content_hash in first_of:
            p.original = first_of[p.content_hash]
        first_of.setdefault(p.content_hash, p.article_id)
        if p.original is not None:
            p.copy_of = Copy(p.original, 1.0, {"level": "exact", "duplicate_of": p.original})
            keys[p.article_id] = ()
            continue
        # the shingles behind the signature also serve the exact check of candidates
        shingles[p.article_id] = sh = minhash.shingles(p.text)
        p.sig = minhash.signature_of(sh)
        keys[p.article_id] = minhash.band_keys(p.sig)
        todo.append(p)
    index = BatchIndex(sql, [(p.article_id, keys[p.article_id]) for p in todo])
    for p in todo:
        assert p.sig is not None
        aid, ks = p.article_id, keys[p.article_id]
        near = index.find(aid, p.sig, ks, p.text, shingles[aid])
        index.add(aid, p.sig, ks, p.text)
        if near is not None:
            similarity = round(near.similarity, 4)
            p.copy_of = Copy(
                near.article_id,
                similarity,
                {
                    "level": "near-duplicate",
                    "duplicate_of": near.article_id,
                    "similarity": similarity,
                    "estimated": round(near.estimated, 4),
                    "verified": "exact shingles" if near.exact_checked else "signatures",
                },
            )
    index.flush()


def _read(
    sql: PlainSql, types: Any, items: Sequence[tuple[int, Extraction]], now: datetime
) -> list[_Pending]:
    ids = sorted({aid for aid, _ in items})
    rows: dict[int, Any] = {}
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        for r in sql.rows(_READ.format(sql.marks(len(part))), part):
            rows[int(r[0])] = r
    out = []
    for article_id, extraction in items:
        if article_id not in rows:
            raise LookupError(f"no article {article_id}")
        _, title, text, sort_at, placed, dup, sim, why, chash, same_hash = rows[article_id]
        recorded = None
        if placed is not None:
            was: dict[str, Any] = types.json_out(why) or {}
            recorded = Placement(
                article_id,
                int(placed),
                str(was.get("level", "new")),
                new_story=bool(was.get("level") == "new"),
                duplicate_of=dup,
                similarity=sim,
                reason=was,
            )
        text = text or ""
        long = len(text.split(None, MIN_WORDS)) > MIN_WORDS  # stops splitting early
        out.append(
            _Pending(
                article_id,
                extraction,
                title or "",
                text,
                types.ts_out(sort_at) or now,
                chash,
                None if same_hash is None or not long else int(same_hash),
                recorded,
                long=long,
            )
        )
    return out


def _place(sql: PlainSql, types: Any, p: _Pending, window: timedelta) -> Placement:
    article_id, extraction, title, text, at = p.article_id, p.extraction, p.title, p.text, p.at
    duplicate_of: int | None = None
    similarity: float | None = None
    reason: dict[str, Any] = {"level": "new"}
    story_id: int | None = None
    member: story.ArticleProfile | None = None
    if p.copy_of is not None:
        duplicate_of, similarity = p.copy_of.original, p.copy_of.similarity
        reason = dict(p.copy_of.reason)
    if duplicate_of is not None:
        of = sql.rows("SELECT story_id FROM article WHERE id = %s", (duplicate_of,))
        story_id = int(of[0][0]) if of and of[0][0] is not None else None
    else:
        article = story.profile(title, text, extraction)
        member = story_index.member_profile(title, text, extraction, article)
        stories = story_index.candidates(sql, article, extraction, at, window)
        matches = story.matching_stories(article, stories) if stories else []
        if matches:
            best = matches[0]
            reason, story_id = best.reason(), best.story_id
            bridged = [m.story_id for m in matches[1:] if m.basis in story.BRIDGING]
            if best.basis in story.BRIDGING and bridged:
                story_id = _merge_stories(sql, [best.story_id, *bridged], article_id)
                reason["merged"] = sorted({best.story_id, *bridged} - {story_id})

    new_story = story_id is None
    stamp = types.ts_in(at)
    profile: Any = None
    members: Any = None
    if member is not None:  # an original: it represents its story from now on
        held = None if story_id is None else _held_members(sql, story_id)
        joined = story_index.with_member(held, article_id, member)
        profile, members = types.json_in(story_index.union(joined)), types.json_in(joined)
    elif story_id is None:  # a copy whose original has no story: no original member yet
        profile, members = types.json_in(story_index.union([])), types.json_in([])
    if story_id is None:
        story_id = int(
            sql.rows(
                _NEW_STORY,
                (title, extraction.main_entity, article_id, stamp, stamp, profile, members),
            )[0][0]
        )
    sql.run(
        _WRITE,
        (duplicate_of, similarity, story_id, types.json_in(reason), p.sig, article_id),
    )
    if not new_story:
        sql.run(
            _JOIN_STORY,
            (stamp, stamp, stamp, stamp, story_id, story_id, extraction.main_entity, profile,
             members, story_id),
        )  # fmt: skip
    story_index.add_keys(sql, story_id, article_id, extraction.facts)
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
    sql.run(f"UPDATE story_key SET story_id = %s WHERE story_id IN ({marks})", (keep, *gone))
    joined = story_index.merged_members(_held_members(sql, sid) for sid in [keep, *gone])
    sql.run(f"UPDATE story SET profile = NULL, members = NULL WHERE id IN ({marks})", gone)
    sql.run(
        "UPDATE story SET profile = %s, members = %s WHERE id = %s",
        (types.json_in(story_index.union(joined)), types.json_in(joined), keep),
    )
    # The emptied rows stay: ids are never reused (SQLite would hand a deleted id to the
    # next story), so an alert that cites one cannot come to point at another story.
    sql.run(f"UPDATE story SET article_count = 0 WHERE id IN ({marks})", gone)
    sql.run(_MERGE, (keep,) * 6)
    return keep


def _held_members(sql: PlainSql, story_id: int) -> story_index.Members:
    """The member profiles a story holds, built from its rows if it predates the index."""
    types = _types(sql.dialect)
    got = sql.rows("SELECT members FROM story WHERE id = %s", (story_id,))
    held = types.json_out(got[0][0]) if got else None
    if held is None and got:
        story_index.build_profiles(sql, [story_id])
        held = types.json_out(
            sql.rows("SELECT members FROM story WHERE id = %s", (story_id,))[0][0]
        )
    return list(held or [])


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


# Only the story's facts that can share a key with one of the article's (round(value, 6)
# of either amount) are read: a long-running story holds thousands of facts.
_HELD = (
    "SELECT DISTINCT entity, metric, value, unit, currency, alt_value, alt_currency FROM fact"
    " WHERE story_id = %s AND ({near})"
)
_NEAR = "value BETWEEN %s AND %s OR alt_value BETWEEN %s AND %s"
_HELD_CHUNK = 100  # values per statement


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

    values = sorted({v for f in facts for _, _, v in _keys(f)})
    sql = PlainSql(session) if values else None
    for start in range(0, len(values), _HELD_CHUNK):
        assert sql is not None
        part = values[start : start + _HELD_CHUNK]
        params: list[Any] = [story_id]
        for v in part:
            # wider than round(., 6) can bridge; _keys and _same_fact decide below
            d = 2e-6 + 1e-9 * abs(v)
            params += [v - d, v + d, v - d, v + d]
        near = " OR ".join([_NEAR] * len(part))
        for entity, metric, value, unit, cur, alt_v, alt_c in sql.rows(
            _HELD.format(near=near), params
        ):
            hold(
                Fact(
                    entity=entity,
                    metric=metric,
                    value=value,
                    unit=unit,
                    surface="",
                    quote="",
                    span=(0, 0),
                    confidence=1.0,
                    currency=cur,
                    alt_value=alt_v,
                    alt_currency=alt_c,
                )
            )
    out: list[bool] = []
    for f in facts:
        new = not any(_same_fact(f, g) for k in _keys(f) for g in held.get(k, ()))
        out.append(new)
        hold(f)
    return out
