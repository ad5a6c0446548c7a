"""Placing each new article: exact copy, near-duplicate, or member of a story.

The batch flow (``monitor.app.batches``) inserts a poll's article rows and runs
extraction, then calls :func:`place_articles` for the whole batch and, per article,
:func:`mark_new_facts`, all in one transaction, and finally inserts each article's facts
with its ``story_id``. The decisions are the pure dedup stage's (``monitor.dedup``); the
rows are the store's (``monitor.store.story_rows``, ``story_index``, ``band_index``).

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

from sqlmodel import Session

from monitor.dedup import minhash, near, story, story_codec, story_members
from monitor.store import articles, story_index, story_rows
from monitor.store.band_index import BandIndex
from monitor.store.plain_sql import PlainSql
from monitor.values import Extraction, Fact

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


@dataclass(frozen=True, slots=True)
class Copy:
    """What the exact or near-duplicate level found: the article copies ``original``."""

    original: int
    similarity: float
    reason: dict[str, Any]


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


def place_article(
    session: Session, article_id: int, extraction: Extraction, *, now: datetime, window: timedelta
) -> Placement:
    """One article through :func:`place_articles`."""
    return place_articles(session, [(article_id, extraction)], now=now, window=window)[0]


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
    taken from each article's extraction, which the caller stores with the article.
    Placing an article already placed changes nothing and returns the recorded placement.
    """
    sql = PlainSql(session)
    pending = _read(sql, items, now)
    # The copy levels need nothing from the story level, so they run first for the batch.
    _find_copies(sql, pending)
    out: list[Placement] = []
    done: dict[int, Placement] = {}
    for p in pending:
        placed = p.recorded or done.get(p.article_id)
        if placed is None:
            placed = _place(sql, p, window)
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
    pending = _read(sql, [(a, none) for a in article_ids], datetime.now(UTC))
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
    index = BandIndex(sql, [(p.article_id, keys[p.article_id]) for p in todo])
    for p in todo:
        assert p.sig is not None
        aid, ks = p.article_id, keys[p.article_id]
        found = near.find_near(p.sig, p.text, index.candidates(aid, ks), index.texts, shingles[aid])
        index.add(aid, p.sig, ks, p.text)
        if found is not None:
            similarity = round(found.similarity, 4)
            p.copy_of = Copy(
                found.article_id,
                similarity,
                {
                    "level": "near-duplicate",
                    "duplicate_of": found.article_id,
                    "similarity": similarity,
                    "estimated": round(found.estimated, 4),
                    "verified": "exact shingles" if found.exact_checked else "signatures",
                },
            )
    index.flush()


def _read(sql: PlainSql, items: Sequence[tuple[int, Extraction]], now: datetime) -> list[_Pending]:
    rows = story_rows.read_articles(sql, [aid for aid, _ in items])
    out = []
    for article_id, extraction in items:
        r = rows.get(article_id)
        if r is None:
            raise LookupError(f"no article {article_id}")
        recorded = None
        if r.story_id is not None:
            was = r.join_reason
            recorded = Placement(
                article_id,
                r.story_id,
                str(was.get("level", "new")),
                new_story=bool(was.get("level") == "new"),
                duplicate_of=r.duplicate_of,
                similarity=r.similarity,
                reason=was,
            )
        long = len(r.text.split(None, MIN_WORDS)) > MIN_WORDS  # stops splitting early
        out.append(
            _Pending(
                article_id,
                extraction,
                r.title,
                r.text,
                r.sort_at or now,
                r.content_hash,
                r.same_hash if long else None,
                recorded,
                long=long,
            )
        )
    return out


