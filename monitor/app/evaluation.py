"""Rules over stored facts: evaluate a batch with stored state, or replay history.

The engine (``monitor.rules.engine``) is pure; this flow reads what a rule set needs from
the store (``monitor.store.rule_rows``), runs it, and writes the state and the alerts in
the caller's transaction.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlmodel import Session

from monitor.app import metrics
from monitor.rules.engine import evaluate
from monitor.rules.loader import RuleSet
from monitor.rules.schema import (
    FrequencySpec,
    SeriesSpec,
    SpikeSpec,
    StaleSpec,
    TopicRuleSpec,
)
from monitor.store import alerts, db, rule_rows, series_rows
from monitor.values import AlertDraft, EvalInput

log = logging.getLogger(__name__)

DEFAULT_WARMUP = timedelta(days=365)  # replay history read before the period shown


def lookback_for(rules: RuleSet) -> timedelta:
    """How far back story counts must reach for the windows these rules use."""
    longest = timedelta(days=1)
    for rule in rules.rules:
        cond = rule.spec.condition
        if isinstance(cond, SpikeSpec):
            longest = max(longest, cond.within + cond.baseline)
        elif isinstance(cond, FrequencySpec | TopicRuleSpec):
            longest = max(longest, cond.within)
    return longest


def needs_stories(rules: RuleSet) -> bool:
    """Whether any rule counts stories or looks at a story's entities."""
    kinds = (FrequencySpec, SpikeSpec, TopicRuleSpec)
    return any(isinstance(r.spec.condition, kinds) for r in rules.rules)


def needs_sources(rules: RuleSet) -> bool:
    """Whether a rule watches sources going quiet."""
    return any(isinstance(r.spec.condition, StaleSpec) for r in rules.rules)


def stale_watch(rules: RuleSet) -> rule_rows.StaleWatch:
    specs = [
        r.spec.condition
        for r in rules.rules
        if isinstance(r.spec.condition, StaleSpec) and r.spec.condition.entity is not None
    ]
    return rule_rows.StaleWatch(
        entities=tuple(sorted({s.entity for s in specs if s.entity and s.metric is None})),
        pairs=tuple(sorted({(s.entity, s.metric) for s in specs if s.entity and s.metric})),
    )


def gather_input(
    session: Session,
    rules: RuleSet,
    *,
    article_ids: Sequence[int] | None,
    since: datetime | None,
    now: datetime,
) -> EvalInput:
    """What ``rules`` need of the given articles (else of those sorted at/after ``since``,
    else of all)."""
    return rule_rows.gather_input(
        session,
        article_ids=article_ids,
        since=since,
        now=now,
        lookback=lookback_for(rules),
        with_stories=needs_stories(rules),
        # sources go quiet between batches, not in one: the periodic evaluation and a
        # replay read them, a batch of new articles does not
        with_sources=not article_ids and needs_sources(rules),
        # nor do entities: new articles make them fresher, never quiet
        with_activity=not article_ids,
        stale=stale_watch(rules),
        counted=counted_subjects(rules),
    )


def counted_subjects(rules: RuleSet) -> tuple[frozenset[str], frozenset[str]] | None:
    """The entities and topics that frequency and spike rules count stories of; None when
    one counts every story (no entity and no topic). A batch reads the window's stories
    of these subjects only: the others change no count."""
    entities: set[str] = set()
    topics: set[str] = set()
    for rule in rules.rules:
        cond = rule.spec.condition
        if isinstance(cond, FrequencySpec | SpikeSpec):
            if cond.entity is None and cond.topic is None:
                return None
            if cond.entity is not None:
                entities.add(cond.entity)
            else:
                topics.add(cond.topic or "")
    return frozenset(entities), frozenset(topics)


