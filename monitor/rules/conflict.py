"""The conflict kind: independent sources give figures that disagree beyond a tolerance."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from monitor.rules.points import BOUND_WORDS, Point, describe, select
from monitor.rules.rule_run import Ctx, evidence_of, from_iso
from monitor.rules.schema import ConflictSpec
from monitor.values import FactRecord

MAX_CLAIMS = 60  # per series: the latest claim of each (story, source) in the window
# Exchange rates used by outlets for one amount drift within this share of each other
# (different days, different sources of the rate): "$53 billion" and "$52 billion" for
# RMB 380 billion are rates 1.9% apart.
RATE_TOLERANCE = 0.03
MAX_CONVERSIONS = 20  # amounts and rates remembered per series and currency


def _periods_agree(a: str | None, b: str | None) -> bool:
    # An unstated period agrees with any: articles often drop "over three years".
    return a is None or b is None or a.casefold() == b.casefold()


def _one_amount_converted(a: dict[str, Any], b: dict[str, Any], spec: ConflictSpec) -> bool:
    """Do both claims give the same amount in another currency, only converted apart?

    "$53 billion" and "$52 billion", each written as the conversion of "RMB 380
    billion", are one figure: the outlets used different exchange rates. The amount
    they were converted from decides.
    """
    sa, sb = a.get("converted_from"), b.get("converted_from")
    if not sa or not sb or sa[1] != sb[1]:
        return False
    va, vb = float(sa[0]), float(sb[0])
    return abs(va - vb) <= spec.tolerance.size_at(max(abs(va), abs(vb)))


def _note_conversion(st: dict[str, Any], point: Point) -> None:
    """Remember the amount a converted figure was given in and the rate it was converted
    at, for the series: what its articles said, not our own rates."""
    if point.source is None or not point.source[0] or not point.value:
        return
    amount, currency = float(point.source[0]), str(point.source[1])
    known = st.setdefault("conversions", {}).setdefault(currency, {"amounts": [], "rates": []})
    for key, v in (("amounts", amount), ("rates", point.value / amount)):
        held = [x for x in known[key] if abs(x - v) > 1e-9 * abs(v)]
        known[key] = [*held, v][-MAX_CONVERSIONS:]


def _one_amount_at_known_rates(st: dict[str, Any], a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Are both claims one amount the series' articles gave in another currency, each
    converted at a rate within ``RATE_TOLERANCE`` of one those articles used?

    An outlet that writes a bare "$52 billion" for the plan another gives as "RMB 380
    billion ($53 billion)" converted the same amount at another rate: 52/380 is 1.9% from
    53/380. A different amount ("$60 billion", a rate 13% away) is a real disagreement.
    """
    va, vb = float(a["value"]), float(b["value"])
    for known in st.get("conversions", {}).values():
        rates = known["rates"]

        def at_a_rate(v: float, amount: float, rates: list[float] = rates) -> bool:
            return any(abs(v / amount - r) <= RATE_TOLERANCE * abs(r) for r in rates)

        if any(at_a_rate(va, s) and at_a_rate(vb, s) for s in known["amounts"] if s):
            return True
    return False


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
        _note_conversion(st, point)
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
            display=describe(point),
            group=group,
            converted_from=list(point.source) if point.source is not None else None,
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
            # both ways in time: an old article arriving late meets newer claims
            if abs(from_iso(a["at"]) - from_iso(b["at"])) > spec.within:
                continue
            if _one_amount_converted(a, b, spec) or _one_amount_at_known_rates(st, a, b):
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
