"""Rule kinds over a series of facts: change, threshold and conflict.

A series is one entity's metric narrowed by qualifiers (scope: china), currency and, if
asked, period. Change and threshold act on *confirmed* values only: a value is confirmed
when independent stories, weighted by trust, reach ``confirm.stories``. Copies and AI
rewrites of one announcement share a story, so they count once (issue 6, point 3).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from monitor.rules.context import Ctx, add_evidence, evidence_of, from_iso, iso
from monitor.rules.display import format_change, format_value
from monitor.rules.inputs import FactRecord
from monitor.rules.schema import ChangeSpec, ConflictSpec, SeriesSpec, ThresholdSpec

# Bounds, not values: "over $50 billion" says nothing about a change from $53 billion.
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
MAX_CANDIDATES = 12
MAX_CLAIMS = 60  # per series: the latest claim of each (story, source) in the window


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
    if spec.currency is not None and currency != spec.currency:
        if f.alt_currency != spec.currency or f.alt_value is None:
            return None
        # the same amount in the wanted currency, as the article gave it ("RMB 380 billion
        # ($53 billion)"): never our own conversion
        ratio = f.alt_value / f.value if f.value else 1.0
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
        "/".join(parts), value, high if high is not None else value, f.unit, currency, f.period, rec
    )


def _same(a: float, b: float, ctx: Ctx) -> bool:
    tol = ctx.rule.spec.confirm.same_within.size_at(max(abs(a), abs(b)))
    return abs(a - b) <= tol


def _describe(point: Point, value: float | None = None) -> str:
    shown = point.value if value is None else value
    return format_value(shown, point.unit, point.currency)


# ------------------------------------------------------------------ confirmation


def confirm(ctx: Ctx, st: dict[str, Any], point: Point) -> dict[str, Any] | None:
    """Add one fact's support; return the old confirmed value's record when a new one wins.

    Returns ``{"old": <previous confirmed or None>, "new": <new confirmed>}`` or None.
    """
    art = point.record.article
    w = ctx.weight(art)
    if w <= 0 or (point.record.fact.approx or "").casefold() in BOUND_WORDS:
        return None
    at = art.sort_at
    mid = (point.value + point.high) / 2
    horizon = at - ctx.rule.spec.confirm.within
    ev = evidence_of(art, point.record.fact.quote, value=mid, surface=point.record.fact.surface)
    confirmed = st.get("confirmed")
    if confirmed is not None and _same(mid, float(confirmed["value"]), ctx):
        stories = confirmed.setdefault("stories", [])
        if art.story_key not in stories:
            stories.append(art.story_key)
            del stories[:-20]
        return None
    superseded = [float(v) for v in st.get("superseded", [])]
    if (
        confirmed is not None
        and art.story_key in confirmed.get("stories", [])
        and any(_same(mid, old, ctx) for old in superseded)
    ):
        # "raised from RMB 380 billion to RMB 480 billion": a story that backs the current
        # value and names an old one is telling history, not reverting
        return None
    candidates: list[dict[str, Any]] = []
    for cand in st.get("candidates", []):
        support = {k: v for k, v in cand["support"].items() if from_iso(v[1]) >= horizon}
        if support:
            candidates.append({**cand, "support": support})
    cand = next((c for c in candidates if _same(mid, float(c["value"]), ctx)), None)
    if cand is None:
        cand = {"value": mid, "support": {}, "non_ai": False, "evidence": []}
        candidates.append(cand)
    old_w = cand["support"].get(art.story_key, [0.0, iso(at)])
    cand["support"][art.story_key] = [max(float(old_w[0]), w), iso(at)]
    cand["non_ai"] = bool(cand["non_ai"]) or not art.ai_generated
    add_evidence(cand["evidence"], ev)
    st["candidates"] = candidates[-MAX_CANDIDATES:]
    total = sum(float(v[0]) for v in cand["support"].values())
    needed = ctx.rule.spec.confirm.stories
    # Whatever the rule says, values backed only by AI writers need two independent
    # stories: one AI article with an odd number never moves a confirmed value.
    if total + 1e-9 < needed or (not cand["non_ai"] and len(cand["support"]) < 2):
        return None
    st["candidates"] = [c for c in st["candidates"] if c is not cand]
    new = {
        "value": cand["value"],
        "at": iso(at),
        "stories": sorted(cand["support"]),
        "evidence": cand["evidence"],
    }
    st["confirmed"] = new
    if confirmed is not None:
        st["superseded"] = [*st.get("superseded", []), confirmed["value"]][-5:]
    return {"old": confirmed, "new": new}


# ------------------------------------------------------------------ change


def run_change(ctx: Ctx, spec: ChangeSpec, records: Iterable[FactRecord]) -> None:
    for point in select(spec, records):
        st = ctx.get(point.series)
        if not ctx.fresh(point.series, st, point.record.article.id):
            continue
        event = confirm(ctx, st, point)
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
        title = f"{head}: {_describe(point, new)} (first confirmed value)"
    else:
        title = (
            f"{head}: {_describe(point, old)} -> {_describe(point, new)}{format_change(old, new)}"
        )
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
            f"{_describe(point, level)}: {_describe(point, value)}"
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


# ------------------------------------------------------------------ conflict


def _periods_agree(a: str | None, b: str | None) -> bool:
    # An unstated period agrees with any: articles often drop "over three years".
    return a is None or b is None or a.casefold() == b.casefold()


def _telling_change(points: list[Point], spec: ConflictSpec) -> set[tuple[int, str]]:
    """(article, series) pairs where the article itself gives values far apart.

    "from RMB 380 billion to RMB 480 billion" is one source telling a change; comparing
    its old figure with another source's new one would be a false conflict.
    """
    values: dict[tuple[int, str], list[float]] = {}
    for p in points:
        values.setdefault((p.record.article.id, p.series), []).append(p.value)
    return {
        key
        for key, vs in values.items()
        if max(vs) - min(vs) > spec.tolerance.size_at(max(abs(v) for v in vs))
    }


def run_conflict(ctx: Ctx, spec: ConflictSpec, records: Iterable[FactRecord]) -> None:
    points = select(spec, records)
    skip = _telling_change(points, spec)
    for point in points:
        art = point.record.article
        f = point.record.fact
        if ctx.weight(art) <= 0 or (f.approx or "").casefold() in BOUND_WORDS:
            continue
        if (art.id, point.series) in skip:
            continue
        st = ctx.get(point.series)
        if not ctx.fresh(point.series, st, art.id):
            continue
        horizon = art.sort_at - spec.within
        claims: dict[str, dict[str, Any]] = {
            k: c for k, c in st.get("claims", {}).items() if from_iso(c["at"]) >= horizon
        }
        # "story": only outlets covering the same story are compared; a figure that moved
        # between stories is a change, not a disagreement
        group = art.story_key if spec.compare == "story" else "*"
        claims[f"{group}|{art.source}"] = evidence_of(
            art,
            f.quote,
            value=point.value,
            high=point.high,
            surface=f.surface,
            period=point.period,
            display=_describe(point),
            group=group,
        )
        st["claims"] = dict(list(claims.items())[-MAX_CLAIMS:])
        _check_conflict(ctx, spec, st, point, group)
        ctx.put(point.series, st)


def _check_conflict(
    ctx: Ctx, spec: ConflictSpec, st: dict[str, Any], point: Point, group: str
) -> None:
    claims = [c for c in st["claims"].values() if c.get("group") == group]
    involved: dict[str, dict[str, Any]] = {}
    for i, a in enumerate(claims):
        for b in claims[i + 1 :]:
            if not _periods_agree(a.get("period"), b.get("period")):
                continue
            lo_a, hi_a = float(a["value"]), float(a["high"])
            lo_b, hi_b = float(b["value"]), float(b["high"])
            gap = max(lo_a - hi_b, lo_b - hi_a, 0.0)
            scale = max(abs(hi_a), abs(hi_b))
            if gap > spec.tolerance.size_at(scale):
                involved[a["source"]] = a
                involved[b["source"]] = b
    if not involved:
        return
    by_value: dict[str, list[dict[str, Any]]] = {}
    for claim in sorted(involved.values(), key=lambda c: (-float(c["value"]), c["source"])):
        by_value.setdefault(str(claim["display"]), []).append(claim)
    values_key = " vs ".join(sorted({f"{float(c['value']):.6g}" for c in involved.values()}))
    identity = f"{group}|{values_key}"
    fired = st.setdefault("fired", [])
    if identity in fired:
        return
    said = " vs ".join(
        f"{shown} ({', '.join(c['source'] for c in group)})" for shown, group in by_value.items()
    )
    f = point.record.fact
    at = point.record.article.sort_at
    values = sorted(float(c["value"]) for c in involved.values())
    before = len(ctx.drafts)
    ctx.emit(
        st,
        key=f"{point.series}|{identity}",
        at=at,
        title=f"{ctx.names.entity(f.entity)} {ctx.names.metric(f.metric)}: sources differ: {said}",
        entity=f.entity,
        metric=f.metric,
        old=values[0],
        new=values[-1],
        story_id=point.record.article.story_id,
        evidence=sorted(involved.values(), key=lambda c: str(c["at"])),
        claims=[
            {
                "source": c["source"],
                "value": c["value"],
                "display": c["display"],
                "surface": c["surface"],
                "quote": c["quote"],
                "url": c["url"],
                "ai_generated": c["ai_generated"],
                "agent": c.get("agent"),
            }
            for group in by_value.values()
            for c in group
        ],
        series=point.series,
        tolerance=str(spec.tolerance),
    )
    if len(ctx.drafts) > before:
        fired.append(identity)
        del fired[:-50]
