"""Polling sources: claim the due ones, fetch them, store what came, record the outcome.

A poll's network work happens first, outside any transaction; everything it changes in
the database (articles, facts, story placement, validators, counters, alerts) then
commits in one transaction. ``MonitorError`` is caught here, once, and recorded on the
source; so is an unexpected error, so that one source cannot take the others down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from monitor.app.batches import BatchReport, store_batch
from monitor.app.runtime import Runtime
from monitor.errors import FetchError, MonitorError
from monitor.fetch.client import Fetcher, PollResult, Validators
from monitor.fetch.policy import next_poll_delay
from monitor.fetch.source_file import SourceSpec
from monitor.models import Source
from monitor.store import articles
from monitor.store import sources as sources_store
from monitor.store.db import session_scope

log = logging.getLogger(__name__)


def source_config(spec: SourceSpec) -> sources_store.SourceConfig:
    cfg: dict[str, object] = {"fetch_full": spec.fetch_full}
    if spec.selectors is not None:
        cfg["selectors"] = spec.selectors.model_dump(exclude_none=True)
    return sources_store.SourceConfig(
        name=spec.name,
        url=spec.url,
        kind=spec.kind,
        interval_s=spec.interval_s,
        tags=tuple(spec.tags),
        config=cfg,
    )


def spec_of(row: Source) -> SourceSpec:
    cfg = row.config or {}
    return SourceSpec.model_validate(
        {
            "name": row.name,
            "url": row.url,
            "kind": row.kind,
            "interval_s": row.interval_s,
            "tags": tuple(row.tags or ()),
            "selectors": cfg.get("selectors"),
            "fetch_full": bool(cfg.get("fetch_full", False)),
        }
    )


def sync_sources(rt: Runtime, specs: Sequence[SourceSpec]) -> None:
    with session_scope(rt.engine) as session:
        sources_store.sync_sources(session, [source_config(s) for s in specs], rt.clock())


async def poll_due(
    rt: Runtime, fetcher: Fetcher, *, all_sources: bool = False
) -> list[BatchReport]:
    """Claim the due sources (all active ones with ``all_sources``) and poll them."""
    # a tick claims at most two waves of requests, and the lease outlives both even
    # when every request runs to its deadline; the rest wait for the next tick
    http = rt.settings.http
    lease_s = http.total_timeout * 6 + 60
    with session_scope(rt.engine) as session:
        rows = sources_store.claim_due(
            session,
            worker=rt.worker,
            now=rt.clock(),
            lease_s=lease_s,
            include_not_due=all_sources,
            limit=None if all_sources else http.concurrency * 2,
        )
        claims = [(spec_of(r), r.lease_token) for r in rows]
    return list(await asyncio.gather(*(poll_source(rt, fetcher, s, token=t) for s, t in claims)))


async def poll_source(
    rt: Runtime, fetcher: Fetcher, spec: SourceSpec, *, token: int | None = None
) -> BatchReport:
    with session_scope(rt.engine) as session:
        row = sources_store.by_name(session, spec.name)
        validators = Validators(
            etag=row.etag if row else None,
            last_modified=row.last_modified if row else None,
            content_hash=row.content_hash if row else None,
        )
        # pages already stored are not fetched again (listings, full-article fetches)
        seen: frozenset[str] = frozenset()
        if row is not None and row.id is not None and (spec.kind == "html" or spec.fetch_full):
            seen = articles.seen_keys(session, row.id)
    report = BatchReport(source=spec.name)
    try:
        result = await fetcher.poll(spec, validators, seen=seen)
        _store_poll(rt, spec, result, report, token)
    except MonitorError as exc:
        _record_failure(rt, spec, exc, report, token)
    except Exception as exc:
        # a bug or a database fault must not take the other sources down with it, nor
        # leave this one retried at every lease expiry with nothing recorded
        log.exception("source %s: unexpected error", spec.name)
        wrapped = MonitorError(f"internal error: {type(exc).__name__}: {exc}")
        _record_failure(rt, spec, wrapped, report, token, kind="internal")
    return report


def _record_failure(
    rt: Runtime,
    spec: SourceSpec,
    exc: MonitorError,
    report: BatchReport,
    token: int | None,
    *,
    kind: str | None = None,
) -> None:
    kind = kind or (exc.kind if isinstance(exc, FetchError) else type(exc).__name__)
    retry_after = exc.retry_after if isinstance(exc, FetchError) else None
    report.error, report.error_kind = str(exc), kind
    log.warning("source %s: %s", spec.name, exc)
    with session_scope(rt.engine) as session:
        row = sources_store.by_name(session, spec.name, lock=True)
        if row is None or not sources_store.holds_lease(row, token):
            return
        delay = next_poll_delay(
            row.interval_s,
            row.error_count + 1,
            retry_after=retry_after,
            max_backoff=rt.settings.schedule.max_backoff,
            rng=rt.rng,
        )
        sources_store.record_failure(
            session, row, kind=kind, message=str(exc), next_delay_s=delay, now=rt.clock()
        )


def _store_poll(
    rt: Runtime, spec: SourceSpec, result: PollResult, report: BatchReport, token: int | None
) -> None:
    now = rt.clock()
    report.not_modified = result.not_modified
    report.partial = result.partial
    report.warnings = tuple(result.warnings)
    with session_scope(rt.engine) as session:
        # locked until commit: a worker that claims the source meanwhile waits, and one
        # that claimed it before makes the token check below fail (PostgreSQL)
        row = sources_store.by_name(session, spec.name, lock=True)
        if row is None or row.id is None:
            raise MonitorError(f"source {spec.name!r} is not in the database")
        if not sources_store.holds_lease(row, token):
            # our lease expired and another worker claimed the source: its poll wins
            raise MonitorError(f"source {spec.name!r}: lease lost to {row.lease_owner}")
        rules = rt.rules  # one rule set for the whole batch, even if a reload swaps it
        store_batch(rt, session, rules, row.id, result.articles, report, now=now)
        delay = next_poll_delay(
            row.interval_s,
            0,
            min_interval_s=result.min_interval_s,
            max_backoff=rt.settings.schedule.max_backoff,
            rng=rt.rng,
        )
        v = result.validators
        sources_store.record_success(
            session,
            row,
            etag=v.etag,
            last_modified=v.last_modified,
            content_hash=v.content_hash,
            new_items=report.new,
            next_delay_s=delay,
            now=now,
        )