def run_rules(
    session: Session, rules: RuleSet, *, article_ids: Sequence[int] | None, now: datetime
) -> list[int]:
    """Gather, evaluate with stored state, save state and insert alerts: one transaction.
    Returns the ids of the new alerts."""
    db.writer_turn(session)  # rule state is read, changed and written back whole
    batch = gather_input(session, rules, article_ids=article_ids, since=None, now=now)
    rule_rows.record_terms(session, batch)
    result = evaluate(rules, batch, rule_rows.load_state(session), now)
    for error in result.errors:
        log.error("rule failed on this batch (the others ran): %s", error)
    rule_rows.save_state(session, result.state, now)
    ids = alerts.insert_alerts(session, result.alerts, now=now)
    for severity in alerts.severities(session, ids):
        metrics.ALERTS.labels(severity).inc()
    return ids


def prune_state(session: Session, rules: RuleSet) -> int:
    """Forget the state of rules no longer defined (after a reload); returns rows deleted."""
    return rule_rows.prune_state(session, (r.id for r in rules.rules))


def replay(
    session: Session,
    rules: RuleSet,
    *,
    since: datetime | None,
    now: datetime,
    warmup: timedelta | None = DEFAULT_WARMUP,
    on_rule: Callable[[str], None] | None = None,
    on_read: Callable[[int], None] | None = None,
) -> list[AlertDraft]:
    """What the rules would raise from ``since`` on, from blank state; writes nothing.

    The replay starts ``warmup`` before ``since`` so that values, known terms and windows
    are in place when the shown period begins (a change needs the value it changes from);
    alerts before ``since`` are not returned. ``warmup=None`` starts at ``since`` itself.
    """
    start = _read_from(since, warmup)
    batch = gather_input(session, rules, article_ids=None, since=start, now=now)
    _done_reading(session)
    if on_read is not None:
        on_read(len(batch.facts))
    drafts = evaluate(rules, batch, {}, now, on_rule=on_rule).alerts
    return [d for d in drafts if since is None or d.at is None or d.at >= since]


def _read_from(since: datetime | None, warmup: timedelta | None) -> datetime | None:
    """Where a replay's reading starts: ``warmup`` before ``since``; the beginning of
    history when that is before the first date there is (``--since 0001-01-02``)."""
    if since is None or warmup is None:
        return since
    try:
        return since - warmup
    except OverflowError:
        return None


def _done_reading(session: Session) -> None:
    """End the transaction that read a replay's history before the replay runs: it wrote
    nothing, and a replay of a long history takes seconds to minutes, which a transaction
    must not stay open for (SQLite's writers wait on it; PostgreSQL ends a session idle in
    a transaction, ``monitor.store.db.IDLE_IN_TRANSACTION``). The session goes on in a
    new transaction if it is used again."""
    session.commit()


def backtest(
    session: Session,
    rules: RuleSet,
    rule_id: str,
    *,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
    warmup: timedelta | None = DEFAULT_WARMUP,
    on_read: Callable[[int], None] | None = None,
) -> list[AlertDraft]:
    """What one rule would have fired in ``[since, until)``: ``replay`` of that rule
    alone, from blank state; writes nothing (the web view's backtest form).

    A change, threshold or conflict rule sees only its own metric's facts (the engine
    gives it nothing else), so only those are read; other kinds read the whole replay
    input. ``on_read`` is told how many facts were read, before they are replayed."""
    rule = rules.rule(rule_id)
    if rule is None:
        return []
    only = dataclasses.replace(rules, rules=(rule,))
    cond = rule.spec.condition
    if isinstance(cond, SeriesSpec):
        start = _read_from(since, warmup)
        records = series_rows.series_records(
            session, metric=cond.metric, entity=cond.entity, since=start, until=until
        )
        _done_reading(session)
        if on_read is not None:
            on_read(len(records))
        drafts = list(evaluate(only, EvalInput(facts=tuple(records)), {}, now).alerts)
        drafts = [d for d in drafts if since is None or d.at is None or d.at >= since]
    else:
        drafts = replay(session, only, since=since, now=now, warmup=warmup, on_read=on_read)
    return [d for d in drafts if until is None or d.at is None or d.at < until]
