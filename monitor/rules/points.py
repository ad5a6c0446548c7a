"""Facts placed in their series: which facts a rule looks at, and what a series is.

A series is one entity's metric narrowed by qualifiers (scope: china), currency and, if
asked, period. Shared by change, threshold and conflict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from monitor.rules.display import format_value
from monitor.rules.rule_run import Ctx
from monitor.rules.schema import SeriesSpec
from monitor.values import FactRecord

BOUND_WORDS = frozenset(
    {
        "over",
        "more than",
        "at least",
        "above",
        "exceeding",
        "up to",
        "under",
        "less than",
        "below",
        "at most",
    }
)


@dataclass(frozen=True, slots=True)
class Point:
    """One fact placed in its series."""

    series: str  # the series key (also the state key)
    value: float
    high: float  # upper bound of a range, else == value
    unit: str
    currency: str | None
    period: str | None
    record: FactRecord
    # The same amount in another currency, as the article gave it: "$53 billion" said
    # as the conversion of "RMB 380 billion" carries (380e9, "CNY").
    source: tuple[float, str] | None = None


def select(spec: SeriesSpec, records: Iterable[FactRecord]) -> list[Point]:
    points = []
    for rec in records:
        point = _place(spec, rec)
        if point is not None:
            points.append(point)
    points.sort(key=lambda p: (p.record.article.sort_at, p.record.article.id, p.record.id))
    return points


def _place(spec: SeriesSpec, rec: FactRecord) -> Point | None:
    f = rec.fact
    if f.metric != spec.metric or f.entity is None:
        return None
    if spec.entity is not None and f.entity != spec.entity:
        return None
    if f.confidence < spec.min_confidence:
        return None
    quals = {k: v.casefold() for k, v in f.qualifiers}
    if any(quals.get(k) != v.casefold() for k, v in spec.where.items()):
        return None
    value, high, currency = f.value, f.value_high, f.currency
    source = (
        (f.alt_value, f.alt_currency)
        if f.alt_value is not None and f.alt_currency is not None
        else None
    )
    if spec.currency is not None and currency != spec.currency:
        if f.alt_currency != spec.currency or f.alt_value is None:
            return None
        # the same amount in the wanted currency, as the article gave it ("RMB 380 billion
        # ($53 billion)"): never our own conversion
        ratio = f.alt_value / f.value if f.value else 1.0
        source = (f.value, f.currency) if f.currency is not None else None
        value, high, currency = (
            f.alt_value,
            (high * ratio if high is not None else None),
            spec.currency,
        )
    if spec.period is not None and spec.period.casefold() not in (f.period or "").casefold():
        return None
    parts = [f.entity, f.metric, currency or "-"]
    parts += [f"{k}={v}" for k, v in sorted(quals.items())]
    if spec.per_period:
        parts.append(f"period={(f.period or '-').casefold()}")
    return Point(
        "/".join(parts),
        value,
        high if high is not None else value,
        f.unit,
        currency,
        f.period,
        rec,
        source,
    )


def same(a: float, b: float, ctx: Ctx) -> bool:
    tol = ctx.rule.spec.confirm.same_within.size_at(max(abs(a), abs(b)))
    return abs(a - b) <= tol


def near_any(ctx: Ctx, mid: float) -> Callable[[list[float]], bool]:
    """``any(same(mid, v, ctx) for v in values)``, with the tolerance read once: counting
    support tests every recent story's figures for every fact of a series."""
    within = ctx.rule.spec.confirm.same_within
    size, relative, m = within.value, within.relative, abs(mid)

    def near(values: list[float]) -> bool:
        for v in values:
            # same(): |a - b| <= size_at(max(|a|, |b|)), the same float operations
            top = m if m >= abs(v) else abs(v)
            if abs(mid - v) <= (top * size if relative else size):
                return True
        return False

    return near


def describe(point: Point, value: float | None = None) -> str:
    shown = point.value if value is None else value
    return format_value(shown, point.unit, point.currency)
