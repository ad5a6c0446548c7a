"""The application as one object: settings, the database, the current rules and
channels, and a clock, with each flow of ``monitor.app`` as a method. The daemon and the
command line use it.

fetch -> store -> dedup -> extract -> rules -> notify -> deliver. Each flow lives in its
own module of ``monitor.app``; this class only holds what they share
(``monitor.app.runtime``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from monitor.app import digests, evaluation
from monitor.app.batches import BatchReport, ItemOutcome, store_batch
from monitor.app.digests import Recorded
from monitor.app.runtime import Clock, Runtime, utcnow
from monitor.notify.channels import Channel
from monitor.notify.view import DigestView
from monitor.store import sources as sources_store
from monitor.store.db import session_scope
from monitor.values import FetchedArticle

if TYPE_CHECKING:
    from monitor.app.extract_pool import Extracted
    from monitor.fetch.client import Fetcher
    from monitor.fetch.source_file import SourceSpec

__all__ = ["BatchReport", "Clock", "ItemOutcome", "Pipeline", "utcnow"]


class Pipeline(Runtime):
    # Polling (and the HTTP client under it) is imported where a poll runs: `monitor
    # ingest` of files starts without it.
    def sync_sources(self, specs: Sequence[SourceSpec]) -> None:
        from monitor.app import polling

        polling.sync_sources(self, specs)

    async def poll_due(
        self,
        fetcher: Fetcher,
        *,
        all_sources: bool = False,
        claim_for: float = 0.0,
        on_done: Callable[[BatchReport], None] | None = None,
    ) -> list[BatchReport]:
        from monitor.app import polling

        return await polling.poll_due(
            self, fetcher, all_sources=all_sources, claim_for=claim_for, on_done=on_done
        )

    async def poll_source(
        self, fetcher: Fetcher, spec: SourceSpec, *, token: int | None = None
    ) -> BatchReport:
        from monitor.app import polling

        return await polling.poll_source(self, fetcher, spec, token=token)

    def ingest(
        self,
        items: Sequence[FetchedArticle],
        *,
        source: str,
        extracted: Extracted | None = None,
    ) -> BatchReport:
        """Local articles through the same stages as a poll; alerts recorded and queued.
        ``extracted``: the items' extraction begun in worker processes (used when made
        with the current rules' vocabulary and none failed; else they are extracted here).
        """
        extractions = None
        if extracted is not None and extracted.vocab is self.rules.vocabulary:
            extractions = extracted.result()
        report = BatchReport(source=source)
        with session_scope(self.engine) as session:
            now = self.store_now(session)  # see db.writer_now: no digest misses these
            row = sources_store.ensure_source(session, source, f"file://{source}")
            assert row.id is not None
            store_batch(
                self, session, self.rules, row.id, items, report, now=now, extractions=extractions
            )
        return report

    def evaluate_idle(self) -> int:
        """Evaluate with no new article: what only the passing of time fires (stale rules)."""
        rules = self.rules
        if not rules.rules:
            return 0
        now = self.clock()
        with session_scope(self.engine) as session:
            ids = evaluation.run_rules(session, rules, article_ids=[], now=now)
            digests.immediate(self, session, ids, now=now)
            return len(ids)

    def forget_removed_rules(self) -> int:
        with session_scope(self.engine) as session:
            return evaluation.prune_state(session, self.rules)

    def preview(
        self, *, channel: Channel | None = None, since: datetime | None = None
    ) -> DigestView:
        return digests.preview(self, channel=channel, since=since)

    def record_digest(
        self, channel: Channel, *, window_key: str, until: datetime, wait: bool = False
    ) -> Recorded | None:
        return digests.record_window(self, channel, window_key=window_key, until=until, wait=wait)
