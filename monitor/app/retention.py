"""Retention: article bodies kept for a while, articles and facts kept longer, sent
messages pruned; run by the daemon once a day and by `monitor db prune`.

Nothing goes that is still needed: an article of a live story (one that had an article
within ``live_days``), an article the rules' state cites as evidence, the first sighting
of a model name, the original of a copy that stays. Dead letters stay until retried.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.app.runtime import Runtime
from monitor.dedup import minhash
from monitor.store import retention
from monitor.store.db import session_scope
from monitor.store.plain_sql import PlainSql

log = logging.getLogger(__name__)

BATCH = 1000  # articles considered per transaction: short transactions, bounded memory


@dataclass
class RetentionReport:
    bodies_dropped: int = 0
    articles_deleted: int = 0
    articles_kept: int = 0  # old enough, but still needed
    deliveries_deleted: int = 0


def prune(rt: Runtime, *, now: datetime | None = None) -> RetentionReport:
    r = rt.settings.retention
    now = now or rt.clock()
    live = now - timedelta(days=r.live_days)
    report = RetentionReport()
    with session_scope(rt.engine) as session:
        sql = PlainSql(session)
        report.deliveries_deleted = retention.delete_sent_deliveries(
            sql, sent_before=now - timedelta(days=r.delivery_days)
        )
        cited = retention.rule_state_articles(sql)
    last: int | None = 0
    while last is not None:  # bodies, batch by batch
        with session_scope(rt.engine) as session:
            n, last = retention.drop_bodies(
                PlainSql(session),
                seen_before=now - timedelta(days=r.text_days),
                live_since=live,
                after_id=last,
                limit=BATCH,
            )
        report.bodies_dropped += n
    after = 0
    while True:  # articles, batch by batch
        with session_scope(rt.engine) as session:
            sql = PlainSql(session)
            old = retention.old_articles(
                sql,
                seen_before=now - timedelta(days=r.article_days),
                live_since=live,
                after_id=after,
                limit=BATCH,
            )
            if not old:
                break
            after = old[-1][0]
            ids = [aid for aid, _ in old]
            keep = cited | retention.referenced(sql, ids)
            gone = [(aid, sig) for aid, sig in old if aid not in keep]
            report.articles_kept += len(old) - len(gone)
            if gone:
                stories = retention.stories_of(sql, [aid for aid, _ in gone])
                keys = [
                    (key, aid)
                    for aid, sig in gone
                    if sig is not None
                    for key in minhash.band_keys(sig)
                ]
                retention.delete_articles(sql, [aid for aid, _ in gone], keys)
                retention.recount_stories(sql, stories)
                report.articles_deleted += len(gone)
    if report.bodies_dropped or report.articles_deleted or report.deliveries_deleted:
        log.info(
            "retention: %d article bodies dropped, %d articles deleted (%d old ones still "
            "needed), %d sent messages deleted",
            report.bodies_dropped, report.articles_deleted, report.articles_kept,
            report.deliveries_deleted,
        )  # fmt: skip
    return report
