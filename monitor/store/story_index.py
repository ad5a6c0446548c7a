"""The same-story index: which stories a new article could join.

A story belongs to one company (``story.main_entity``), so an article is compared only
with stories of its own company: the most recent ones whose event is told within the
window, and, among the many a busy company has, those that hold one of its figures.
``story_key`` holds one row per figure an article of a story states (and per amount in a
second currency) as a magnitude, with the story's company, indexed by company and figure
for that lookup and for the standing stories an article may restate months later (issue
13, point 3). The key ranges
and what to compare are decided above the store (``monitor.app.placement``,
``monitor.dedup.story_members``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.store.plain_sql import PlainSql

MAX_RECENT = 30  # most recent stories of the company compared per article
MAX_BY_FIGURE = 30  # ... plus those holding one of its figures
# ... found among the company's most recent stories of the window: a window that holds
# thousands of one company's stories (a backfill of undated files, all "now") costs what
# this many do, not what the window holds (each is tested against the company's stories
# holding the figures; when each was probed once per figure, a bound of 500 spent a
# fifth of an undated ingest's CPU at 50,000 articles on this lookup)
MAX_EVENT_SCAN = 200
_SPANS_PER_QUERY = 100  # key ranges per statement: below SQLite's 500 terms of a compound SELECT


@dataclass(frozen=True, slots=True)
class CandidateRow:
    story_id: int
    main_entity: str | None
    # the stored profile as JSON text (None: never built, a story stored before the
    # index): text, so that a reader can tell an unchanged profile by equality and keep
    # what it decoded from it
    profile_json: str | None
    first_seen_at: datetime
    event_until: datetime  # last_seen_at for a story stored before migration 0007


KEYS_AT_ONCE = 1000


def add_keys(
    sql: PlainSql,
    story_id: int,
    company: str | None,
    article_id: int,
    keys: Sequence[tuple[str, str, float, bool]],
) -> None:
    """Index an article's figure keys (unit, currency or "", value, second currency) under
    its story and the story's company."""
    row = f"({sql.marks(7)})"
    # in statements of KEYS_AT_ONCE rows: SQLite takes 32,766 values a statement, and a
    # long document has thousands of figures (4,700 keys ended its whole batch)
    for at in range(0, len(keys), KEYS_AT_ONCE):
        part = keys[at : at + KEYS_AT_ONCE]
        sql.run(
            "INSERT INTO story_key (story_id, company, article_id, unit, currency, value, alt)"
            " VALUES " + ", ".join([row] * len(part)),
            [v for k in part for v in (story_id, company, article_id, *k)],
        )


# Filled for every story since migration 0008: a range of it reads the index on
# story(main_entity, event_until, ...), so the work is the window's stories, not the
# history's.
_UNTIL = "s.event_until"
_COLS = f"s.id, s.main_entity, CAST(s.profile AS TEXT), s.first_seen_at, {_UNTIL}"
_LIVE = "s.article_count > 0"


def _of(company: str | None) -> tuple[str, list[Any]]:
    if company is None:
        return "s.main_entity IS NULL", []
    return "s.main_entity = %s", [company]


def _rows(sql: PlainSql, rows: Sequence[Any]) -> list[CandidateRow]:
    t = sql.types
    found: dict[int, CandidateRow] = {}
    for sid, ent, prof, first, until in rows:
        found.setdefault(
            int(sid),
            CandidateRow(
                int(sid), ent, None if prof is None else str(prof), t.ts_out(first),
                t.ts_out(until),
            ),
        )  # fmt: skip
    return list(found.values())


