"""One series' facts as the rule engine reads them: an entity's metric over time.

The metric chart draws them and replays the confirmation of the rules that watch them;
a backtest of one series rule needs nothing else (the engine gives a change, threshold
or conflict rule only its own metric's facts). One indexed query
(``ix_fact_entity_metric_created_at``, ``ix_fact_metric``) instead of the whole replay
input (``rule_rows.gather_input``), which reads every article of the period.
"""

from __future__ import annotations

from datetime import datetime

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
        qualifiers = json_out(quals) or {}
        ref = ArticleRef(
            id=int(aid),
            url=url,
            title=title,
            source=source,
            ai_generated=bool(ai),
            sort_at=ts_out(sort_at),
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
