"""The metric page (``/series/{entity}/{metric}``; ``/metrics`` is Prometheus's): every
extracted value over time as an SVG chart, the baseline the watching rules confirmed as
a step line, their thresholds, the conflicts they would raise, and below it the values
with their evidence, one page at a time."""

from __future__ import annotations

import bisect
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from datetime import datetime

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from monitor.app import series
from monitor.rules.display import format_value
from monitor.rules.loader import RuleSet
from monitor.rules.schema import SeriesSpec
from monitor.store import series_rows
from monitor.values import FactRecord
from monitor.web import chart_svg, paging
from monitor.web.view import page, view_of

MOST = 50_000  # values read for one metric: the newest, said on the page when cut

_lock = threading.Lock()
_replays: OrderedDict[tuple[object, ...], series.SeriesReplay] = OrderedDict()
_CACHED = 32


def _replay(
    rules: RuleSet, entity: str, metric: str, records: Sequence[FactRecord], now: datetime
) -> series.SeriesReplay:
    """The rules' replay of this series, kept while neither the facts nor the rules
    watching it change (a chart is looked at more often than it gains a value)."""
    watching = tuple(
        (r.id, r.spec.model_dump_json()) for r in series.watchers(rules, entity, metric)
    )
    key = (entity, metric, len(records), records[-1].id if records else 0, watching)
    with _lock:
        got = _replays.get(key)
        if got is not None:
            _replays.move_to_end(key)
            return got
    got = series.replay(rules, entity, metric, records, now)
    with _lock:
        _replays[key] = got
        while len(_replays) > _CACHED:
            _replays.popitem(last=False)
    return got


def _key_matches(series_key: str, variant: str) -> bool:
    """Whether a rule's series key (entity/metric/currency/k=v...) is this variant's line."""
    parts = series_key.split("/")
    currency = parts[2] if len(parts) > 2 else "-"
    quals = {p for p in parts[3:] if not p.startswith("period=")}
    words = variant.split()[1:]
    want_currency = next((w for w in words if "=" not in w), "-")
    return currency == want_currency and quals == {w for w in words if "=" in w}


def metric(request: Request) -> Response:
    view = view_of(request)
    entity, metric_id = request.path_params["entity"], request.path_params["metric"]
    with view.reading() as session:
        records = series_rows.series_records(session, metric=metric_id, entity=entity, limit=MOST)
    if not records:
        raise HTTPException(404, f"no values of {metric_id} for {entity}")
    variants = Counter(series.variant_of(r.fact) for r in records)
    chosen = paging.text(request, "variant") or variants.most_common(1)[0][0]
    if chosen not in variants:
        raise HTTPException(404, f"no values of {metric_id} for {entity} as {chosen!r}")
    shown = [r for r in records if series.variant_of(r.fact) == chosen]
    rules = view.rules()
    replay = _replay(rules, entity, metric_id, records, view.clock())
    watchers = [
        r
        for r in series.watchers(rules, entity, metric_id)
        if isinstance(r.spec.condition, SeriesSpec) and series.watches(r.spec.condition, chosen)
    ]
    watching = {r.id for r in watchers}
    conflicts = [c for c in replay.conflicts if c.rule_id in watching]
    in_conflict = {a for c in conflicts for a in c.article_ids}
    unit = shown[0].fact.unit
    currency = shown[0].fact.currency
    values = [
        chart_svg.Value(
            r.article.sort_at,
            r.fact.value,
            r.article.source,
            r.article.ai_generated,
            r.article.id,
            r.id,
            r.fact.surface,
            conflict=r.article.id in in_conflict,
        )
        for r in shown
    ]
    lines = [
        chart_svg.Line(f"{b.rule_id}: confirmed", [(s.at, s.value) for s in b.steps])
        for b in replay.baselines
        if b.rule_id in watching and _key_matches(b.series, chosen)
    ]
    levels = [
        chart_svg.Level(f"{t.rule_id}: {t.side} {format_value(t.level, unit, currency)}", t.level)
        for t in replay.thresholds
        if t.rule_id in watching
    ]
    flags = [chart_svg.Flag(c.at, c.title) for c in conflicts]
    chart = chart_svg.draw(
        values,
        unit=unit,
        currency=currency,
        lines=lines,
        levels=levels,
        flags=flags,
        max_marks=view.chart_marks,
    )
    # the table: newest first, one keyset page
    newest = shown[::-1]
    start = 0
    cursor = paging.cursor(request)
    if cursor is not None:
        keys = [(-r.article.sort_at.timestamp(), -r.id) for r in newest]
        start = bisect.bisect_right(keys, (-cursor[0].timestamp(), -cursor[1]))
    rows = newest[start : start + view.page_size]
    more = start + view.page_size < len(newest)
    return page(
        request,
        "series.html",
        entity=entity,
        metric=metric_id,
        chart=chart,
        variants=sorted(variants.items(), key=lambda kv: -kv[1]),
        chosen=chosen,
        rows=rows,
        total=len(shown),
        cut=len(records) >= MOST,
        watchers=watchers,
        conflicts=conflicts,
        in_conflict=in_conflict,
        baselines=lines,
        next=paging.link(request, before=paging.make_cursor(rows[-1].article.sort_at, rows[-1].id))
        if more and rows
        else None,
    )