def event_candidates(
    sql: PlainSql,
    *,
    company: str | None,
    spans: Sequence[tuple[str, str, float, float]],
    earliest: datetime,
    latest: datetime,
) -> list[CandidateRow]:
    """Stories of ``company`` (None: of no company) whose event is told within
    [earliest, latest]: the ``MAX_RECENT`` most recent, and up to ``MAX_BY_FIGURE`` of
    those holding a figure in one of ``spans`` (unit, currency, low, high) among its
    ``MAX_EVENT_SCAN`` most recent."""
    t = sql.types
    lo, hi = t.ts_in(earliest), t.ts_in(latest)
    of, of_params = _of(company)
    window = f"{of} AND {_UNTIL} >= %s AND s.first_seen_at <= %s AND {_LIVE}"
    order = f" ORDER BY {_UNTIL} DESC, s.id DESC"
    rows: list[Any] = sql.rows(
        f"SELECT {_COLS} FROM story s WHERE {window}{order} LIMIT {MAX_RECENT}",
        [*of_params, lo, hi],
    )
    if len(rows) < MAX_RECENT:
        return _rows(sql, rows)  # the whole window: those holding a figure are in it
    # Past the bound, among the scanned stories: their ids and order from the index alone
    # (ix_story_scan, migration 0012), tested against the company's stories holding one
    # of the figures (ix_story_key_company_figure, 0013: one index range per figure), and
    # only the stories found read. Probing each scanned story's keys once per figure cost
    # 1.13 -> 0.32 ms a statement at 40,000 stored undated articles, the same stories.
    scan = (
        f"SELECT s.id, {_UNTIL} AS w_until FROM story s WHERE {window}{order}"
        f" LIMIT {MAX_EVENT_SCAN}"
    )
    for start in range(0, len(spans), _SPANS_PER_QUERY):
        held, held_params = _holding(company, spans[start : start + _SPANS_PER_QUERY])
        rows += sql.rows(
            f"SELECT {_COLS} FROM story s WHERE s.id IN (SELECT w.id FROM ({scan}) AS w"
            f" WHERE w.id IN ({held}) ORDER BY w.w_until DESC, w.id DESC"
            f" LIMIT {MAX_BY_FIGURE}){order}",
            [*of_params, lo, hi, *held_params],
        )
    return _rows(sql, rows)


def _holding(
    company: str | None, spans: Sequence[tuple[str, str, float, float]]
) -> tuple[str, list[Any]]:
    """The company's stories holding a figure in one of ``spans``: a statement of one
    index range per span."""
    of = "k.company IS NULL" if company is None else "k.company = %s"
    probe = (
        f"SELECT k.story_id FROM story_key k WHERE {of}"
        " AND k.unit = %s AND k.currency = %s AND k.value BETWEEN %s AND %s"
    )
    named = [] if company is None else [company]
    return " UNION ALL ".join([probe] * len(spans)), [v for sp in spans for v in (*named, *sp)]


MAX_STANDING = 10  # standing stories compared per article for a restatement
# ... found among the company's most recent stories in the reach: the work of the lookup
# is bounded by this, not by how many stories a year of a busy company holds
MAX_STANDING_SCAN = 200


def standing_candidates(
    sql: PlainSql,
    *,
    company: str,
    spans: Sequence[tuple[str, str, float, float]],
    earliest: datetime,
    before: datetime,
) -> list[CandidateRow]:
    """Stories of ``company`` first seen since ``earliest`` whose event window closed
    before ``before``, holding a figure in one of ``spans``: what an article may restate."""
    if not spans:
        return []
    t = sql.types
    held, held_params = _holding(company, spans[:_SPANS_PER_QUERY])
    return _rows(
        sql,
        sql.rows(
            # a story's window ends after it starts: the range on event_until bounds the
            # index read to the stories told since ``earliest``, newest first
            f"SELECT {_COLS} FROM story s WHERE s.id IN (SELECT w.id FROM story w"
            f" WHERE w.main_entity = %s AND w.event_until >= %s AND w.event_until < %s"
            f" ORDER BY w.event_until DESC LIMIT {MAX_STANDING_SCAN})"
            f" AND s.first_seen_at >= %s AND {_LIVE} AND s.id IN ({held})"
            f" ORDER BY s.first_seen_at DESC, s.id DESC LIMIT {MAX_STANDING}",
            [company, t.ts_in(earliest), t.ts_in(before), t.ts_in(earliest), *held_params],
        ),
    )
