"""The metric page (``/series/{entity}/{metric}``; ``/metrics`` is Prometheus's): every
extracted value over time as an SVG chart, the baseline the watching rules confirmed as
a step line, their thresholds, the conflicts they would raise, and below it the values
with their evidence, one page at a time."""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from markupsafe import Markup
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
from monitor.web.templating import render
from monitor.web.view import page, view_of

MOST = 50_000  # values read for one metric: the newest, said on the page when cut
CACHED = 16  # series kept in memory between requests

_lock = threading.Lock()
_series: OrderedDict[tuple[str, str, str], Series] = OrderedDict()
_charts: OrderedDict[tuple[object, ...], tuple[chart_svg.Chart, Markup]] = OrderedDict()


@dataclass(frozen=True, slots=True)
class Series:
    """A series' values as read at ``version``, split into its lines (variants)."""

    version: tuple[int, int]
    points: list[SeriesPoint]
    lines: dict[str, list[SeriesPoint]]  # by variant, in time order

    @classmethod
    def of(cls, version: tuple[int, int], points: list[SeriesPoint]) -> Series:
        lines: dict[str, list[SeriesPoint]] = {}
        for p in points:
            lines.setdefault(series.variant_of(p.unit, p.currency, p.qualifiers), []).append(p)
        return cls(version, points, lines)


def points_of(session: Session, entity: str, metric: str) -> Series:
    """A series' values, kept between requests: a chart of 10,000 values is looked at far
    more often than it gains one, and when it gains some only those are read (facts are
    added with higher ids and pruned, never edited; a count that does not add up, after a
    prune, reads the series again)."""
    key = (str(session.get_bind().engine.url), entity, metric)
    version = series_rows.series_version(session, metric=metric, entity=entity)
    with _lock:
        got = _series.get(key)
    if got is not None and got.version == version:
        return got
    if got is not None and version[1] > got.version[1]:
        new = series_rows.series_points(
            session, metric=metric, entity=entity, limit=MOST, after_id=got.version[1]
        )
        if version[0] == got.version[0] + len(new):
            points = sorted([*got.points, *new], key=lambda p: (p.at, p.fact_id))[-MOST:]
        else:
            points = series_rows.series_points(session, metric=metric, entity=entity, limit=MOST)
    else:
        points = series_rows.series_points(session, metric=metric, entity=entity, limit=MOST)
    made = Series.of(version, points)
    with _lock:
        _series[key] = made
        _series.move_to_end(key)
        while len(_series) > CACHED:
            _series.popitem(last=False)
    return made


def _chart(
    key: tuple[object, ...], make: Callable[[], chart_svg.Chart], title: str
) -> tuple[chart_svg.Chart, Markup]:
    """The chart and its SVG, kept while nothing it is drawn from changes (the series'
    version, the line, the baselines, levels and conflicts): drawing 10,000 values and
    writing the SVG is most of a metric page's time."""
    with _lock:
        got = _charts.get(key)
        if got is not None:
            _charts.move_to_end(key)
    if got is not None:
        return got
    chart = make()
    made = chart, Markup(render("chart.svg", chart=chart, title=title))
    with _lock:
        _charts[key] = made
        while len(_charts) > CACHED:
            _charts.popitem(last=False)
    return made


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
        got = points_of(session, entity, metric_id)
        replay = series.history(session, rules, entity, metric_id)
    if not got.points:
        raise HTTPException(404, f"no values of {metric_id} for {entity}")
    variants = {v: len(ps) for v, ps in got.lines.items()}
    chosen = paging.text(request, "variant") or max(variants, key=lambda v: variants[v])
    if chosen not in variants:
        raise HTTPException(404, f"no values of {metric_id} for {entity} as {chosen!r}")
    shown = got.lines[chosen]
    watchers = [
        r
        for r in series.watchers(rules, entity, metric_id)
        if isinstance(r.spec.condition, SeriesSpec) and series.watches(r.spec.condition, chosen)
    ]
    watching = {r.id for r in watchers}
    conflicts = [c for c in replay.conflicts if c.rule_id in watching]
    in_conflict = {a for c in conflicts for a in c.article_ids}
    unit, currency = shown[0].unit, shown[0].currency
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

    def draw() -> chart_svg.Chart:
        values = [
            chart_svg.Value(
                p.at, p.value, p.source, p.ai_generated, p.article_id, p.fact_id, p.surface,
                p.article_id in in_conflict,
            )
            for p in shown
        ]  # fmt: skip
        return chart_svg.draw(
            values,
            unit=unit,
            currency=currency,
            lines=lines,
            levels=levels,
            flags=flags,
            max_marks=view.chart_marks,
        )

    names = view.names()
    title = f"{names.entity(entity)} {names.metric(metric_id)}"
    key = (
        str(view.read.url), entity, metric_id, got.version, chosen, view.chart_marks,
        repr((lines, levels, flags)), frozenset(in_conflict), title,
    )  # fmt: skip
    chart, svg = _chart(key, draw, title)
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
        chart_svg=svg,
        variants=sorted(variants.items(), key=lambda kv: -kv[1]),
        chosen=chosen,
        rows=hits,
        total=len(shown),
        cut=len(got.points) >= MOST,
        watchers=watchers,
        conflicts=conflicts,
        in_conflict=in_conflict,
        next=paging.link(
            request, before=paging.make_cursor(page_points[-1].at, page_points[-1].fact_id)
        )
        if more and page_points
        else None,
    )
