"""Rule kinds over a series of confirmed values: change and threshold.

A series is one entity's metric narrowed by qualifiers (scope: china), currency and, if
asked, period. Change and threshold act on *confirmed* values only: a value is confirmed
when independent stories, weighted by trust, reach ``confirm.stories``. Copies and AI
rewrites of one announcement share a story, so they count once (issue 6, point 3).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from monitor.rules.confirm import confirm
from monitor.rules.display import format_change
from monitor.rules.inputs import FactRecord
from monitor.rules.points import Point, describe, select
from monitor.rules.rule_run import Ctx, iso
from monitor.rules.schema import ChangeSpec, ThresholdSpec

# ------------------------------------------------------------------ change


def run_change(ctx: Ctx, spec: ChangeSpec, records: Iterable[FactRecord]) -> None:
    for point in select(spec, records):
        st = ctx.get(point.series)
        if not ctx.fresh(point.series, st, point.record.article.id):
            continue
        event = confirm(ctx, st, point, deadband=spec.by)
        ctx.put(point.series, st)
        if event is None:
            continue
        old = event["old"]
        new_value = float(event["new"]["value"])
        if old is None:
            if spec.first:
                _change_alert(ctx, st, point, None, new_value, event)
            continue
        old_value = float(old["value"])
        moved = new_value - old_value
        if (spec.direction == "up" and moved <= 0) or (spec.direction == "down" and moved >= 0):
            continue
        if spec.by.exceeded_by(old_value, new_value):
            _change_alert(ctx, st, point, old_value, new_value, event)


def _change_alert(
    ctx: Ctx,
    st: dict[str, Any],
    point: Point,
    old: float | None,
    new: float,
    event: dict[str, Any],
) -> None:
    f = point.record.fact
    names = ctx.names
    head = f"{names.entity(f.entity)} {names.metric(f.metric)}"
    if old is None:
        title = f"{head}: {describe(point, new)} (first confirmed value)"
    else:
        moved = format_change(old, new, point.unit)
        title = f"{head}: {describe(point, old)} -> {describe(point, new)}{moved}"
    at = point.record.article.sort_at
    old_ev = (event["old"] or {}).get("evidence", [])
    ctx.emit(
        st,
        key=f"{point.series}|{_k(old)}->{_k(new)}|{iso(at)}",
        at=at,
        title=title,
        entity=f.entity,
        metric=f.metric,
        old=old,
        new=new,
        story_id=point.record.article.story_id,
        evidence=event["new"]["evidence"],
        previous_evidence=old_ev,
        series=point.series,
        confirmed_by=event["new"]["stories"],
        unit=point.unit,
        currency=point.currency,
    )


def _k(value: float | None) -> str:
    return "none" if value is None else f"{value:.6g}"


# ------------------------------------------------------------------ threshold


def _zone(spec: ThresholdSpec, value: float, current: str | None) -> str:
    if spec.above is not None:
        # hysteresis: once above, stay "high" until the value falls past above - h
        margin = spec.hysteresis.size_at(spec.above) if current == "high" else 0.0
        if value > spec.above - margin:
            return "high"
    if spec.below is not None:
        margin = spec.hysteresis.size_at(spec.below) if current == "low" else 0.0
        if value < spec.below + margin:
            return "low"
    return "normal"


def run_threshold(ctx: Ctx, spec: ThresholdSpec, records: Iterable[FactRecord]) -> None:
    for point in select(spec, records):
        st = ctx.get(point.series)
        if not ctx.fresh(point.series, st, point.record.article.id):
            continue
        event = confirm(ctx, st, point)
        if event is not None:
            value = float(event["new"]["value"])
            current = st.get("zone")
            zone = _zone(spec, value, current)
            st["zone"] = zone
            if zone != current and zone in ("high", "low"):
                st["crossings"] = int(st.get("crossings", 0)) + 1
                _threshold_alert(ctx, st, spec, point, value, event, zone)
        ctx.put(point.series, st)


def _threshold_alert(
    ctx: Ctx,
    st: dict[str, Any],
    spec: ThresholdSpec,
    point: Point,
    value: float,
    event: dict[str, Any],
    zone: str,
) -> None:
    f = point.record.fact
    level = spec.above if zone == "high" else spec.below
    assert level is not None
    word = "above" if zone == "high" else "below"
    old = event["old"]
    old_value = float(old["value"]) if old else None
    at = point.record.article.sort_at
    ctx.emit(
        st,
        key=f"{point.series}|{word}|{st['crossings']}|{iso(at)}",
        at=at,
        title=(
            f"{ctx.names.entity(f.entity)} {ctx.names.metric(f.metric)} {word} "
            f"{describe(point, level)}: {describe(point, value)}"
        ),
        entity=f.entity,
        metric=f.metric,
        old=old_value,
        new=value,
        story_id=point.record.article.story_id,
        evidence=event["new"]["evidence"],
        series=point.series,
        level=level,
        side=word,
        unit=point.unit,
        currency=point.currency,
    )
