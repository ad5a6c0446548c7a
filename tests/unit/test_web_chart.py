"""The metric chart's geometry (``monitor.web.chart_svg``) and its SVG."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from selectolax.lexbor import LexborHTMLParser as HTMLParser

from monitor.web import chart_svg
from monitor.web.chart_svg import Flag, Level, Line, Value, draw
from monitor.web.templating import render

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def values(n: int, *, seed: int = 7) -> list[Value]:
    rng = random.Random(seed)
    return [
        Value(T0 + timedelta(hours=i), 50e9 + rng.uniform(-5e9, 5e9), f"src{i % 12}",
              i % 3 == 0, 10_000 + i, i + 1, "$50 billion", conflict=i == 17)
        for i in range(n)
    ]  # fmt: skip


def svg(chart: chart_svg.Chart) -> HTMLParser:
    return HTMLParser(render("chart.svg", chart=chart, title="test"))


def test_each_value_is_a_mark_inside_the_plot_with_what_it_stands_for() -> None:
    got = values(40)
    chart = draw(got, unit="money", currency="USD", max_marks=100)
    assert not chart.bucketed and len(chart.dots) == 40
    lo, hi = min(v.value for v in got), max(v.value for v in got)
    for d in chart.dots:
        assert chart.left <= d.cx <= chart.left + chart.plot_w
        assert chart.top <= d.cy <= chart.top + chart.plot_h
    low = min(chart.dots, key=lambda d: d.v.value)
    high = max(chart.dots, key=lambda d: d.v.value)
    assert low.v.value == lo and high.v.value == hi and low.cy > high.cy  # higher is up
    marks = svg(chart).css("g.marks circle")
    by_fact = {int(m.attributes["data-fact"] or 0): m for m in marks}
    for v in got:
        m = by_fact[v.fact_id]
        assert float(m.attributes["data-value"] or 0) == v.value
        assert m.attributes["data-source"] == v.source
        assert m.attributes["data-date"] == v.at.isoformat()
        assert ("ai" in (m.attributes["class"] or "").split()) == v.ai  # hollow: AI-written
    assert "conflict" in (by_fact[18].attributes["class"] or "")


def test_ten_thousand_values_are_drawn_as_columns_and_said_so() -> None:
    got = values(10_000)
    chart = draw(got, unit="money", currency="USD", max_marks=2000)
    assert chart.bucketed
    assert sum(c.count for c in chart.columns) == 10_000
    assert len(chart.columns) <= 2 * chart_svg.PLOT_W // chart_svg.COLUMN_PX
    assert [d.v.fact_id for d in chart.dots] == [18]  # the conflicting figure stays a mark
    for c in chart.columns:
        assert c.low <= c.median <= c.high and c.y_high <= c.y_mid <= c.y_low
    assert "More than 2,000 values" in chart.caption and "every value" in chart.caption
    out = render("chart.svg", chart=chart, title="t")
    assert len(out) < 400_000  # what a browser lays out, whatever the number of values
    groups = svg(chart).css("g.column")
    assert sum(int(g.attributes["data-count"] or 0) for g in groups) == 10_000


def test_baselines_step_and_levels_and_flags_are_placed() -> None:
    got = values(10)
    steps = [(T0 + timedelta(hours=2), 48e9), (T0 + timedelta(hours=6), 52e9)]
    chart = draw(
        got, unit="money", currency="USD", lines=[Line("r1: confirmed", steps)],
        levels=[Level("r2: above $60 billion", 60e9)], flags=[Flag(T0 + timedelta(hours=5), "x")],
    )  # fmt: skip
    (line,) = chart.lines
    points = [tuple(map(float, p.split(","))) for p in line.points.split()]
    # a step: flat at 48 until the second step's time, then up at that time, then flat
    assert (
        points[1][0] == points[2][0]
        and points[0][1] == points[1][1]
        and points[2][1] < points[1][1]
    )
    assert points[-1][0] == chart.left + chart.plot_w
    assert line.last_value == "$52 billion"
    ((level_y, label),) = chart.levels
    assert label == "r2: above $60 billion" and level_y < min(d.cy for d in chart.dots)
    assert len(chart.flags) == 1


def test_one_value_and_none() -> None:
    one = draw(values(1), unit="percent", currency=None)
    assert len(one.dots) == 1 and one.y_ticks and one.x_ticks
    assert draw([], unit="percent", currency=None).empty


def test_nice_steps() -> None:
    assert chart_svg.nice_step(10) == 2
    assert chart_svg.nice_step(1e10) == 2e9
    assert chart_svg.nice_step(0.3) == 0.05


def test_values_a_float_apart_are_one_level_not_an_endless_axis() -> None:
    """ "$1.07 billion" and "$1,070 million" are stored a last bit apart: the tick step was
    smaller than a float can add to the axis's start, and drawing looped for ever,
    allocating ticks. Now they are one level, and no axis has more than 20 ticks."""
    one, two = 1.07 * 1e9, 1070 * 1e6
    assert one != two
    pair = [
        Value(T0, one, "a", False, 1, 1, "$1.07 billion"),
        Value(T0 + timedelta(days=1), two, "b", False, 2, 2, "$1,070 million"),
    ]
    chart = draw(pair, unit="money", currency="USD")
    assert len(chart.dots) == 2 and 2 <= len(chart.y_ticks) <= chart_svg.MAX_Y_TICKS + 1
    assert len({d.cy for d in chart.dots}) == 1  # drawn at one height
    wide = [Value(T0, 1e17, "a", False, 1, 1, "x"), Value(T0, 1e17 + 16, "b", False, 2, 2, "y")]
    assert len(draw(wide, unit="count", currency=None).y_ticks) <= chart_svg.MAX_Y_TICKS + 1


def test_absurd_stored_values_are_left_out_of_the_drawing() -> None:
    """A value stored before extraction refused it (infinity, NaN, 1e300) ended the chart
    page in an OverflowError; it is left out, and the others drawn."""
    odd = [Value(T0, v, "x", False, 9, 9, "?") for v in (float("inf"), float("nan"), -1e305)]
    chart = draw(
        values(3) + odd,
        unit="money",
        currency="USD",
        levels=[Level("r", float("inf"))],
        lines=[Line("b", [(T0, float("-inf")), (T0 + timedelta(hours=1), 50e9)])],
    )
    assert len(chart.dots) == 3 and chart.y_ticks
    assert draw(odd, unit="money", currency="USD").empty
