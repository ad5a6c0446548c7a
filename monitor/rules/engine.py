"""Evaluate a rule set over a batch of stored facts and mentions. Pure: no I/O.

``evaluate`` takes the state rows the store holds and returns the alerts to insert and
the state rows to upsert. Evaluating the same batch again with the returned state gives
no new alert; evaluating it with lost state gives the same alert keys, which the store's
unique key turns into no new rows either (issue 6, point 5).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.rules.conflict import run_conflict
from monitor.rules.display import Names
from monitor.rules.events import run_counts, run_new_term, run_stale, run_topic
from monitor.rules.loader import Rule, RuleSet
from monitor.rules.rule_run import Ctx
from monitor.rules.schema import (
    ChangeSpec,
    ConflictSpec,
    FrequencySpec,
    NewTermSpec,
    SpikeSpec,
    StaleSpec,
    ThresholdSpec,
    TopicRuleSpec,
)
from monitor.rules.series import run_change, run_threshold
from monitor.values import AlertDraft, EvalInput, FactRecord, MentionRecord, StoryRecord

__all__ = ["AlertDraft", "EvalInput", "EvalResult", "evaluate"]

log = logging.getLogger(__name__)

State = Mapping[tuple[str, str], Mapping[str, Any]]


@dataclass(frozen=True)
class EvalResult:
    alerts: tuple[AlertDraft, ...]
    state: dict[tuple[str, str], dict[str, Any]]  # the state rows to upsert
    errors: tuple[str, ...] = ()  # rules that failed on this batch (the others ran)


def evaluate(
    rules: RuleSet,
    batch: EvalInput,
    state: State,
    now: datetime,
    *,
    on_rule: Callable[[str], None] | None = None,
) -> EvalResult:
    """Run every enabled rule over ``batch`` with ``state``; ``on_rule`` hears of each
    rule done (a replay's progress)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    names = Names(rules.vocabulary)
    updates: dict[tuple[str, str], dict[str, Any]] = {}
    drafts: list[AlertDraft] = []
    errors: list[str] = []
    stories = {s.id: s for s in batch.stories}
    # index once: each rule then looks only at its own metric's facts, its family's terms
    by_metric: dict[tuple[str | None, str | None], list[FactRecord]] = defaultdict(list)
    for rec in batch.facts:
        by_metric[(rec.fact.metric, None)].append(rec)
        by_metric[(rec.fact.metric, rec.fact.entity)].append(rec)
    by_name: dict[str, list[MentionRecord]] = defaultdict(list)
    for m in batch.mentions:
        by_name[m.name].append(m)
    by_subject: dict[str, list[StoryRecord]] = defaultdict(list)
    for story in batch.stories:
        for entity in story.entities:
            by_subject[f"entity:{entity}"].append(story)
        for topic in story.topics:
            by_subject[f"topic:{topic}"].append(story)
    index = _Index(by_metric, by_name, stories, by_subject)
    for rule in rules.rules:
        if not rule.spec.enabled:
            continue
        ctx = Ctx(rule, names, state, {}, now)
        try:
            _run(ctx, rule, batch, index, now)
        except Exception as exc:
            log.exception("rule %s failed", rule.id)
            errors.append(f"{rule.file}:{rule.line}: rule {rule.id}: {exc!r}")
            if on_rule is not None:
                on_rule(rule.id)
            continue
        updates.update(ctx.updates)
        drafts.extend(ctx.drafts)
        if on_rule is not None:
            on_rule(rule.id)
    drafts.sort(key=lambda d: (d.at or now, d.rule_id, d.key))
    return EvalResult(tuple(drafts), updates, tuple(errors))


@dataclass(frozen=True)
class _Index:
    facts: Mapping[tuple[str | None, str | None], Sequence[FactRecord]]
    mentions: Mapping[str, Sequence[MentionRecord]]
    stories: Mapping[int, StoryRecord]
    by_subject: Mapping[str, Sequence[StoryRecord]]


def _run(ctx: Ctx, rule: Rule, batch: EvalInput, index: _Index, now: datetime) -> None:
    cond = rule.spec.condition
    if isinstance(cond, ChangeSpec):
        run_change(ctx, cond, index.facts.get((cond.metric, cond.entity), ()))
    elif isinstance(cond, ThresholdSpec):
        run_threshold(ctx, cond, index.facts.get((cond.metric, cond.entity), ()))
    elif isinstance(cond, ConflictSpec):
        run_conflict(ctx, cond, index.facts.get((cond.metric, cond.entity), ()))
    elif isinstance(cond, NewTermSpec):
        run_new_term(ctx, cond, index.mentions.get(cond.family, ()))
    elif isinstance(cond, TopicRuleSpec):
        run_topic(ctx, cond, index.mentions.get(cond.topic, ()), index.stories)
    elif isinstance(cond, FrequencySpec | SpikeSpec):
        subject = f"entity:{cond.entity}" if cond.entity else f"topic:{cond.topic}"
        run_counts(ctx, cond, batch, index.by_subject.get(subject, ()))
    elif isinstance(cond, StaleSpec):
        run_stale(ctx, cond, batch, now)
