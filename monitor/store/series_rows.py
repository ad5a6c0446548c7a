"""One series' facts as the rule engine reads them: an entity's metric over time.

The metric chart draws them and replays the confirmation of the rules that watch them;
a backtest of one series rule needs nothing else (the engine gives a change, threshold
or conflict rule only its own metric's facts). One indexed query
(``ix_fact_series``, ``ix_fact_metric``) instead of the whole replay
input (``rule_rows.gather_input``), which reads every article of the period.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple

from sqlmodel import Session

from monitor.store import rule_rows
from monitor.store.plain_sql import PlainSql
from monitor.values import ArticleRef, Fact, FactRecord


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
    (a copy filed without a story counts as the story of the article it copies).

    One query joins each fact to its article and source: a backtest reads a year of a
    busy series (13,000 facts in the web benchmark), and reading the article ids, then the
    articles, then their facts took three passes over the same rows (330 ms against
    ~110 ms)."""
    sql = PlainSql(session)
    ts_in, ts_out = sql.types.ts_in, sql.types.ts_out
    where = ["f.metric = %s", "f.entity = %s" if entity is not None else "f.entity IS NOT NULL"]
    params: list[object] = [metric, *([entity] if entity is not None else [])]
    if since is not None:  # the fact's copy of its article's time: the series index
        where.append("f.sort_at >= %s")
        params.append(ts_in(since))
    if until is not None:
        where.append("f.sort_at < %s")
        params.append(ts_in(until))
    names = _source_names(sql)
    rows = sql.rows(
        "SELECT f.id, f.entity, f.value, f.unit, f.surface, f.quote, f.span_start,"
        " f.span_end, f.confidence, f.currency, f.period, f.qualifiers, f.approx,"
        " f.value_high, f.alt_value, f.alt_currency, a.id, a.url, a.title, a.source_id,"
        " a.ai_generated, a.sort_at, a.story_id, a.duplicate_of, a.agent_name"
        " FROM fact f JOIN article a ON a.id = f.article_id"
        f" WHERE {' AND '.join(where)}",
        params,
    )
    inherited = rule_rows.stories_of(
        sql, {r[23] for r in rows if r[22] is None and r[23] is not None}
    )
    refs: dict[int, ArticleRef] = {}
    out = []
    for (
        fid, f_entity, value, unit, surface, quote, start, end, confidence, currency, period,
        quals, approx, value_high, alt_value, alt_currency,
        aid, url, title, source, ai, sort_at, story_id, duplicate_of, agent,
    ) in rows:  # fmt: skip
        ref = refs.get(aid)
        if ref is None:
            if story_id is None and duplicate_of is not None:
                story_id = inherited.get(duplicate_of)
            ref = refs[aid] = ArticleRef(
                id=int(aid), url=url, title=title, source=names.get(source, "?"),
                ai_generated=bool(ai),
                sort_at=ts_out(sort_at), story_id=story_id, duplicate_of=duplicate_of,
                agent_name=agent,
            )  # fmt: skip
        fact = Fact(
            entity=f_entity, metric=metric, value=value, unit=unit, surface=surface,
            quote=quote, span=(start, end), confidence=confidence, currency=currency,
            period=period, qualifiers=_pairs(quals), approx=approx, value_high=value_high,
            alt_value=alt_value, alt_currency=alt_currency,
        )  # fmt: skip
        out.append(FactRecord(int(fid), ref, fact))
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


def _source_names(sql: PlainSql) -> dict[int, str]:
    # sources are few: named from one small query, not joined to thousands of rows
    return dict(sql.rows("SELECT id, name FROM source", []))


def _pairs(quals: Any) -> tuple[tuple[str, str], ...]:
    if quals is None or quals in ("{}", "null") or quals == {}:
        return ()
    got = json.loads(quals) if isinstance(quals, str) else quals
    return tuple(sorted((str(k), str(v)) for k, v in got.items()))


def series_points(
    session: Session, *, metric: str, entity: str, limit: int, after_id: int = 0
) -> list[SeriesPoint]:
    """The newest ``limit`` values of ``entity``'s ``metric``, in time order; with
    ``after_id``, only the facts stored after that one (what a series gained)."""
    sql = PlainSql(session)
    ts_out = sql.types.ts_out
    # Every column comes from the series index (``ix_fact_series``, migration 0010), in
    # time order: consecutive index pages, not a fact row and an article row per value
    names = _source_names(sql)
    rows = sql.rows(
        "SELECT id, article_id, sort_at, value, unit, currency, qualifiers, source_id,"
        " ai_generated, surface FROM fact WHERE entity = %s AND metric = %s AND id > %s"
        " ORDER BY sort_at DESC, id DESC LIMIT %s",
        [entity, metric, after_id, limit],
    )
    rows.reverse()
    return [
        SeriesPoint(
            int(fid), int(aid), ts_out(at), float(value), unit, currency, _pairs(quals),
            names.get(source_id, "?"), bool(ai), surface,
        )
        for fid, aid, at, value, unit, currency, quals, source_id, ai, surface in rows
    ]  # fmt: skip


def series_version(session: Session, *, metric: str, entity: str) -> tuple[int, int]:
    """(count, newest id) of a series' facts, from the index alone: a series read earlier
    is still whole while both are the same (facts are added and pruned, never edited)."""
    sql = PlainSql(session)
    ((count, newest),) = sql.rows(
        "SELECT COUNT(*), MAX(id) FROM fact WHERE entity = %s AND metric = %s", [entity, metric]
    )
    return int(count), int(newest or 0)
