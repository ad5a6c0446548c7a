"""A metric's history for the chart: its values, the rules that watch it, the baseline
those rules confirmed over time, and the conflicts they would raise (issue 15, point 2).

The baseline is the rule engine's own confirmation (``monitor.rules.confirm``) walked
over the series' facts in time order, exactly as ``run_change`` and ``run_threshold``
walk them, with the confirmed value noted after each fact: the engine keeps only the
current value, and the chart wants every step. Conflicts come from the engine itself
(``evaluate`` over this series alone: a conflict rule sees only its metric's facts).
Nothing is written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.rules.confirm import confirm
from monitor.rules.display import Names
from monitor.rules.engine import evaluate
from monitor.rules.loader import Rule, RuleSet
from monitor.rules.points import select
from monitor.rules.rule_run import Ctx
from monitor.rules.schema import ChangeSpec, ConflictSpec, SeriesSpec, ThresholdSpec
from monitor.values import EvalInput, Fact, FactRecord


def variant_of(fact: Fact) -> str:
    """Which line of the metric a fact belongs on: its unit, currency and qualifiers
    ("money USD", "percent scope=china"). Dollars and yuan, or a global and a China
    share, are not one line."""
    parts = [fact.unit]
    if fact.currency:
        parts.append(fact.currency)
    parts += [f"{k}={v.casefold()}" for k, v in fact.qualifiers]
    return " ".join(parts)


def watchers(rules: RuleSet, entity: str, metric: str) -> list[Rule]:
    """The enabled rules whose series this entity's metric is part of."""
    out = []
    for rule in rules.rules:
        cond = rule.spec.condition
        if (
            rule.spec.enabled
            and isinstance(cond, SeriesSpec)
            and cond.metric == metric
            and cond.entity in (None, entity)
        ):
            out.append(rule)
    return out


def watches(spec: SeriesSpec, variant: str) -> bool:
    """Whether a rule's series covers this variant: its qualifiers are the variant's,
    and its currency (when it names one) is the variant's."""
    words = set(variant.split())
    if spec.currency is not None and spec.currency not in words:
        return False
    return all(f"{k}={v.casefold()}" in words for k, v in spec.where.items())


@dataclass(frozen=True, slots=True)
class Step:
    at: datetime
    value: float


@dataclass(frozen=True, slots=True)
class Baseline:
    rule_id: str
    series: str  # the rule's series key (entity/metric/currency/qualifiers)
    steps: list[Step]


@dataclass(frozen=True, slots=True)
class Threshold:
    rule_id: str
    level: float
    side: str  # above | below


@dataclass(frozen=True, slots=True)
class Conflict:
    rule_id: str
    at: datetime
    title: str
    article_ids: frozenset[int]
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class SeriesReplay:
    baselines: list[Baseline] = field(default_factory=list)
    thresholds: list[Threshold] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)


def baseline(
    rule: Rule, names: Names, records: Sequence[FactRecord], now: datetime
) -> list[Baseline]:
    """The confirmed value after each fact, for each series of ``rule`` (change or
    threshold), as the engine confirms it; one step per new confirmed value."""
    cond = rule.spec.condition
    assert isinstance(cond, ChangeSpec | ThresholdSpec)
    ctx = Ctx(rule, names, {}, {}, now)
    deadband = cond.by if isinstance(cond, ChangeSpec) else None
    states: dict[str, dict[str, Any]] = {}
    steps: dict[str, list[Step]] = {}
    for point in select(cond, records):
        st = states.setdefault(point.series, {})
        event = confirm(ctx, st, point, deadband=deadband)
        if event is not None:
            steps.setdefault(point.series, []).append(
                Step(point.record.article.sort_at, float(event["new"]["value"]))
            )
    return [Baseline(rule.id, key, got) for key, got in steps.items()]


def replay(
    rules: RuleSet, entity: str, metric: str, records: Sequence[FactRecord], now: datetime
) -> SeriesReplay:
    """Baselines, threshold levels and conflicts of the rules watching this metric."""
    names = Names(rules.vocabulary)
    out = SeriesReplay()
    conflict_rules: list[Rule] = []
    for rule in watchers(rules, entity, metric):
        cond = rule.spec.condition
        if isinstance(cond, ChangeSpec | ThresholdSpec):
            out.baselines.extend(baseline(rule, names, records, now))
        if isinstance(cond, ThresholdSpec):
            if cond.above is not None:
                out.thresholds.append(Threshold(rule.id, cond.above, "above"))
            if cond.below is not None:
                out.thresholds.append(Threshold(rule.id, cond.below, "below"))
        if isinstance(cond, ConflictSpec):
            conflict_rules.append(rule)
    if conflict_rules:
        only = dataclasses.replace(rules, rules=tuple(conflict_rules))
        for draft in evaluate(only, EvalInput(facts=tuple(records)), {}, now).alerts:
            evidence = draft.payload.get("evidence", [])
            out.conflicts.append(
                Conflict(
                    draft.rule_id,
                    draft.at or now,
                    draft.title,
                    frozenset(int(e["article_id"]) for e in evidence if "article_id" in e),
                    tuple(float(e["value"]) for e in evidence if "value" in e),
                )
            )
    return out
