"""One series' facts as the rule engine reads them: an entity's metric over time.

The metric chart draws them and replays the confirmation of the rules that watch them;
a backtest of one series rule needs nothing else (the engine gives a change, threshold
or conflict rule only its own metric's facts). One indexed query
(``ix_fact_entity_metric_created_at``, ``ix_fact_metric``) instead of the whole replay
input (``rule_rows.gather_input``), which reads every article of the period.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlmodel import Session

from monitor.store import rule_rows
from monitor.store.plain_sql import PlainSql
from monitor.values import FactRecord


def series_records(
    session: Session,
    *,
    metric: str,
    entity: str | None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[FactRecord]:
    """The typed facts of ``entity``'s ``metric`` (every entity's when None) of articles
    dated in ``[since, until)``, in time order, as ``rule_rows`` reads them for the engine
    (a copy filed without a story counts as the story of the article it copies)."""
    sql = PlainSql(session)
    ts_in = sql.types.ts_in
    where = ["f.metric = %s", "f.entity = %s" if entity is not None else "f.entity IS NOT NULL"]
    params: list[object] = [metric, *([entity] if entity is not None else [])]
    if since is not None:
        where.append("a.sort_at >= %s")
        params.append(ts_in(since))
    if until is not None:
        where.append("a.sort_at < %s")
        params.append(ts_in(until))
    ids = [
        int(aid)
        for (aid,) in sql.rows(
            "SELECT DISTINCT f.article_id FROM fact f JOIN article a ON a.id = f.article_id"
            f" WHERE {' AND '.join(where)}",
            params,
        )
    ]
    refs = rule_rows.article_refs(session, ids, None)
    out = [
        r
        for r in rule_rows.fact_records(session, refs)
        if r.fact.metric == metric and r.fact.entity is not None
        and (entity is None or r.fact.entity == entity)
    ]  # fmt: skip
    out.sort(key=lambda r: (r.article.sort_at, r.article.id, r.id))
    return out


class SeriesPoint(NamedTuple):
    """One value of a series as the chart draws it: a tuple, not a record, since a
    chart reads ten thousand of them for one page."""

    fact_id: int
    article_id: int
    at: datetime
    value: float
    unit: str
    currency: str | None
    qualifiers: tuple[tuple[str, str], ...]
    source: str
    ai_generated: bool
    surface: str


def _ts(value: Any, ts_out: Any) -> datetime:
    # SQLite gives text: the C parser is ten times quicker than the dialect's regex
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    got: datetime = ts_out(value)
    return got


def series_points(
    session: Session, *, metric: str, entity: str, limit: int, after_id: int = 0
) -> list[SeriesPoint]:
    """The newest ``limit`` values of ``entity``'s ``metric``, in time order; with
    ``after_id``, only the facts stored after that one (what a series gained)."""
    sql = PlainSql(session)
    ts_out = sql.types.ts_out
    # sources are few: named from one small query, not joined to each of 10,000 rows;
    # sorted here, which costs less than the database's sorter on the joined rows
    names = dict(sql.rows("SELECT id, name FROM source", []))
    rows = sql.rows(
        "SELECT f.id, f.article_id, a.sort_at, f.value, f.unit, f.currency, f.qualifiers,"
        " a.source_id, a.ai_generated, f.surface FROM fact f JOIN article a ON a.id ="
        " f.article_id WHERE f.entity = %s AND f.metric = %s AND f.id > %s",
        [entity, metric, after_id],
    )
    rows = [(*r[:2], _ts(r[2], ts_out), *r[3:]) for r in rows]
    rows.sort(key=lambda r: (r[2], r[0]), reverse=True)
    del rows[limit:]
    out = []
    for fid, aid, at, value, unit, currency, quals, source_id, ai, surface in reversed(rows):
        if quals is None or quals in ("{}", "null") or quals == {}:
            pairs: tuple[tuple[str, str], ...] = ()
        else:
            got = json.loads(quals) if isinstance(quals, str) else quals
            pairs = tuple(sorted((str(k), str(v)) for k, v in got.items()))
        out.append(
            SeriesPoint(
                int(fid), int(aid), at, float(value), unit, currency, pairs,
                names.get(source_id, "?"), bool(ai), surface,
            )
        )  # fmt: skip
    return out


def series_version(session: Session, *, metric: str, entity: str) -> tuple[int, int]:
    """(count, newest id) of a series' facts, from the index alone: a series read earlier
    is still whole while both are the same (facts are added and pruned, never edited)."""
    sql = PlainSql(session)
    ((count, newest),) = sql.rows(
        "SELECT COUNT(*), MAX(id) FROM fact WHERE entity = %s AND metric = %s", [entity, metric]
    )
    return int(count), int(newest or 0)
