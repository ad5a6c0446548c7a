"""What the rule engine reads and writes: its input, its state rows and its alerts.

The application (``monitor.app.evaluation``) decides what to read for a rule set and
runs the engine; this module reads and writes the rows.

Alerts are inserted with ``ON CONFLICT (key) DO NOTHING``: the key is derived from the
event (rule, series, values, time), so evaluating the same facts twice, or again after a
restart that lost nothing but memory, inserts no second row (issue 6, point 5).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from monitor.models import Article, FactRow, Mention, RuleState, Source
from monitor.store.plain_sql import PlainSql, chunks
from monitor.values import (
    ArticleRef,
    EvalInput,
    Fact,
    FactRecord,
    MentionRecord,
    SourceRecord,
    StoryRecord,
)

log = logging.getLogger(__name__)

_CHUNK = 500  # ids per IN (...) list: SQLite caps bound parameters per statement

StateRows = dict[tuple[str, str], dict[str, Any]]


# ------------------------------------------------------------------ input


@dataclass(frozen=True, slots=True)
class StaleWatch:
    """What stale rules watch: entities, and (entity, metric) pairs."""

    entities: tuple[str, ...] = ()
    pairs: tuple[tuple[str, str], ...] = ()


def gather_input(
    session: Session,
    *,
    article_ids: Sequence[int] | None,
    since: datetime | None,
    now: datetime,
    lookback: timedelta,
    with_stories: bool = True,
    with_sources: bool = True,
    stale: StaleWatch = StaleWatch(),
    counted: tuple[frozenset[str], frozenset[str]] | None = None,
    with_activity: bool = True,
) -> EvalInput:
    """Facts and mentions of the given articles (else of those sorted at/after ``since``,
    else of all), with the stories of the ``lookback`` before them (frequency and spike
    counts) and the activity times ``stale`` asks for.

    For a batch of new articles (``article_ids``), only the stories that share a company
    or a topic with the batch are read: a count that the batch does not touch cannot
    change, and reading every story of the window for every poll would make each poll
    cost as much as the whole window. ``counted`` (entities, topics) narrows them to the
    subjects that count rules watch; the batch's own stories are always read."""
    refs = article_refs(session, article_ids, since)
    facts = fact_records(session, refs)
    mentions = _mentions(session, refs)
    batch_story_ids = frozenset(r.story_id for r in refs.values() if r.story_id is not None)
    earliest = min((r.sort_at for r in refs.values()), default=now) - lookback
    stories: list[StoryRecord] = []
    if with_stories and article_ids is None:
        stories = _stories(session, earliest)
    elif with_stories and refs:
        entities = {f.fact.entity for f in facts if f.fact.entity}
        entities |= {m.entity for m in mentions if m.entity}
        entities |= _main_entities(session, batch_story_ids)
        topics = {m.name for m in mentions if m.kind == "topic"}
        if counted is not None:
            entities &= counted[0]
            topics &= counted[1]
        stories = _stories(session, earliest, subjects=(entities, topics), also=batch_story_ids)
    return EvalInput(
        facts=tuple(facts),
        mentions=tuple(mentions),
        stories=tuple(stories),
        batch_story_ids=batch_story_ids,
        sources=tuple(_sources(session)) if with_sources else (),
        last_seen=_last_seen(session, stale) if with_activity else {},
    )


def _main_entities(session: Session, story_ids: Iterable[int]) -> set[str]:
    sql = PlainSql(session)
    out: set[str] = set()
    for chunk in _in_chunks(story_ids):
        for (entity,) in sql.rows(
            f"SELECT main_entity FROM story WHERE id IN ({sql.marks(len(chunk))})"
            " AND main_entity IS NOT NULL",
            chunk,
        ):
            out.add(str(entity))
    return out


_ARTICLE_COLS = (
    "a.id, a.url, a.title, s.name, a.ai_generated, a.sort_at, a.story_id, a.duplicate_of,"
    " a.agent_name FROM article a JOIN source s ON s.id = a.source_id"
)


def stories_of(sql: PlainSql, article_ids: Iterable[int]) -> dict[int, int]:
    """The story of each of these articles that has one (what a copy filed without a
    story of its own counts as)."""
    out: dict[int, int] = {}
    for part in chunks(sorted(set(article_ids))):
        for aid, sid in sql.rows(
            f"SELECT id, story_id FROM article WHERE id IN ({sql.marks(len(part))})"
            " AND story_id IS NOT NULL",
            list(part),
        ):
            out[int(aid)] = int(sid)
    return out


