"""Backoff and staleness: never a permanent disable, never a silent source."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from monitor.fetch.policy import is_stale, next_poll_delay, usual_gap


def test_healthy_source_polls_at_its_interval() -> None:
    assert next_poll_delay(900, 0) == 900


def test_min_interval_from_cache_control_or_ttl_raises_the_interval() -> None:
    assert next_poll_delay(900, 0, min_interval_s=3600) == 3600
    assert next_poll_delay(900, 0, min_interval_s=60) == 900


def test_backoff_doubles_per_error_with_bounded_jitter() -> None:
    rng = random.Random(7)
    delays = [next_poll_delay(60, n, rng=rng) for n in range(1, 6)]
    for n, delay in enumerate(delays, start=1):
        assert 60 * 2**n <= delay <= 60 * 2**n * 1.1


def test_backoff_is_capped_at_a_day_and_never_disables() -> None:
    for errors in (20, 100, 10_000):
        delay = next_poll_delay(900, errors, rng=random.Random(1))
        assert delay == 86400.0
    assert next_poll_delay(900, 50, max_backoff=3600.0) == 3600.0


def test_retry_after_is_a_floor_but_still_capped() -> None:
    assert next_poll_delay(60, 1, retry_after=600, rng=random.Random(1)) == 600
    assert next_poll_delay(60, 1, retry_after=10**9) == 86400.0


def test_stale_after_factor_times_usual_gap() -> None:
    now = datetime(2026, 1, 10, tzinfo=UTC)
    hour = 3600.0
    assert not is_stale(now - timedelta(hours=3), hour, now, 4.0)
    assert is_stale(now - timedelta(hours=5), hour, now, 4.0)
    assert not is_stale(None, hour, now, 4.0)
    assert not is_stale(now - timedelta(days=30), None, now, 4.0)


def test_usual_gap_is_the_median_gap() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    times = [t0, t0 + timedelta(hours=1), t0 + timedelta(hours=2), t0 + timedelta(hours=30)]
    assert usual_gap(times) == 3600.0
    assert usual_gap(times[:2]) is None
