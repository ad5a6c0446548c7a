"""Story rows and the dedup columns of articles, as placing a batch reads and writes them.

What to do with each article is decided above the store (``monitor.app.placement``); this
module runs its statements. They are plain SQL on the session's cursor
(``monitor.store.plain_sql``). Articles already stored are never rewritten except for
the dedup columns (``minhash``, ``duplicate_of``, ``similarity``, ``story_id``,
``join_reason``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.store.plain_sql import PlainSql, chunks
from monitor.values import Extraction, Fact, TermHit, TopicHit


@dataclass(frozen=True, slots=True)
class ArticleForPlacement:
    """An article's row as placement needs it, with the earliest other placed article
    that has the same normalised-text hash."""

    id: int
    title: str
    text: str
    sort_at: datetime | None
    story_id: int | None  # not None: already placed
    duplicate_of: int | None
    similarity: float | None
    join_reason: dict[str, Any]
    content_hash: str
    same_hash: int | None


_READ = (
    "SELECT a.id, a.title, a.text, a.sort_at, a.story_id, a.duplicate_of, a.similarity,"
    " a.join_reason, a.content_hash, (SELECT o.id FROM article o WHERE o.content_hash ="
    " a.content_hash AND o.id <> a.id AND o.story_id IS NOT NULL ORDER BY o.id LIMIT 1)"
    " FROM article a WHERE a.id IN ({})"
)


def read_articles(sql: PlainSql, ids: Sequence[int]) -> dict[int, ArticleForPlacement]:
    t = sql.types
    out: dict[int, ArticleForPlacement] = {}
    for part in chunks(sorted(set(ids))):
        for r in sql.rows(_READ.format(sql.marks(len(part))), part):
            aid, title, text, sort_at, placed, dup, sim, why, chash, same = r
            out[int(aid)] = ArticleForPlacement(
                int(aid),
                title or "",
                text or "",
                t.ts_out(sort_at),
                None if placed is None else int(placed),
                dup,
                sim,
                t.json_out(why) or {},
                chash,
                None if same is None else int(same),
            )
    return out


def companies_of(sql: PlainSql, story_ids: Sequence[int]) -> dict[int, str | None]:
    out: dict[int, str | None] = {}
    for part in chunks(sorted(set(story_ids))):
        for sid, ent in sql.rows(
            f"SELECT id, main_entity FROM story WHERE id IN ({sql.marks(len(part))})", part
        ):
            out[int(sid)] = ent
    return out


def story_of(sql: PlainSql, article_id: int) -> tuple[int, str | None] | None:
    """The article's story and that story's company, if it has a story."""
    got = sql.rows(
        "SELECT a.story_id, s.main_entity FROM article a JOIN story s ON s.id = a.story_id"
        " WHERE a.id = %s",
        (article_id,),
    )
    return (int(got[0][0]), got[0][1]) if got else None


def companies_named(sql: PlainSql, names: Sequence[str]) -> list[str]:
    """The companies of stored stories that one of ``names`` names: itself, or a longer
    name that begins with it and an underscore ("hygon" -> hygon_information). One read
    of ix_story_scan a name, a few rows each, 100 names a statement."""
    out: list[str] = []
    # in bytes: a collation that ignores punctuation sorts "hygon_information" past
    # "hygon`" (PostgreSQL: ix_story_entity_bytes, 0016; SQLite compares bytes)
    entity = 'main_entity COLLATE "C"' if sql.dialect.name == "postgresql" else "main_entity"
    longer = (
        f"SELECT * FROM (SELECT DISTINCT main_entity FROM story"
        f" WHERE {entity} >= %s AND {entity} < %s LIMIT 8) x"
    )
    for part in chunks(list(names), 100):
        selects: list[str] = []
        params: list[Any] = []
        for name in part:
            selects.append(
                "SELECT * FROM (SELECT main_entity FROM story WHERE main_entity = %s LIMIT 1) e"
            )
            selects.append(longer)
            params += [name, f"{name}_", f"{name}`"]  # "`" sorts right after "_"
        out += [str(k) for (k,) in sql.rows(" UNION ".join(selects), params)]
    return out


def profile_of(sql: PlainSql, story_id: int) -> tuple[bool, dict[str, Any] | None]:
    """Whether the story exists, and the profile it holds (None: never built)."""
    got = sql.rows("SELECT profile FROM story WHERE id = %s", (story_id,))
    if not got:
        return False, None
    return True, sql.types.json_out(got[0][0])


_NEW_STORY = (
    "INSERT INTO story (title, main_entity, canonical_article_id, first_seen_at,"
    " last_seen_at, event_until, article_count, profile) VALUES (%s, %s, %s, %s, %s, %s, 1, %s)"
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
    " event_until = CASE WHEN %s THEN (CASE WHEN COALESCE(event_until, last_seen_at) < %s"
    " THEN %s ELSE COALESCE(event_until, last_seen_at) END) ELSE event_until END,"
    " profile = COALESCE(%s, profile) WHERE id = %s"
)
_WRITE = (
    "UPDATE article SET duplicate_of = %s, similarity = %s, story_id = %s, join_reason = %s,"
    " minhash = COALESCE(%s, minhash) WHERE id = %s"
)


def create_story(
    sql: PlainSql,
    *,
    title: str,
    main_entity: str | None,
    article_id: int,
    at: datetime,
    profile: dict[str, Any] | None,
) -> int:
    """A story of one company (``main_entity``), started by ``article_id``."""
    t = sql.types
    stamp = t.ts_in(at)
    row = (title, main_entity, article_id, stamp, stamp, stamp, t.json_in(profile))
    return int(sql.rows(_NEW_STORY, row)[0][0])


def join_story(
    sql: PlainSql,
    story_id: int,
    *,
    at: datetime,
    event: bool,
    profile: dict[str, Any] | None,
) -> None:
    """Count a member in; the profile is replaced when given. ``event``: the member joined
    on the event's own evidence, so the event's window reaches it (a restatement, or a
    copy of one, does not move it)."""
    t = sql.types
    stamp = t.ts_in(at)
    prof = None if profile is None else t.json_in(profile)
    sql.run(
        _JOIN_STORY,
        (stamp, stamp, stamp, stamp, story_id, story_id, event, stamp, stamp, prof, story_id),
    )


def write_placement(
    sql: PlainSql,
    article_id: int,
    *,
    story_id: int,
    duplicate_of: int | None,
    similarity: float | None,
    reason: dict[str, Any],
    signature: bytes | None,
) -> None:
    sql.run(
        _WRITE,
        (duplicate_of, similarity, story_id, sql.types.json_in(reason), signature, article_id),
    )


def set_profile(sql: PlainSql, story_id: int, profile: dict[str, Any]) -> None:
    # the member profiles of the first story index (migration 0002) are no longer read
    sql.run(
        "UPDATE story SET profile = %s, members = NULL WHERE id = %s",
        (sql.types.json_in(profile), story_id),
    )


_RECOUNT = (
    "UPDATE story SET article_count = (SELECT COUNT(*) FROM article WHERE story_id = %s),"
    " first_seen_at = (SELECT MIN(sort_at) FROM article WHERE story_id = %s),"
    " last_seen_at = (SELECT MAX(sort_at) FROM article WHERE story_id = %s),"
    f" canonical_article_id = (SELECT id {_CANONICAL}),"
    f" title = (SELECT COALESCE(title, '') {_CANONICAL}) WHERE id = %s"
)


def fold_stories(
    sql: PlainSql, keep: int, gone: Sequence[int], bridge: int, evidence: dict[str, Any]
) -> None:
    """Move the members, facts and keys of the ``gone`` stories into ``keep``.

    The emptied rows stay: ids are never reused (SQLite would hand a deleted id to the
    next story), so an alert that cites one cannot come to point at another story. The
    articles that had started them say so in their reason, with ``evidence`` (why the
    stories are one).
    """
    marks = sql.marks(len(gone))
    t = sql.types
    sql.run(
        "UPDATE story SET event_until = (SELECT MAX(COALESCE(o.event_until, o.last_seen_at))"
        f" FROM story o WHERE o.id = %s OR o.id IN ({marks})) WHERE id = %s",
        (keep, *gone, keep),
    )
    founders = sql.rows(
        f"SELECT id, story_id, join_reason FROM article WHERE story_id IN ({marks})", gone
    )
    for aid, sid, why in founders:
        if (t.json_out(why) or {}).get("level") == "new":
            reason = {"level": "merged", "started": int(sid), "bridged_by": bridge, **evidence}
            sql.run("UPDATE article SET join_reason = %s WHERE id = %s", (t.json_in(reason), aid))
    # keys by their articles (story_key is indexed by company and figure, not by story),
    # before the articles move
    sql.run(
        "UPDATE story_key SET story_id = %s WHERE article_id IN"
        f" (SELECT id FROM article WHERE story_id IN ({marks}))",
        (keep, *gone),
    )
    sql.run(f"UPDATE article SET story_id = %s WHERE story_id IN ({marks})", (keep, *gone))
    sql.run(f"UPDATE fact SET story_id = %s WHERE story_id IN ({marks})", (keep, *gone))
    sql.run(
        f"UPDATE story SET profile = NULL, members = NULL, article_count = 0 WHERE id IN ({marks})",
        gone,
    )
    sql.run(_RECOUNT, (keep,) * 6)


# Only the story's facts that can share a key with one of the article's (round(value, 6)
# of either amount) are read, and of each kind only the first (0015), each range through
# the partial index ix_fact_story_id_value or ix_fact_story_id_alt_value: a long-running
# story holds tens of thousands of facts, most of them rewrites restating its figures,
# and reading them all for each article that joined made the facts stage grow with the
# story (4.8 ms an article at 2,500 members). One SELECT a range, joined by UNION (which
# drops repeats), because SQLite, without statistics, reads an OR of ranges through the
# (story_id, entity) index: every fact of the story.
_HELD = (
    "SELECT entity, metric, value, unit, currency, alt_value, alt_currency FROM fact"
    " WHERE story_id = %s AND first_in_story AND {col} BETWEEN %s AND %s"
)
_HELD_CHUNK = 100  # values per statement: 200 SELECTs, below SQLite's 500 a compound


def facts_near(sql: PlainSql, story_id: int, values: Sequence[float]) -> list[Fact]:
    """The story's facts whose amount (in either currency) is within rounding of one of
    ``values``."""
    out: list[Fact] = []
    for part in chunks(sorted(set(values)), _HELD_CHUNK):
        params: list[Any] = []
        for v in part:
            d = 2e-6 + 1e-9 * abs(v)  # wider than round(., 6) can bridge
            params += [story_id, v - d, v + d] * 2
        near = " UNION ".join(_HELD.format(col=col) for _ in part for col in ("value", "alt_value"))
        for entity, metric, value, unit, cur, alt_v, alt_c in sql.rows(near, params):
            out.append(
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
    return out


@dataclass(frozen=True, slots=True)
class MemberSource:
    """What a stored original member's profile is built from."""

    article_id: int
    title: str
    head: str  # the first ``head_chars`` characters of its text
    extraction: Extraction