def article_refs(
    session: Session, article_ids: Sequence[int] | None, since: datetime | None
) -> dict[int, ArticleRef]:
    """The articles' references, in plain SQL on the driver's cursor: a batch reads them
    for every poll, and the ORM's row machinery cost more than the rows (issue 16)."""
    sql = PlainSql(session)
    rows: list[Any] = []
    if article_ids is not None:
        for part in chunks(sorted(set(article_ids))):
            rows += sql.rows(
                f"SELECT {_ARTICLE_COLS} WHERE a.id IN ({sql.marks(len(part))})", list(part)
            )
    elif since is not None:
        rows = sql.rows(f"SELECT {_ARTICLE_COLS} WHERE a.sort_at >= %s", [sql.types.ts_in(since)])
    else:
        rows = sql.rows(f"SELECT {_ARTICLE_COLS}", [])
    # a copy filed without a story counts as the story of the article it copies
    inherited = stories_of(sql, {r[7] for r in rows if r[6] is None and r[7] is not None})
    ts_out = sql.types.ts_out
    out: dict[int, ArticleRef] = {}
    for aid, url, title, source, ai, sort_at, story_id, duplicate_of, agent in rows:
        if story_id is None and duplicate_of is not None:
            story_id = inherited.get(duplicate_of)
        out[int(aid)] = ArticleRef(
            id=int(aid),
            url=url,
            title=title,
            source=source,
            ai_generated=bool(ai),
            sort_at=ts_out(sort_at),
            story_id=story_id,
            duplicate_of=duplicate_of,
            agent_name=agent,
        )
    return out


def _in_chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    ordered = sorted(ids)
    for i in range(0, len(ordered), _CHUNK):
        yield ordered[i : i + _CHUNK]


_FACT_COLS = (
    "id, article_id, entity, metric, value, unit, surface, quote, span_start, span_end,"
    " confidence, currency, period, qualifiers, approx, value_high, alt_value, alt_currency"
)


