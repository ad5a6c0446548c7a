"""The metric page (``/series/{entity}/{metric}``; ``/metrics`` is Prometheus's): every
extracted value over time as an SVG chart, the baseline the watching rules confirmed as
a step line, their thresholds, the conflicts they would raise, and below it the values
with their evidence, one page at a time."""

from __future__ import annotations

import bisect
import threading
from collections import Counter, OrderedDict

from sqlmodel import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from monitor.app import series
from monitor.rules.display import format_value
from monitor.rules.schema import SeriesSpec
from monitor.store import fact_pages, series_rows
from monitor.store.series_rows import SeriesPoint
from monitor.web import chart_svg, paging
from monitor.web.view import page, view_of

MOST = 50_000  # values read for one metric: the newest, said on the page when cut
CACHED = 16  # series kept in memory between requests

_lock = threading.Lock()
_points: OrderedDict[tuple[str, str, str], tuple[tuple[int, int], list[SeriesPoint]]] = (
    OrderedDict()
)


def points_of(session: Session, entity: str, metric: str) -> list[SeriesPoint]:
    """A series' values, kept between requests: a chart of 10,000 values is looked at far
    more often than it gains one, and when it gains some only those are read (facts are
    added with higher ids and pruned, never edited; a count that does not add up, after a
    prune, reads the series again)."""
    key = (str(session.get_bind().engine.url), entity, metric)
    version = series_rows.series_version(session, metric=metric, entity=entity)
    with _lock:
        got = _points.get(key)
    if got is not None and got[0] == version:
        points = got[1]
    elif got is not None and version[1] > got[0][1]:
        new = series_rows.series_points(
            session, metric=metric, entity=entity, limit=MOST, after_id=got[0][1]
        )
        if version[0] == got[0][0] + len(new):
            points = sorted([*got[1], *new], key=lambda p: (p.at, p.fact_id))[-MOST:]
        else:
            points = series_rows.series_points(session, metric=metric, entity=entity, limit=MOST)
    else:
        points = series_rows.series_points(session, metric=metric, entity=entity, limit=MOST)
    with _lock:
        _points[key] = (version, points)
        _points.move_to_end(key)
        while len(_points) > CACHED:
            _points.popitem(last=False)
    return points


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
    rules = view.rules()
    with view.reading() as session:
        points = points_of(session, entity, metric_id)
        replay = series.history(session, rules, entity, metric_id)
    if not points:
        raise HTTPException(404, f"no values of {metric_id} for {entity}")
    lines_of = [series.variant_of(p.unit, p.currency, p.qualifiers) for p in points]
    variants = Counter(lines_of)
    chosen = paging.text(request, "variant") or variants.most_common(1)[0][0]
    if chosen not in variants:
        raise HTTPException(404, f"no values of {metric_id} for {entity} as {chosen!r}")
    shown = [p for p, v in zip(points, lines_of, strict=True) if v == chosen]
    watchers = [
        r
        for r in series.watchers(rules, entity, metric_id)
        if isinstance(r.spec.condition, SeriesSpec) and series.watches(r.spec.condition, chosen)
    ]
    watching = {r.id for r in watchers}
    conflicts = [c for c in replay.conflicts if c.rule_id in watching]
    in_conflict = {a for c in conflicts for a in c.article_ids}
    unit, currency = shown[0].unit, shown[0].currency
    values = [
        chart_svg.Value(
            p.at, p.value, p.source, p.ai_generated, p.article_id, p.fact_id, p.surface,
            p.article_id in in_conflict,
        )
        for p in shown
    ]  # fmt: skip
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
    # the table: newest first, one keyset page, its evidence read for that page only
    start = 0
    cursor = paging.cursor(request)
    if cursor is not None:
        keys = [(p.at, p.fact_id) for p in shown]  # ascending
        start = len(shown) - bisect.bisect_left(keys, cursor)
    page_points = shown[::-1][start : start + view.page_size]
    with view.reading() as session:
        hits = fact_pages.search_facts(
            session, ids=[p.fact_id for p in page_points], typed_only=False, limit=view.page_size
        )
    more = start + view.page_size < len(shown)
    return page(
        request,
        "series.html",
        entity=entity,
        metric=metric_id,
        chart=chart,
        variants=sorted(variants.items(), key=lambda kv: -kv[1]),
        chosen=chosen,
        rows=hits,
        total=len(shown),
        cut=len(points) >= MOST,
        watchers=watchers,
        conflicts=conflicts,
        in_conflict=in_conflict,
        next=paging.link(
            request, before=paging.make_cursor(page_points[-1].at, page_points[-1].fact_id)
        )
        if more and page_points
        else None,
    )