def member_sources(
    sql: PlainSql, story_ids: Sequence[int], *, per_story: int, head_chars: int
) -> dict[int, list[MemberSource]]:
    """The newest ``per_story`` original members of each story that joined on the event's
    own evidence (not restatements of it), with their stored facts and mentions, newest
    first."""
    heads: dict[int, list[tuple[int, str, str]]] = {sid: [] for sid in story_ids}
    for aid, sid, title, text, why in sql.rows(
        f"SELECT id, story_id, title, SUBSTR(text, 1, {int(head_chars)}), join_reason"
        " FROM article WHERE duplicate_of IS NULL"
        f" AND story_id IN ({sql.marks(len(story_ids))}) ORDER BY id DESC",
        story_ids,
    ):
        if (sql.types.json_out(why) or {}).get("level") == "restatement":
            continue
        group = heads[int(sid)]
        if len(group) < per_story:
            group.append((int(aid), title or "", (text or "")[:head_chars]))
    aids = [h[0] for group in heads.values() for h in group]
    facts: dict[int, list[Fact]] = {}
    terms: dict[int, list[TermHit]] = {}
    topics: dict[int, list[TopicHit]] = {}
    for part in chunks(aids):
        for r in sql.rows(
            "SELECT article_id, entity, metric, value, unit, currency, surface, quote,"
            " span_start, span_end, confidence, alt_value, alt_currency FROM fact"
            f" WHERE article_id IN ({sql.marks(len(part))}) ORDER BY id",
            part,
        ):
            facts.setdefault(int(r[0]), []).append(
                Fact(
                    entity=r[1], metric=r[2], value=r[3], unit=r[4], currency=r[5],
                    surface=r[6], quote=r[7], span=(r[8], r[9]), confidence=r[10],
                    alt_value=r[11], alt_currency=r[12],
                )
            )  # fmt: skip
        for aid, kind, name, value in sql.rows(
            "SELECT article_id, kind, name, value FROM mention"
            f" WHERE article_id IN ({sql.marks(len(part))}) ORDER BY id",
            part,
        ):
            if kind == "term":
                terms.setdefault(int(aid), []).append(TermHit(name, value, "", (0, 0)))
            elif kind == "topic":
                topics.setdefault(int(aid), []).append(TopicHit(name, value, "", (0, 0)))
    return {
        sid: [
            MemberSource(
                aid,
                title,
                head,
                Extraction(
                    main_entity=None,
                    facts=tuple(facts.get(aid, ())),
                    terms=tuple(terms.get(aid, ())),
                    topics=tuple(topics.get(aid, ())),
                ),
            )
            for aid, title, head in group
        ]
        for sid, group in heads.items()
    }