def fact_records(session: Session, refs: Mapping[int, ArticleRef]) -> list[FactRecord]:
    """The typed facts (with a metric) of the articles: what rules watch; the other
    figures are for stories and people."""
    sql = PlainSql(session)
    json_out = sql.types.json_out
    out = []
    for part in _in_chunks(refs):
        for (
            fid, aid, entity, metric, value, unit, surface, quote, start, end, confidence,
            currency, period, quals, approx, value_high, alt_value, alt_currency,
        ) in sql.rows(
            f"SELECT {_FACT_COLS} FROM fact WHERE article_id IN ({sql.marks(len(part))})"
            " AND metric IS NOT NULL ORDER BY id",
            part,
        ):  # fmt: skip
            qualifiers = json_out(quals) or {}
            fact = Fact(
                entity=entity,
                metric=metric,
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
            out.append(FactRecord(int(fid), refs[aid], fact))
    return out


def _mentions(session: Session, refs: Mapping[int, ArticleRef]) -> list[MentionRecord]:
    sql = PlainSql(session)
    out = []
    for part in _in_chunks(refs):
        for mid, aid, kind, name, value, quote, entity in sql.rows(
            "SELECT id, article_id, kind, name, value, quote, entity FROM mention"
            f" WHERE article_id IN ({sql.marks(len(part))}) ORDER BY id",
            part,
        ):
            out.append(MentionRecord(int(mid), refs[aid], kind, name, value, quote, entity))
    return out


def _stories(
    session: Session,
    earliest: datetime,
    *,
    subjects: tuple[set[str], set[str]] | None = None,
    also: Iterable[int] = (),
) -> list[StoryRecord]:
    """Stories with an article in the window, each dated by its earliest article; with
    ``subjects`` (entities, topics), only those that name one of them, and those of
    ``also``. Plain SQL on the driver's cursor: every batch reads them."""
    sql = PlainSql(session)
    # The window's stories first, through the sort_at index, and the subjects checked on
    # each of them (by story id). Looking a company's facts up first (every fact of a
    # company, ever) costs what the history holds; its stories are looked up first (one
    # index entry a story, ever: ~0.1 µs each against a ~4 µs probe of a window story).
    # (``+story_id``: read through the sort_at index; offered the (story_id, sort_at)
    # index for the DISTINCT, SQLite scans it whole. NULL ids fall out at ``IN``.)
    recent = "SELECT DISTINCT +story_id FROM article WHERE sort_at >= %s"
    params: list[Any] = [sql.types.ts_in(earliest)]
    chosen = "SELECT story_id FROM recent"
    if subjects is not None:
        names, themes, extra = sorted(subjects[0]), sorted(subjects[1]), sorted(set(also))
        if not names and not themes and not extra:
            return []
        told = "SELECT 1 FROM article a JOIN mention m ON m.article_id = a.id WHERE"
        tests = []
        if names:
            marks = sql.marks(len(names))
            tests += [
                # the companies' stories of all time, read from ix_story_scan alone and
                # tested as a set: probing each window story's row took 40 ms a batch
                # for the 15,413 stories of 40,000 undated articles, the set 10 ms
                # (8 of them the window's own read); it grows with the companies'
                # stories ever told, not with the window
                f"r.story_id IN (SELECT id FROM story WHERE main_entity IN ({marks}))",
                f"EXISTS (SELECT 1 FROM fact f WHERE f.story_id = r.story_id"
                f" AND f.entity IN ({marks}))",
                f"EXISTS ({told} a.story_id = r.story_id AND m.entity IN ({marks}))",
            ]
            params += names * 3
        if themes:
            # The story's own mentions, by article: SQLite (no statistics) otherwise reads
            # every mention of the topic ever through the name index, once per story of
            # the window: 38 s a batch at 50,000 stored articles with one topic in a
            # quarter of them, against 0.19 s. Unary + keeps it off that index.
            name = "+m.name" if sql.dialect.name == "sqlite" else "m.name"
            tests.append(
                f"EXISTS ({told} a.story_id = r.story_id AND m.kind = 'topic'"
                f" AND {name} IN ({sql.marks(len(themes))}))"
            )
            params += themes
        if extra:
            tests.append(f"r.story_id IN ({sql.marks(len(extra))})")
            params += extra
        chosen = "SELECT r.story_id FROM recent r WHERE " + " OR ".join(tests)
    spans: dict[int, tuple[Any, bool]] = {}
    for sid, start, all_ai in sql.rows(
        f"WITH recent (story_id) AS ({recent})"
        " SELECT story_id, MIN(sort_at), MIN(CASE WHEN ai_generated THEN 1 ELSE 0 END)"
        f" FROM article WHERE story_id IN ({chosen}) GROUP BY story_id",
        params,
    ):
        if sid:
            spans[int(sid)] = (start, bool(all_ai))
    if not spans:
        return []
    entities: dict[int, set[str]] = defaultdict(set)
    topics: dict[int, set[str]] = defaultdict(set)
    titles: dict[int, str] = {}
    mains: dict[int, str] = {}
    for chunk in _in_chunks(spans):
        marks = sql.marks(len(chunk))
        for sid, title, main in sql.rows(
            f"SELECT id, title, main_entity FROM story WHERE id IN ({marks})", chunk
        ):
            titles[sid] = title
            if main:
                entities[sid].add(main)
                mains[sid] = main
        for sid, entity in sql.rows(
            "SELECT DISTINCT story_id, entity FROM fact"
            f" WHERE story_id IN ({marks}) AND entity IS NOT NULL",
            chunk,
        ):
            entities[sid].add(entity)
        for sid, kind, name, entity in sql.rows(
            "SELECT DISTINCT a.story_id, m.kind, m.name, m.entity FROM mention m"
            f" JOIN article a ON a.id = m.article_id WHERE a.story_id IN ({marks})",
            chunk,
        ):
            if kind == "topic":
                topics[sid].add(name)
            if entity:
                entities[sid].add(entity)
    out = []
    for sid, (start, all_ai) in spans.items():
        started = _utc(start)
        assert started is not None
        out.append(
            StoryRecord(
                id=sid,
                title=titles.get(sid, ""),
                started_at=started,
                entities=frozenset(entities[sid]),
                topics=frozenset(topics[sid]),
                ai_only=all_ai,
                main_entity=mains.get(sid),
            )
        )
    return out


def _utc(value: Any) -> datetime:
    """Aggregates (min/max) over a UTC column, as either dialect returns them."""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _sources(session: Session) -> list[SourceRecord]:
    q = select(
        col(Source.name), col(Source.last_new_item_at), col(Source.usual_gap_s), col(Source.active)
    )
    return [SourceRecord(n, at, gap, bool(active)) for n, at, gap, active in session.exec(q).all()]


def _last_seen(session: Session, stale: StaleWatch) -> dict[tuple[str, str], datetime]:
    """When the monitor last saw news of the entities and metrics that stale rules watch.

    First-seen time, not publication time: like a source's last new item, staleness is
    about what reaches the monitor (a backfill of old articles is not silence). A fact's
    ``created_at`` is its article's first-seen time (both are written in one step), which
    spares a join on the fact table; grouped queries, one per kind, whatever the rules.
    """
    entities = sorted(set(stale.entities))
    pairs = set(stale.pairs)
    out: dict[tuple[str, str], datetime] = {}

    def keep(key: tuple[str, str], value: Any) -> None:
        if value is not None:
            at = _utc(value)
            out[key] = max(out.get(key, at), at)

    if entities:
        for entity, at in session.exec(
            select(col(FactRow.entity), func.max(col(FactRow.created_at)))
            .where(col(FactRow.entity).in_(entities))
            .group_by(col(FactRow.entity))
        ).all():
            keep(("entity", str(entity)), at)
        for entity, at in session.exec(
            select(col(Mention.entity), func.max(col(Article.first_seen_at)))
            .join(Article, col(Article.id) == col(Mention.article_id))
            .where(col(Mention.entity).in_(entities))
            .group_by(col(Mention.entity))
        ).all():
            keep(("entity", str(entity)), at)
    if pairs:
        pair_entities = sorted({e for e, _ in pairs})
        metrics = sorted({m for _, m in pairs if m is not None})
        for entity, metric, at in session.exec(
            select(col(FactRow.entity), col(FactRow.metric), func.max(col(FactRow.created_at)))
            .where(col(FactRow.entity).in_(pair_entities), col(FactRow.metric).in_(metrics))
            .group_by(col(FactRow.entity), col(FactRow.metric))
        ).all():
            if (entity, metric) in pairs:
                keep(("metric", f"{entity}/{metric}"), at)
    return out


# ------------------------------------------------------------------ state


def prune_state(session: Session, keep: Iterable[str]) -> int:
    """Delete the state of rules whose id is not in ``keep``; returns rows deleted.

    An edited rule keeps its state under its id; only a removed id is forgotten.
    """
    kept = set(keep)
    rows = [r for r in session.exec(select(RuleState)).all() if r.rule_id not in kept]
    for row in rows:
        session.delete(row)
    return len(rows)


def load_state(session: Session) -> StateRows:
    sql = PlainSql(session)
    json_out = sql.types.json_out
    return {
        (rule_id, key): dict(json_out(state) or {})
        for rule_id, key, state in sql.rows("SELECT rule_id, key, state FROM rule_state", [])
    }


# State and first sightings are written once a batch, as one executemany each: a
# statement per row through SQLAlchemy's insert construct cost ~100 µs a row (compile
# cache lookup, JSON and stamp processors), ~7% of the worst-case pipeline's CPU.
_SAVE_STATE = (
    "INSERT INTO rule_state (rule_id, key, state, updated_at) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (rule_id, key) DO UPDATE"
    " SET state = excluded.state, updated_at = excluded.updated_at"
)
_FIRST_SIGHTING = (
    "INSERT INTO term (family, term, first_article_id, first_seen_at) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (family, term) DO NOTHING"
)


def save_state(
    session: Session, updates: Mapping[tuple[str, str], Mapping[str, Any]], now: datetime
) -> None:
    if not updates:
        return
    sql = PlainSql(session)
    t = sql.types
    stamp = t.ts_in(now)
    sql.run_many(
        _SAVE_STATE,
        [
            (rule_id, key, t.json_in(dict(state)), stamp)
            for (rule_id, key), state in updates.items()
        ],
    )


# ------------------------------------------------------------------ terms


def record_terms(session: Session, batch: EvalInput) -> None:
    """First sightings of term-family names into ``term`` (for digests and listings).

    Rule state keeps its own first-seen set per rule; this table is the shared record of
    where each name first appeared (the article, dated by its place in time), whichever
    rules exist. A name already recorded keeps its first row.
    """
    firsts: dict[tuple[str, str], MentionRecord] = {}
    for m in sorted(batch.mentions, key=lambda m: (m.article.sort_at, m.article.id, m.id)):
        if m.kind == "term":
            firsts.setdefault((m.name, m.value), m)
    if not firsts:
        return
    sql = PlainSql(session)
    ts_in = sql.types.ts_in
    sql.run_many(
        _FIRST_SIGHTING,
        [
            (family, term, m.article.id, ts_in(m.article.sort_at))
            for (family, term), m in firsts.items()
        ],
    )
