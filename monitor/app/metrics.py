"""What the daemon counts for Prometheus (``/metrics``, served by ``monitor.probes``).

Counters and histograms are this process's (each worker is scraped on its own); the
gauges of the outbox and the sources are read from the database at each scrape, so every
worker reports the shared state the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine

from monitor.store import deliveries
from monitor.store.db import session_scope

POLLS = Counter("monitor_polls", "Polls of sources, by result.", ["result"])
POLL_ERRORS = Counter("monitor_poll_errors", "Failed polls, by kind of failure.", ["kind"])
POLL_SECONDS = Histogram(
    "monitor_poll_duration_seconds",
    "Time to poll one source: fetch, parse, store, place, extract, evaluate.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
ARTICLES = Counter("monitor_articles", "New articles stored.")
DUPLICATES = Counter("monitor_duplicates", "New articles that copy a stored one.")
STAGE_SECONDS = Counter(
    "monitor_stage_cpu_seconds",
    "CPU time of new articles' stages (store, extract, dedup, facts, rules, alerts).",
    ["stage"],
)
STORIES = Counter("monitor_stories", "New stories started.")
ALERTS = Counter("monitor_alerts", "Alerts fired, by severity.", ["severity"])
DELIVERED = Counter("monitor_deliveries", "Messages marked by this worker, by outcome.", ["status"])
PUBLICATION_TO_DELIVERY = Histogram(
    "monitor_publication_to_delivery_seconds",
    "From an alert's article (its publication, else when first seen) to the alert's delivery.",
    buckets=(1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600, 7200, 21600, 86400),
)
RULE_RELOAD_FAILURES = Counter(
    "monitor_rule_reload_failures", "Edits of rule files rejected (the last good kept)."
)
FILE_RELOAD_FAILURES = Counter(
    "monitor_file_reload_failures",
    "Edits of the sources or channels file rejected (the last good kept).",
    ["file"],
)


def poll_observed(result: str, seconds: float, *, error_kind: str | None = None) -> None:
    POLLS.labels(result).inc()
    POLL_SECONDS.observe(seconds)
    if error_kind:
        POLL_ERRORS.labels(error_kind).inc()


def delivered(status: str, *, published_at: datetime | None = None) -> None:
    DELIVERED.labels(status).inc()
    if status == "sent" and published_at is not None:
        PUBLICATION_TO_DELIVERY.observe(
            max(0.0, (datetime.now(UTC) - published_at).total_seconds())
        )


class OutboxGauges(Collector):
    """Messages in the outbox by state, and the dead letters, read at each scrape."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterable[GaugeMetricFamily]:
        try:
            with session_scope(self.engine) as session:
                counts = deliveries.counts(session)
        except sa.exc.DBAPIError:
            # the database is down: the scrape still gives the process's own metrics
            # (a 500 lost them all), and says so; the outbox is left out until it is back
            yield _database_up(0)
            return
        yield _database_up(1)
        states = GaugeMetricFamily(
            "monitor_outbox_messages", "Messages in the outbox, by state.", labels=["state"]
        )
        for state in deliveries.STATES:
            states.add_metric([state], counts.get(state, 0))
        yield states
        yield GaugeMetricFamily(
            "monitor_dead_letters",
            "Messages that could not be delivered and wait for `monitor deliveries retry`.",
            value=counts.get("dead", 0),
        )


def _database_up(up: int) -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "monitor_database_up",
        "1 when the database answered this scrape, 0 when it did not.",
        value=up,
    )
