"""The same-story index: which stories a new article could join, found by their figures.

``story_key`` holds one row per figure an article of a story states (and per amount in a
second currency), indexed by unit and value, so an article with figures is compared only
with the stories that hold a figure within the matcher's tolerance of one of its own
(issue 4, point 3, at the volume of hundreds of stories about one company within the
window). An article without figures is compared with the most recent stories of its main
entity. The key ranges and what to compare are decided above the store
(``monitor.app.placement``, ``monitor.dedup.story_members``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.store.plain_sql import PlainSql

MAX_STORY_CANDIDATES = 100  # most recent stories compared per article
_SPANS_PER_QUERY = 100  # key ranges per statement: far below SQLite's expression depth


@dataclass(frozen=True, slots=True)
class CandidateRow:
    story_id: int
    main_entity: str | None
    profile: dict[str, Any] | None  # None: never built (a story stored before the index)


def add_keys(
    sql: PlainSql,
    story_id: int,
    article_id: int,
    keys: Sequence[tuple[str, str, float, bool]],
) -> None:
    """Index an article's figure keys (unit, currency or "", value, second currency)."""
    if not keys:
        return
    row = f"({sql.marks(6)})"
    sql.run(
        "INSERT INTO story_key (story_id, article_id, unit, currency, value, alt) VALUES "
        + ", ".join([row] * len(keys)),
        [v for k in keys for v in (story_id, article_id, *k)],
    )


_IN_WINDOW = "s.last_seen_at >= %s AND s.first_seen_at <= %s AND s.article_count > 0"
_OF_ENTITY = " AND (s.main_entity = %s OR s.main_entity IS NULL)"
_COLS = "s.id, s.main_entity, s.profile"
_ORDER = f" ORDER BY s.last_seen_at DESC, s.id DESC LIMIT {MAX_STORY_CANDIDATES}"


def candidates(
    sql: PlainSql,
    *,
    spans: Sequence[tuple[str, str, float, float]],
    money: Sequence[float],
    entity: str | None,
    earliest: datetime,
    latest: datetime,
) -> list[CandidateRow]:
    """Stories in the window [earliest, latest] the article could join.

    With ``spans`` (unit, currency, low, high): the stories of the article's entity (or of
    none) holding a figure in one of them, else the most recent stories of its entity.
    With ``money``: also the stories of any entity stating one of those amounts exactly,
    since another main entity can still be the same story when many figures agree.
    """
    t = sql.types
    lo, hi = t.ts_in(earliest), t.ts_in(latest)
    ent_sql, ent_params = ("", []) if entity is None else (_OF_ENTITY, [entity])
    rows: list[Any] = []
    if spans:
        for start in range(0, len(spans), _SPANS_PER_QUERY):
            part = spans[start : start + _SPANS_PER_QUERY]
            cond = " OR ".join(
                ["(k.unit = %s AND k.currency = %s AND k.value BETWEEN %s AND %s)"] * len(part)
            )
            rows += sql.rows(
                f"SELECT {_COLS}, s.last_seen_at FROM story s WHERE s.id IN (SELECT k.story_id"
                f" FROM story_key k WHERE {cond}) AND {_IN_WINDOW}{ent_sql}{_ORDER}",
                [*(v for s in part for v in s), lo, hi, *ent_params],
            )
        if len(spans) > _SPANS_PER_QUERY:
            rows = sorted({r[0]: r for r in rows}.values(), key=lambda r: (r[3], r[0]))
            rows = rows[::-1][:MAX_STORY_CANDIDATES]
    else:
        rows = sql.rows(
            f"SELECT {_COLS} FROM story s WHERE {_IN_WINDOW}{ent_sql}{_ORDER}",
            [lo, hi, *ent_params],
        )
    found: dict[int, tuple[str | None, Any]] = {int(r[0]): (r[1], r[2]) for r in rows}
    if entity is not None and money:
        amounts = sorted(set(money))
        for r in sql.rows(
            f"SELECT {_COLS} FROM story s WHERE s.id IN (SELECT k.story_id FROM story_key k"
            f" WHERE k.unit = 'money' AND k.alt = %s AND k.value IN ({sql.marks(len(amounts))}))"
            f" AND {_IN_WINDOW}{_ORDER}",
            [False, *amounts, lo, hi],
        ):
            found.setdefault(int(r[0]), (r[1], r[2]))
    return [
        CandidateRow(sid, ent, None if prof is None else t.json_out(prof))
        for sid, (ent, prof) in found.items()
    ]
