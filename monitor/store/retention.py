"""Retention rows: what is old enough to go, what must stay, and the deletes.

What to keep is decided by the application (``monitor.app.retention``); this module reads
and writes the rows, in batches, with plain SQL on the session's cursor.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from monitor.store.plain_sql import PlainSql, chunks


def old_articles(
    sql: PlainSql, *, seen_before: datetime, live_since: datetime, after_id: int, limit: int
) -> list[tuple[int, bytes | None]]:
    """Articles first seen before ``seen_before`` whose story has had no article since
    ``live_since`` (or that have none), oldest first after ``after_id``: (id, signature)."""
    t = sql.types
    return [
        (int(aid), None if sig is None else bytes(sig))
        for aid, sig in sql.rows(
            "SELECT a.id, a.minhash FROM article a LEFT JOIN story s ON s.id = a.story_id"
            " WHERE a.id > %s AND a.first_seen_at < %s"
            " AND (s.id IS NULL OR s.last_seen_at < %s) ORDER BY a.id LIMIT %s",
            (after_id, t.ts_in(seen_before), t.ts_in(live_since), limit),
        )
    ]


def referenced(sql: PlainSql, ids: Sequence[int]) -> set[int]:
    """Which of ``ids`` a row that stays points to: the first sighting of a name, or the
    original of a copy that is not among ``ids``."""
    out: set[int] = set()
    mine = set(ids)
    for part in chunks(sorted(mine)):
        marks = sql.marks(len(part))
        out.update(
            int(r[0])
            for r in sql.rows(
                f"SELECT first_article_id FROM term WHERE first_article_id IN ({marks})", part
            )
        )
        for original, copy in sql.rows(
            f"SELECT duplicate_of, id FROM article WHERE duplicate_of IN ({marks})", part
        ):
            if int(copy) not in mine:
                out.add(int(original))
    return out


def _article_ids(value: Any) -> Iterable[int]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "article_id" and isinstance(v, int):
                yield v
            else:
                yield from _article_ids(v)
    elif isinstance(value, list):
        for v in value:
            yield from _article_ids(v)


def rule_state_articles(sql: PlainSql) -> set[int]:
    """Every article the rules' state cites as evidence (a confirmed value, a claim)."""
    out: set[int] = set()
    for (state,) in sql.rows("SELECT state FROM rule_state", ()):
        data = json.loads(state) if isinstance(state, str) else state
        out.update(_article_ids(data))
    return out


def delete_articles(
    sql: PlainSql, ids: Sequence[int], band_keys: Sequence[tuple[int, int]]
) -> None:
    """Delete articles with their facts, mentions, figure keys and band keys (given as
    (key, article id): the index is keyed by band key)."""
    if band_keys:
        sql.cursor.executemany(
            "DELETE FROM dedup_band WHERE key = %s AND article_id = %s".replace("%s", sql.mark),
            list(band_keys),
        )
    for part in chunks(list(ids)):
        marks = sql.marks(len(part))
        for table in ("fact", "mention", "story_key", "dedup_band_log"):
            sql.run(f"DELETE FROM {table} WHERE article_id IN ({marks})", part)
        sql.run(f"DELETE FROM article WHERE id IN ({marks})", part)


# The first fact of each kind (dedup.story_members.kind) of a story, which facts_near
# reads; migration 0015 marked them so in every story
_FIRST_OF_KIND = (
    "UPDATE fact SET first_in_story = %s WHERE id IN (SELECT MIN(id) FROM fact"
    " WHERE story_id = %s GROUP BY entity, metric, value, unit, currency, alt_value,"
    " alt_currency)"
)


def recount_stories(sql: PlainSql, story_ids: Iterable[int]) -> None:
    """Members, dates and canonical article of stories that lost articles; and the first
    fact of each kind they still hold, which may have gone with an article (at most one
    more of a kind is marked, which costs a read, never a miss)."""
    canonical = "FROM article WHERE story_id = %s ORDER BY ai_generated, sort_at, id LIMIT 1"
    for sid in sorted(set(story_ids)):
        sql.run(_FIRST_OF_KIND, (True, sid))
        sql.run(
            "UPDATE story SET article_count = (SELECT COUNT(*) FROM article WHERE story_id = %s),"
            " first_seen_at = COALESCE((SELECT MIN(sort_at) FROM article WHERE story_id = %s),"
            " first_seen_at), last_seen_at = COALESCE((SELECT MAX(sort_at) FROM article"
            f" WHERE story_id = %s), last_seen_at), canonical_article_id = (SELECT id {canonical})"
            " WHERE id = %s",
            (sid, sid, sid, sid, sid),
        )


def stories_of(sql: PlainSql, ids: Sequence[int]) -> set[int]:
    out: set[int] = set()
    for part in chunks(list(ids)):
        out.update(
            int(r[0])
            for r in sql.rows(
                f"SELECT DISTINCT story_id FROM article WHERE id IN ({sql.marks(len(part))})"
                " AND story_id IS NOT NULL",
                part,
            )
        )
    return out


def drop_bodies(
    sql: PlainSql, *, seen_before: datetime, live_since: datetime, after_id: int, limit: int
) -> tuple[int, int | None]:
    """Empty the text of articles first seen before ``seen_before`` outside live stories
    (title, facts, quotes and signature stay), among the next ``limit`` articles after
    ``after_id``: (how many emptied, the last article looked at; None at the end).

    By article id, batch after batch: starting each batch from the first article again
    would read every body emptied before it, which at a million articles holds the write
    lock for seconds per batch."""
    t = sql.types
    rows = sql.rows(
        "SELECT a.id, a.first_seen_at < %s AND a.text <> ''"
        " AND (s.id IS NULL OR s.last_seen_at < %s)"
        " FROM article a LEFT JOIN story s ON s.id = a.story_id"
        " WHERE a.id > %s ORDER BY a.id LIMIT %s",
        (t.ts_in(seen_before), t.ts_in(live_since), after_id, limit),
    )
    ids = [int(aid) for aid, old in rows if old]
    for part in chunks(ids):
        sql.run(f"UPDATE article SET text = '' WHERE id IN ({sql.marks(len(part))})", part)
    return len(ids), (int(rows[-1][0]) if len(rows) == limit else None)


def delete_sent_deliveries(sql: PlainSql, *, sent_before: datetime) -> int:
    got = sql.rows(
        "SELECT COUNT(*) FROM delivery WHERE status = 'sent' AND sent_at < %s",
        (sql.types.ts_in(sent_before),),
    )
    sql.run(
        "DELETE FROM delivery WHERE status = 'sent' AND sent_at < %s",
        (sql.types.ts_in(sent_before),),
    )
    return int(got[0][0])
