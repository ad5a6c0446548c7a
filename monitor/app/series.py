"""A metric's history for the chart: the rules that watch it, the baseline they
confirmed over time, their threshold levels and the conflicts they raised
(issue 15, point 2).

The baseline is what the daemon confirmed, read from what it stored: each change alert
is a step from its old to its new value (at the newest article that confirmed it), and
the rule's state holds the value confirmed now. Replaying the rules over a series of
10,000 facts to recompute it takes seconds (the engine's confirmation costs ~0.3 ms a
fact); the stored history is a few index lookups. Conflicts are the conflict alerts
stored for the metric, with the articles and values they name. Nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlmodel import Session

from monitor.rules.loader import Rule, RuleSet
from monitor.rules.schema import ChangeSpec, ConflictSpec, SeriesSpec, ThresholdSpec
from monitor.store import alerts as alert_rows
from monitor.store import rule_views


@lru_cache(maxsize=1024)
def variant_of(unit: str, currency: str | None, qualifiers: tuple[tuple[str, str], ...]) -> str:
    """Which line of the metric a value belongs on: its unit, currency and qualifiers
    ("money USD", "percent scope=china"). Dollars and yuan, or a global and a China
    share, are not one line. Kept: a chart asks it of each of 10,000 values, which share
    a handful of answers."""
    parts = [unit]
    if currency:
        parts.append(currency)
    parts += [f"{k}={v.casefold()}" for k, v in qualifiers]
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


def _at(evidence: list[Any]) -> datetime | None:
    """The newest article time among an alert's evidence."""
    times = [str(e["at"]) for e in evidence if isinstance(e, dict) and e.get("at")]
    return datetime.fromisoformat(max(times)) if times else None


def _first_at(evidence: list[Any]) -> datetime | None:
    times = [str(e["at"]) for e in evidence if isinstance(e, dict) and e.get("at")]
    return datetime.fromisoformat(min(times)) if times else None


def history(session: Session, rules: RuleSet, entity: str, metric: str) -> SeriesReplay:
    """Baselines, threshold levels and conflicts of the rules watching this metric, from
    the alerts and state they stored."""
    watching = watchers(rules, entity, metric)
    out = SeriesReplay()
    confirming = [
        r.id for r in watching if isinstance(r.spec.condition, ChangeSpec | ThresholdSpec)
    ]
    conflicting = {r.id for r in watching if isinstance(r.spec.condition, ConflictSpec)}
    for rule in watching:
        cond = rule.spec.condition
        if isinstance(cond, ThresholdSpec):
            if cond.above is not None:
                out.thresholds.append(Threshold(rule.id, cond.above, "above"))
            if cond.below is not None:
                out.thresholds.append(Threshold(rule.id, cond.below, "below"))
    steps: dict[tuple[str, str], list[Step]] = {}
    found = alert_rows.series_alerts(
        session, [*confirming, *conflicting], entity=entity, metric=metric
    )
    for a in found:
        key = str(a.payload.get("series") or f"{entity}/{metric}")
        evidence = list(a.payload.get("evidence", []))
        if a.rule in conflicting:
            out.conflicts.append(
                Conflict(
                    a.rule,
                    _at(evidence) or a.created_at or datetime.min,
                    a.title,
                    frozenset(int(e["article_id"]) for e in evidence if "article_id" in e),
                    tuple(float(e["value"]) for e in evidence if "value" in e),
                )
            )
            continue
        if a.new is None or (at := _at(evidence) or a.created_at) is None:
            continue
        line = steps.setdefault((a.rule, key), [])
        if not line and a.old is not None:
            before = _first_at(list(a.payload.get("previous_evidence", []))) or at
            line.append(Step(min(before, at), a.old))
        line.append(Step(at, a.new))
    for rule_id, key, state in rule_views.series_states(
        session, confirming, prefix=f"{entity}/{metric}/"
    ):
        confirmed = state.get("confirmed")
        if not isinstance(confirmed, dict) or "value" not in confirmed or "at" not in confirmed:
            continue
        line = steps.setdefault((rule_id, key), [])
        value, at = float(confirmed["value"]), datetime.fromisoformat(str(confirmed["at"]))
        if not line or line[-1].value != value:
            line.append(Step(max(at, line[-1].at) if line else at, value))
    out.baselines.extend(
        Baseline(rule_id, key, sorted(line, key=lambda s: s.at))
        for (rule_id, key), line in steps.items()
        if line
    )
    return out
