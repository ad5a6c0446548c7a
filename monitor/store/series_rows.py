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

from monitor.store.plain_sql import PlainSql
from monitor.values import ArticleRef, Fact, FactRecord

_COLS = (
    "f.id, f.article_id, f.entity, f.metric, f.value, f.unit, f.surface, f.quote,"
    " f.span_start, f.span_end, f.confidence, f.currency, f.period, f.qualifiers, f.approx,"
    " f.value_high, f.alt_value, f.alt_currency,"
    " a.url, a.title, s.name, a.ai_generated, a.sort_at, a.story_id, a.duplicate_of,"
    " a.agent_name, o.story_id"
)


def series_records(
    session: Session,
    *,
    metric: str,
    entity: str | None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> list[FactRecord]:
    """The typed facts of ``entity``'s ``metric`` (every entity's when None), in time
    order (article date, then id); with ``limit``, the newest that many. A copy filed
    without a story counts as the story of the article it copies (as in
    ``rule_rows``)."""
    sql = PlainSql(session)
    ts_in, ts_out, json_out = sql.types.ts_in, sql.types.ts_out, sql.types.json_out
    where = ["f.metric = %s"]
    params: list[object] = [metric]
    if entity is not None:
        where.append("f.entity = %s")
        params.append(entity)
    else:
        where.append("f.entity IS NOT NULL")
    if since is not None:
        where.append("a.sort_at >= %s")
        params.append(ts_in(since))
    if until is not None:
        where.append("a.sort_at < %s")
        params.append(ts_in(until))
    tail = ""
    if limit is not None:
        tail = f" LIMIT {int(limit)}"
    rows = sql.rows(
        f"SELECT {_COLS} FROM fact f JOIN article a ON a.id = f.article_id"
        " JOIN source s ON s.id = a.source_id LEFT JOIN article o ON o.id = a.duplicate_of"
        f" WHERE {' AND '.join(where)} ORDER BY a.sort_at DESC, f.id DESC{tail}",
        params,
    )
    out = []
    for (
        fid, aid, ent, met, value, unit, surface, quote, start, end, confidence, currency,
        period, quals, approx, value_high, alt_value, alt_currency,
        url, title, source, ai, sort_at, story_id, duplicate_of, agent, inherited,
    ) in reversed(rows):  # fmt: skip
        qualifiers = {} if quals in (None, "{}", "null") else (json_out(quals) or {})
        ref = ArticleRef(
            id=int(aid),
            url=url,
            title=title,
            source=source,
            ai_generated=bool(ai),
            sort_at=_ts(sort_at, ts_out),
            story_id=story_id if story_id is not None or duplicate_of is None else inherited,
            duplicate_of=duplicate_of,
            agent_name=agent,
        )
        fact = Fact(
            entity=ent,
            metric=met,
            value=value,
            unit=unit,
            surface=surface,
            quote=quote,
            span=(start, end),
            confidence=confidence,
            currency=currency,
            period=period,
            qualifiers=tuple(sorted((str(k), str(v)) for k, v in qualifiers.items())),
            approx=approx,
            value_high=value_high,
            alt_value=alt_value,
            alt_currency=alt_currency,
        )
        out.append(FactRecord(int(fid), ref, fact))
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


def series_points(session: Session, *, metric: str, entity: str, limit: int) -> list[SeriesPoint]:
    """The newest ``limit`` values of ``entity``'s ``metric``, in time order."""
    sql = PlainSql(session)
    ts_out = sql.types.ts_out
    # sources are few: named from one small query, not joined to each of 10,000 rows;
    # sorted here, which costs less than the database's sorter on the joined rows
    names = dict(sql.rows("SELECT id, name FROM source", []))
    rows = sql.rows(
        "SELECT f.id, f.article_id, a.sort_at, f.value, f.unit, f.currency, f.qualifiers,"
        " a.source_id, a.ai_generated, f.surface FROM fact f JOIN article a ON a.id ="
        " f.article_id WHERE f.entity = %s AND f.metric = %s",
        [entity, metric],
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
