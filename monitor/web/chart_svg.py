"""The metric chart's geometry: values over time in an SVG the server draws.

Pure: marks, baselines and levels in, positions and labels out; ``templates/chart.svg``
draws them (autoescaped like every page), styled by ``static/style.css`` (the CSP allows
no inline style). One mark per article's figure, coloured by source, hollow when an AI
wrote the article. Past ``max_marks`` values a chart of one mark each is a smear, so each
column of the plot shows the range (a line) and median (a mark) of its values instead,
AI-written and not apart, and the caption says so; conflicting figures stay marks.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.rules.display import format_value

WIDTH, HEIGHT = 960, 380
LEFT, RIGHT, TOP, BOTTOM = 104, 24, 24, 44
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
COLUMN_PX = 4  # width of one column when values are bucketed
PALETTE = 8  # sources with a colour of their own; the others share one


@dataclass(slots=True)  # not frozen: a chart makes ten thousand, and frozen ones init slower
class Value:
    """One stored figure: what a mark stands for."""

    at: datetime
    value: float
    source: str
    ai: bool
    article_id: int
    fact_id: int
    surface: str
    conflict: bool = False


@dataclass(frozen=True, slots=True)
class Line:
    label: str
    steps: Sequence[tuple[datetime, float]]


@dataclass(frozen=True, slots=True)
class Level:
    label: str
    value: float


@dataclass(frozen=True, slots=True)
class Flag:
    at: datetime
    title: str


@dataclass(frozen=True, slots=True)
class Dot:
    cx: float
    cy: float
    cls: str
    v: Value


@dataclass(frozen=True, slots=True)
class Column:
    x: float
    y_low: float
    y_high: float
    y_mid: float
    cls: str
    count: int
    low: float
    high: float
    median: float
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Drawn:
    label: str
    points: str  # SVG polyline points
    cls: str
    last_value: str = ""


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    left: int
    top: int
    plot_w: int
    plot_h: int
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    dots: list[Dot]
    columns: list[Column]
    lines: list[Drawn]
    levels: list[tuple[float, str]]
    flags: list[tuple[float, str]]
    legend: list[tuple[str, str]]  # (source, colour class)
    caption: str
    bucketed: bool
    empty: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def nice_step(span: float, ticks: int = 6) -> float:
    raw = span / max(ticks, 1)
    if raw <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * power:
            return m * power
    return 10 * power


# Values closer than this, relative to their size, are drawn as one level: "$1.07 billion"
# and "$1,070 million" differ in the last bit a float holds, and a tick step that small
# added to the axis's start leaves it where it was.
_SAME_LEVEL = 1e-9
MAX_Y_TICKS = 20


def _y_range(values: Sequence[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if hi - lo <= max(abs(lo), abs(hi)) * _SAME_LEVEL:
        pad = abs(hi) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    step = nice_step(hi - lo)
    return math.floor(lo / step) * step, math.ceil(hi / step) * step


def _drawable(value: float) -> bool:
    return -1e300 < value < 1e300  # NaN is not


def _x_range(times: Sequence[datetime]) -> tuple[datetime, datetime]:
    lo, hi = min(times), max(times)
    if lo == hi:
        lo, hi = lo - timedelta(days=1), hi + timedelta(days=1)
    return lo, hi


def draw(
    values: Sequence[Value],
    *,
    unit: str,
    currency: str | None,
    lines: Sequence[Line] = (),
    levels: Sequence[Level] = (),
    flags: Sequence[Flag] = (),
    max_marks: int = 2000,
) -> Chart:
    # a value stored before extraction refused absurd figures (infinity, 1e300) is left
    # out: the axis's arithmetic would overflow
    values = [v for v in values if _drawable(v.value)]
    lines = [Line(ln.label, [(at, v) for at, v in ln.steps if _drawable(v)]) for ln in lines]
    levels = [lv for lv in levels if _drawable(lv.value)]
    if not values:
        return Chart(WIDTH, HEIGHT, LEFT, TOP, PLOT_W, PLOT_H, [], [], [], [], [], [], [], [],
                     "no values", False, empty=True)  # fmt: skip
    times = [v.at for v in values] + [at for line in lines for at, _ in line.steps]
    times += [f.at for f in flags]
    x0, x1 = _x_range(times)
    ys = [v.value for v in values] + [y for line in lines for _, y in line.steps]
    ys += [lv.value for lv in levels]
    y0, y1 = _y_range(ys)
    span = (x1 - x0).total_seconds()

    def x(at: datetime) -> float:
        return round(LEFT + (at - x0).total_seconds() / span * PLOT_W, 2)

    def y(v: float) -> float:
        return round(TOP + PLOT_H - (v - y0) / (y1 - y0) * PLOT_H, 2)

    by_count = Counter(v.source for v in values).most_common(PALETTE)
    colour = {source: f"s{i}" for i, (source, _) in enumerate(by_count)}

    def cls(source: str, ai: bool) -> str:
        return f"mark {colour.get(source, 'sx')} {'ai' if ai else 'human'}"

    bucketed = len(values) > max_marks
    dots: list[Dot] = []
    columns: list[Column] = []
    if not bucketed:
        dots = [Dot(x(v.at), y(v.value), cls(v.source, v.ai), v) for v in values]
    else:
        dots = [Dot(x(v.at), y(v.value), cls(v.source, v.ai), v) for v in values if v.conflict]
        columns = _columns(values, x0, span, x, y)
    step = nice_step(y1 - y0)
    count = min(round((y1 - y0) / step), MAX_Y_TICKS)
    y_ticks = [
        (y(tick), format_value(tick, unit, currency))
        for tick in (y0 + i * step for i in range(count + 1))
    ]
    fmt = "%Y-%m-%d" if span < 3 * 365 * 86400 else "%Y-%m"
    x_ticks = [
        (x(x0 + (x1 - x0) * i / 5), (x0 + (x1 - x0) * i / 5).strftime(fmt)) for i in range(6)
    ]
    drawn = [
        Drawn(
            line.label,
            _steps(line.steps, x, y, LEFT + PLOT_W),
            f"baseline b{i % 4}",
            format_value(line.steps[-1][1], unit, currency),
        )
        for i, line in enumerate(lines)
        if line.steps
    ]
    sources = len({v.source for v in values})
    ai = sum(1 for v in values if v.ai)
    caption = (
        f"{len(values):,} value(s) from {sources} source(s), {ai:,} of them in AI-written "
        "articles (hollow marks)"
    )
    if bucketed:
        caption += (
            f". More than {max_marks:,} values: each {COLUMN_PX}-pixel column shows the range "
            "(line) and median (mark) of its values, AI-written apart; conflicting figures "
            "are still drawn one by one. The table below lists every value."
        )
    legend = [(source, colour[source]) for source, _ in by_count]
    if len(colour) < sources:
        legend.append((f"{sources - len(colour)} other source(s)", "sx"))
    return Chart(
        WIDTH, HEIGHT, LEFT, TOP, PLOT_W, PLOT_H, x_ticks, y_ticks, dots, columns, drawn,
        [(y(lv.value), lv.label) for lv in levels], [(x(f.at), f.title) for f in flags],
        legend, caption, bucketed,
    )  # fmt: skip


def _steps(steps: Sequence[tuple[datetime, float]], x: object, y: object, right: float) -> str:
    """A step line: each confirmed value holds until the next one replaces it."""
    assert callable(x) and callable(y)
    pts: list[str] = []
    for i, (at, v) in enumerate(steps):
        if i:
            pts.append(f"{x(at)},{y(steps[i - 1][1])}")
        pts.append(f"{x(at)},{y(v)}")
    pts.append(f"{right},{y(steps[-1][1])}")
    return " ".join(pts)


def _columns(
    values: Sequence[Value], x0: datetime, span: float, x: object, y: object
) -> list[Column]:
    assert callable(x) and callable(y)
    n = max(1, PLOT_W // COLUMN_PX)
    groups: dict[tuple[int, bool], list[Value]] = {}
    for v in values:
        i = min(n - 1, int((v.at - x0).total_seconds() / span * n))
        groups.setdefault((i, v.ai), []).append(v)
    out = []
    for (i, ai), got in sorted(groups.items()):
        vals = [v.value for v in got]
        lo, hi, mid = min(vals), max(vals), statistics.median(vals)
        out.append(
            Column(
                x=round(LEFT + (i + 0.5) * PLOT_W / n, 2),
                y_low=y(lo),
                y_high=y(hi),
                y_mid=y(mid),
                cls="mark sx ai" if ai else "mark sx human",
                count=len(got),
                low=lo,
                high=hi,
                median=mid,
                start=min(v.at for v in got),
                end=max(v.at for v in got),
            )
        )
    return out