def _place(sql: PlainSql, p: _Pending, window: timedelta) -> Placement:
    article_id, extraction, title, text, at = p.article_id, p.extraction, p.title, p.text, p.at
    duplicate_of: int | None = None
    similarity: float | None = None
    reason: dict[str, Any] = {"level": "new"}
    story_id: int | None = None
    member: story.ArticleProfile | None = None
    if p.copy_of is not None:
        duplicate_of, similarity = p.copy_of.original, p.copy_of.similarity
        reason = dict(p.copy_of.reason)
        story_id = story_rows.story_of(sql, duplicate_of)
    else:
        article = story.profile(title, text, extraction)
        stored = articles.as_stored(extraction)
        member = story_members.member_profile(
            title, text, stored, article if stored is extraction else None
        )
        found = _candidates(sql, article, extraction, at, window)
        matches = story.matching_stories(article, found) if found else []
        if matches:
            best = matches[0]
            reason, story_id = best.reason(), best.story_id
            bridged = [m.story_id for m in matches[1:] if m.basis in story.BRIDGING]
            if best.basis in story.BRIDGING and bridged:
                story_id = _merge_stories(sql, [best.story_id, *bridged], article_id)
                reason["merged"] = sorted({best.story_id, *bridged} - {story_id})

    new_story = story_id is None
    profile: dict[str, Any] | None = None
    members: story_members.Members | None = None
    if member is not None:  # an original: it represents its story from now on
        held = None if story_id is None else _held_members(sql, story_id)
        members = story_members.with_member(held, article_id, member)
        profile = story_members.union(members)
    elif story_id is None:  # a copy whose original has no story: no original member yet
        members = []
        profile = story_members.union(members)
    if story_id is None:
        story_id = story_rows.create_story(
            sql,
            title=title,
            main_entity=extraction.main_entity,
            article_id=article_id,
            at=at,
            profile=profile,
            members=members,
        )
    story_rows.write_placement(
        sql,
        article_id,
        story_id=story_id,
        duplicate_of=duplicate_of,
        similarity=similarity,
        reason=reason,
        signature=p.sig,
    )
    if not new_story:
        story_rows.join_story(
            sql,
            story_id,
            at=at,
            main_entity=extraction.main_entity,
            profile=profile,
            members=members,
        )
    story_index.add_keys(sql, story_id, article_id, story_members.fact_keys(extraction.facts))
    return Placement(
        article_id,
        story_id,
        str(reason["level"]),
        new_story=new_story,
        duplicate_of=duplicate_of,
        similarity=similarity,
        reason=reason,
    )


def _candidates(
    sql: PlainSql,
    article: story.ArticleProfile,
    extraction: Extraction,
    at: datetime,
    window: timedelta,
) -> list[story.StoryProfile]:
    """The profiles of the stories in the window that the article could join.

    An article with figures is compared with the stories holding one of them; one without
    can only join on a very similar title or lede, and is compared with the most recent
    stories of its main entity.
    """
    # Another main entity can still be the same story when many figures agree (an
    # extractor may pick another company as main in a market-wide rewrite): such stories
    # are found through the amounts of money the article states.
    money = [f.value for f in extraction.facts if f.unit == "money"]
    rows = story_index.candidates(
        sql,
        spans=story_members.figure_spans(article.figures),
        money=money if extraction.main_entity is not None else (),
        entity=extraction.main_entity,
        earliest=at - window,
        latest=at + window,
    )
    missing = [r.story_id for r in rows if r.profile is None]
    built = build_profiles(sql, missing) if missing else {}
    out = []
    for r in rows:
        d = r.profile if r.profile is not None else built.get(r.story_id)
        if d is not None:  # a story without original members has an empty profile
            out.append(story_codec.decode_story(r.story_id, r.main_entity, d))
    return out


def _merge_stories(sql: PlainSql, ids: list[int], bridge: int) -> int:
    """Fold stories into the oldest one (the id that alerts and digests most likely cite);
    the article ``bridge`` being placed joins it afterwards."""
    keep = min(ids)
    gone = sorted(set(ids) - {keep})
    joined = story_members.merged_members(_held_members(sql, sid) for sid in [keep, *gone])
    story_rows.fold_stories(sql, keep, gone, bridge)
    story_rows.set_profile(sql, keep, story_members.union(joined), joined)
    return keep


def _held_members(sql: PlainSql, story_id: int) -> story_members.Members:
    """The member profiles a story holds, built from its rows if it predates the index."""
    exists, held = story_rows.members_of(sql, story_id)
    if exists and held is None:
        build_profiles(sql, [story_id])
        held = story_rows.members_of(sql, story_id)[1]
    return list(held or [])


def build_profiles(sql: PlainSql, story_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Members and profile of stories that have none yet, from their articles' rows;
    stored, and returned by story id."""
    sources = story_rows.member_sources(
        sql,
        story_ids,
        per_story=story_members.MAX_MEMBERS_PROFILED,
        head_chars=story_members.LEDE_CHARS,
    )
    out: dict[int, dict[str, Any]] = {}
    for sid, group in sources.items():
        members: story_members.Members = [
            [m.article_id, story_codec.encode_article(story.profile(m.title, m.head, m.extraction))]
            for m in group
        ]
        profile = story_members.union(members)
        story_rows.set_profile(sql, sid, profile, members)
        out[sid] = profile
    return out


def mark_new_facts(session: Session, story_id: int, facts: Sequence[Fact]) -> list[bool]:
    """Which of ``facts`` the story did not hold yet (call before inserting them)."""
    values = [v for f in facts for _, _, v in story_members.amount_keys(f)]
    held = story_rows.facts_near(PlainSql(session), story_id, values) if values else []
    return story_members.new_flags(facts, held)
