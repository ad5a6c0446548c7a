"""Milliseconds to build and render a 500-alert digest, in each format, with peers.

The digest (tests/unit/digest_samples.py ``many_alerts``) holds 500 alerts in 100 stories
of 20 companies, each alert with its quoted sentence, source and link. Rows: the pure
builder, then each renderer on the built view (the Slack row includes the JSON encoding
of every part, as sent). Peers measured in the same run: a bare Jinja2 loop over the alerts
with autoescape and nothing else (no grouping, no quotes shown once, no splitting), and
one JSON document of the alerts (the least a sender could post).
Each figure is the median of several runs.
Usage: python tests/bench/bench_digest.py [--quick]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import jinja2

from monitor.notify.digest import build_digest
from monitor.notify.render_html import render_html
from monitor.notify.render_slack import render_slack
from monitor.notify.render_text import render_text
from tests.unit.digest_samples import many_alerts

BARE = jinja2.Environment(autoescape=True).from_string(
    "<ul>{% for a in alerts %}<li>[{{ a.severity|upper }}] {{ a.title }}"
    "<blockquote>{{ a.evidence[0].quote }}</blockquote>"
    '<a href="{{ a.evidence[0].url }}">{{ a.evidence[0].source }}</a></li>{% endfor %}</ul>'
)


def median_ms(fn: Callable[[], Any], runs: int) -> float:
    fn()  # warm: templates compiled, caches filled
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    runs = 5 if "--quick" in sys.argv else 21
    news = many_alerts(500)
    n = sum(len(s.alerts) for c in news.companies for s in c.stories)
    view = build_digest(news)
    alerts = [a for c in news.companies for s in c.stories for a in s.alerts]
    parts = render_slack(view)

    def slack_json() -> None:
        for part in render_slack(view):
            json.dumps(part, ensure_ascii=False)

    def everything() -> None:
        v = build_digest(news)
        render_text(v)
        render_html(v)
        for part in render_slack(v):
            json.dumps(part, ensure_ascii=False)

    rows = [
        ("build (group, order, word, clean)", median_ms(lambda: build_digest(news), runs)),
        ("render text", median_ms(lambda: render_text(view), runs)),
        ("render HTML email (Jinja2, autoescape)", median_ms(lambda: render_html(view), runs)),
        (f"render Slack blocks + JSON ({len(parts)} parts)", median_ms(slack_json, runs)),
        ("build + all three formats", median_ms(everything, runs)),
        (
            "peer: json.dumps of the alerts, one message",
            median_ms(lambda: json.dumps([repr(a) for a in alerts]), runs),
        ),
        (
            "peer: bare Jinja2 loop, same alerts",
            median_ms(lambda: BARE.render(alerts=alerts), runs),
        ),
    ]
    print(f"digest of {n} alerts, {len(view.companies)} companies; median of {runs} runs")
    print(f"{'step':<46} {'ms':>8} {'us/alert':>9}")
    for name, ms in rows:
        print(f"{name:<46} {ms:>8.2f} {ms * 1000 / n:>9.1f}")


if __name__ == "__main__":
    main()
