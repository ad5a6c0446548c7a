"""When to poll a source next, and when its silence means something. Pure: no I/O.

A failing source is backed off exponentially but never disabled: an operator who fixes a
feed a week later should see it recover on its own (issue 3, RELIABILITY.md C7).
"""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta


def next_poll_delay(
    interval_s: float,
    consecutive_errors: int,
    *,
    retry_after: float | None = None,
    min_interval_s: float | None = None,
    max_backoff: float = 86400.0,
    rng: random.Random | None = None,
) -> float:
    """Seconds until the next poll of a source.

    * healthy: the source's interval, raised to ``min_interval_s`` (Cache-Control max-age
      or the feed's ``<ttl>``) but never beyond ``max_backoff``;
    * after ``n`` consecutive errors: ``interval * 2**n`` with up to 10 % jitter, capped at
      ``max_backoff`` (a day by default) so the source is retried at least daily;
    * ``retry_after`` (429/503, RFC 9110 section 10.2.3) is a floor, also capped.
    """
    interval = max(float(interval_s), 1.0)
    if min_interval_s is not None and min_interval_s > interval:
        interval = float(min_interval_s)
    delay = interval
    if consecutive_errors > 0:
        # 2**60 already exceeds any cap; bounding the exponent avoids float overflow
        delay = interval * float(2 ** min(consecutive_errors, 60))
        r = rng if rng is not None else random.Random()
        # jitter spreads the retries of many sources that failed together (one outage)
        delay *= 1.0 + 0.1 * r.random()
    if retry_after is not None and retry_after > delay:
        delay = float(retry_after)
    return min(delay, max_backoff)


def is_stale(
    last_new_item_at: datetime | None,
    usual_gap_s: float | None,
    now: datetime,
    factor: float,
) -> bool:
    """True when a source has produced nothing new for ``factor`` times its usual gap.

    A source that has never produced an item, or whose usual gap is unknown, is not
    called stale: there is nothing to compare against yet.
    """
    if last_new_item_at is None or usual_gap_s is None or usual_gap_s <= 0:
        return False
    return now - last_new_item_at > timedelta(seconds=usual_gap_s * factor)


def usual_gap(item_times: list[datetime]) -> float | None:
    """The median gap in seconds between consecutive new items, or None if fewer than 3."""
    times = sorted(item_times)
    if len(times) < 3:
        return None
    gaps = sorted((b - a).total_seconds() for a, b in itertools.pairwise(times))
    mid = len(gaps) // 2
    return gaps[mid] if len(gaps) % 2 else (gaps[mid - 1] + gaps[mid]) / 2
