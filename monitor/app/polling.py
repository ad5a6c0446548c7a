"""Polling sources: claim the due ones, fetch them, store what came, record the outcome.

A poll's network work happens first, outside any transaction; everything it changes in
the database (articles, facts, story placement, validators, counters, alerts) then
commits in one transaction. ``MonitorError`` is caught here, once, and recorded on the
source; so is an unexpected error, so that one source cannot take the others down.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import re
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from monitor import memory
from monitor.app import bounded, metrics
from monitor.app.batches import BatchReport, store_batch
from monitor.app.runtime import Runtime
from monitor.errors import FetchError, MonitorError
from monitor.fetch.client import Fetcher, PollResult, Validators
from monitor.fetch.policy import next_poll_delay
from monitor.fetch.source_file import SourceSpec
from monitor.models import Source
from monitor.store import articles
from monitor.store import sources as sources_store
from monitor.store.db import driver_reason, session_scope
from monitor.values import FetchedArticle

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
        now = rt.lease_now(session)
        sources_store.sync_sources(session, [source_config(s) for s in specs], now)


def release_leases(rt: Runtime) -> int:
    """Give back every source this worker holds (a clean shutdown)."""
    with session_scope(rt.engine) as session:
        return sources_store.release_leases(session, worker=rt.worker)


Claims = list[tuple[SourceSpec, int]]


def _claim(rt: Runtime, limit: int | None, *, all_sources: bool) -> Claims:
    with session_scope(rt.engine) as session:
        rows = sources_store.claim_due(
            session,
            worker=rt.worker,
            now=rt.lease_now(session),
            lease_s=lease_seconds(rt),
            include_not_due=all_sources,
            limit=limit,
        )
        return [(spec_of(r), r.lease_token) for r in rows]


# Seconds a claim may take beyond SQLite's busy timeout: a PostgreSQL server that takes the
# query and never answers would hold the poll job for ever
CLAIM_LIMIT = 15.0


async def _claim_off_loop(rt: Runtime, limit: int | None, *, all_sources: bool) -> Claims:
    """:func:`_claim` in a thread of its own. A claim writes (it leases the rows), so on
    SQLite it waits for the store thread's transaction to end: on the event loop that
    froze every poll under way, and /healthz, for as long as the store took. A stop
    during the claim lets it end, then gives its sources back, as a cut-short poll
    does. A claim that outlasts its bound is the database not answering (an
    ``OperationalError``, which the daemon treats as an outage)."""
    limit_s = rt.settings.database.busy_timeout_ms / 1000 + CLAIM_LIMIT
    claim = asyncio.ensure_future(
        bounded.within(
            functools.partial(_claim, rt, limit, all_sources=all_sources),
            limit_s,
            name="monitor-claim",
        )
    )
    try:
        return await asyncio.shield(claim)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):  # not claimed, or not given back: leases end
            claims = await claim
            await bounded.within(
                functools.partial(_give_back_all, rt, claims),
                GIVE_BACK_LIMIT,
                name="monitor-give-back",
            )
        raise
    except TimeoutError as exc:
        raise sa.exc.OperationalError(
            "claim", None, TimeoutError(f"a claim got no answer within {limit_s:g} s")
        ) from exc


async def poll_due(
    rt: Runtime,
    fetcher: Fetcher,
    *,
    all_sources: bool = False,
    claim_for: float = 0.0,
    on_done: Callable[[BatchReport], None] | None = None,
) -> list[BatchReport]:
    """Poll the due sources (every active one with ``all_sources``).

    Claims are small and taken as polls finish, so that ``2 x concurrency`` polls are under
    way while sources are due, and a worker never holds more than it is polling: other
    workers share the rest. Claims of the sources due now stop after ``claim_for`` seconds
    (the daemon's tick: the next tick goes on); the polls under way are awaited, and while
    they run, a source that falls due is claimed too (every ``RECLAIM_S``): one slow
    source (a server trickling its bytes for 20 s) held every other until it ended, and a
    feed whose items last less than that lost them. ``on_done`` hears of each poll as it
    ends (the command line's progress).
    """
    _give_back_owed(rt)
    if all_sources:
        claims = await _claim_off_loop(rt, None, all_sources=True)

        async def one(spec: SourceSpec, token: int | None) -> BatchReport:
            report = await poll_source(rt, fetcher, spec, token=token)
            if on_done is not None:
                on_done(report)
            return report

        return list(await asyncio.gather(*(one(s, t) for s, t in claims)))
    limit = rt.settings.http.concurrency * 2
    deadline = time.monotonic() + claim_for
    in_flight: set[asyncio.Task[BatchReport]] = set()
    reports: list[BatchReport] = []
    more = True
    reclaim_at = time.monotonic() + RECLAIM_S
    try:
        while True:
            free = limit - len(in_flight)
            again = claim_for > 0 and bool(in_flight) and time.monotonic() >= reclaim_at
            # a claim per quarter of the slots: fewer, larger transactions than one per poll
            if (more or again) and (free >= max(1, limit // 4) or not in_flight):
                claims = await _claim_off_loop(rt, free, all_sources=False)
                more = len(claims) == free and time.monotonic() < deadline
                reclaim_at = time.monotonic() + RECLAIM_S
                in_flight |= {
                    asyncio.create_task(poll_source(rt, fetcher, s, token=t)) for s, t in claims
                }
            if not in_flight:
                return reports
            wait = max(0.0, reclaim_at - time.monotonic()) if claim_for > 0 else None
            done, in_flight = await asyncio.wait(
                in_flight, timeout=wait, return_when=asyncio.FIRST_COMPLETED
            )
            for t in done:
                reports.append(t.result())
                if on_done is not None:
                    on_done(reports[-1])
    except BaseException:
        # Shutting down (or a claim that failed): the polls under way are cancelled with
        # it and awaited, so each gives its source back before the caller closes the
        # client they fetch with (left running, they would fail on a closed client and be
        # recorded as faults, or hold their leases until they expire).
        for t in in_flight:
            t.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)
        raise


# Seconds between looks for sources that fell due while polls are under way
RECLAIM_S = 1.0

# Seconds a cancelled poll waits for the database to take its source back
GIVE_BACK_LIMIT = 15.0


def _give_back(rt: Runtime, name: str, token: int) -> None:
    with session_scope(rt.engine) as session:
        sources_store.give_back(session, name, token=token)


def _give_back_all(rt: Runtime, claims: Claims) -> None:
    with session_scope(rt.engine) as session:
        for spec, token in claims:
            sources_store.give_back(session, spec.name, token=token)


async def poll_source(
    rt: Runtime, fetcher: Fetcher, spec: SourceSpec, *, token: int | None = None
) -> BatchReport:
    report = BatchReport(source=spec.name)
    started = time.perf_counter()
    renewal = asyncio.create_task(_renew(rt, spec.name, token)) if token is not None else None
    store: Future[None] | None = None
    stop = threading.Event()
    try:
        validators, seen = _before_fetch(rt, spec)
        result = await fetcher.poll(spec, validators, seen=seen)
        # the articles handed over as a list the store empties a part at a time: a poll
        # of a feed of 30,000 items held all of them (43 MB) until the last part was
        # stored, on top of what storing them grows
        items = list(result.articles)
        result = dataclasses.replace(result, articles=())
        store = rt.store_thread().submit(_store_poll, rt, spec, result, report, token, stop, items)
        await asyncio.wrap_future(store)
    except asyncio.CancelledError:
        # Shutting down mid-poll: what was fetched and is not being stored yet is dropped
        # (a queued store is cancelled); a store under way ends the transaction of its
        # part (STORE_PART articles) and stores no more. Then the source is given back at
        # once, so that another worker polls it now rather than after the lease.
        stop.set()
        if store is not None and not store.cancel():
            with contextlib.suppress(Exception):
                await asyncio.wrap_future(store)
        if token is not None:
            try:
                # off the loop, and not for ever: a server that never answers would
                # hold the stop, deaf to signals
                await bounded.within(
                    functools.partial(_give_back, rt, spec.name, token),
                    GIVE_BACK_LIMIT,
                    name="monitor-give-back",
                )
            except (sa.exc.DBAPIError, TimeoutError) as exc:
                # the stop goes on: the next poll of this process gives it back, or the
                # lease ends
                _owe(rt, spec.name, token)
                log.warning(
                    "source %s not given back: %s; other workers poll it when its lease"
                    " ends, within %.0f s",
                    spec.name,
                    f"database unavailable ({driver_reason(exc)})"
                    if isinstance(exc, sa.exc.DBAPIError)
                    else f"the database did not answer within {GIVE_BACK_LIMIT:g} s",
                    lease_seconds(rt),
                )
        raise
    except sa.exc.OperationalError:
        # The database stopped answering (a restart): no source's fault, and nothing can
        # be recorded now. The daemon says so once; the source is given back as soon as
        # the database answers.
        _owe(rt, spec.name, token)
        raise
    except MonitorError as exc:
        with _owing(rt, spec.name, token):
            _record_failure(rt, spec, exc, report, token)
    except Exception as exc:
        # a bug must not take the other sources down with it, nor leave this one retried
        # at every lease expiry with nothing recorded
        log.exception("source %s: unexpected error", spec.name)
        wrapped = MonitorError(f"internal error: {type(exc).__name__}: {exc}")
        with _owing(rt, spec.name, token):
            _record_failure(rt, spec, wrapped, report, token, kind="internal")
    finally:
        if renewal is not None:
            renewal.cancel()
    _observe(report, time.perf_counter() - started)
    return report


def _owe(rt: Runtime, name: str, token: int | None) -> None:
    if token is not None:
        rt.owed_back[name] = token


@contextlib.contextmanager
def _owing(rt: Runtime, name: str, token: int | None) -> Iterator[None]:
    """Recording a poll's failure needs the database: if it is gone, the source is owed
    back instead of held until its lease expires."""
    try:
        yield
    except sa.exc.OperationalError:
        _owe(rt, name, token)
        raise


def _give_back_owed(rt: Runtime) -> None:
    """Give back the sources an outage left leased to this worker (before claiming
    anew, so that they are due again at once); raises while the database is still away."""
    for name, token in list(rt.owed_back.items()):
        with session_scope(rt.engine) as session:
            sources_store.give_back(session, name, token=token)
        del rt.owed_back[name]
        log.info("source %s given back after the database came back", name)


def _before_fetch(rt: Runtime, spec: SourceSpec) -> tuple[Validators, frozenset[str]]:
    """The source's validators, and the pages already stored (listings and full-article
    fetches do not fetch those again). Read on the event loop through the read-only
    engine, which never waits for the store thread's write (``Runtime.reader``)."""
    with session_scope(rt.reader()) as session:
        row = sources_store.by_name(session, spec.name)
        validators = Validators(
            etag=row.etag if row else None,
            last_modified=row.last_modified if row else None,
            content_hash=row.content_hash if row else None,
        )
        seen: frozenset[str] = frozenset()
        if row is not None and row.id is not None and (spec.kind == "html" or spec.fetch_full):
            seen = articles.seen_keys(session, row.id)
    return validators, seen


def _observe(report: BatchReport, seconds: float) -> None:
    if report.error:
        result = "error"
    elif report.not_modified:
        result = "not_modified"
    else:
        result = "partial" if report.partial else "ok"
    metrics.poll_observed(result, seconds, error_kind=report.error_kind)
    metrics.ARTICLES.inc(report.new)
    metrics.DUPLICATES.inc(report.duplicates)
    metrics.STORIES.inc(report.new_stories)
    for stage, spent in report.stages.seconds.items():
        metrics.STAGE_SECONDS.labels(stage).inc(spent)


def leased_elsewhere(rt: Runtime, polled: Collection[str]) -> list[tuple[str, str, datetime]]:
    """The active sources not in ``polled`` that another worker holds, as (name, worker,
    lease end): what `poll --once` left to it, said rather than skipped in silence."""
    with session_scope(rt.engine) as session:
        return [
            (row.name, row.lease_owner, row.lease_until)
            for row in sources_store.active_sources(session)
            if row.name not in polled and row.lease_owner is not None and row.lease_until
        ]


def lease_seconds(rt: Runtime) -> float:
    """How long a claim holds a source; a poll that lasts longer renews it (``_renew``)."""
    return rt.settings.schedule.lease


async def _renew(rt: Runtime, name: str, token: int) -> None:
    """Keep a long poll's lease (many pages of an HTML source): every third of the lease,
    extend it, as long as it is still ours. Off the event loop: the poll's own store
    holds the source's row while it stores, and waiting for it there froze the whole
    daemon (no other poll, no liveness answer) until the store ended. A row so held is
    tried again a third of the lease later; the store's commit records the poll."""
    while True:
        await asyncio.sleep(lease_seconds(rt) / 3)
        try:
            kept = await asyncio.to_thread(renew_once, rt, name, token)
        except sa.exc.OperationalError:  # held by the store (or SQLite's writer): later
            continue
        if not kept:
            return


def renew_once(rt: Runtime, name: str, token: int) -> bool:
    """Extend the lease of a poll under way by a whole lease from now (the database's
    clock); False when the lease was lost to another worker."""
    with session_scope(rt.engine) as session:
        until = rt.lease_now(session) + timedelta(seconds=lease_seconds(rt))
        return sources_store.renew_lease(session, name, token=token, until=until)


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
    payload = getattr(exc, "payload", None)
    saved = _save_for_triage(rt, spec.name, payload) if isinstance(payload, bytes) else None
    if saved is not None:
        log.warning("source %s: %s (the body's start is saved in %s)", spec.name, exc, saved)
    else:
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
            session, row, kind=kind, message=str(exc), next_delay_s=delay,
            now=rt.lease_now(session),
        )  # fmt: skip


TRIAGE_KEPT = 50  # bodies a parser crashed on, kept in DATA_DIR/triage (the newest)


def _save_for_triage(rt: Runtime, source: str, payload: bytes) -> Path | None:
    """The start of a body the feed parser crashed on, for whoever fixes the parser
    (RELIABILITY P2): one file per crash, the newest TRIAGE_KEPT kept. None when it
    cannot be written (the poll's failure is recorded all the same)."""
    folder = rt.settings.data_dir / "triage"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', source)[:80]}-{stamp}.xml"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)
    except OSError as exc:
        log.debug("source %s: the crashing body was not saved: %s", source, exc)
        return None
    try:
        by_age = sorted((p for p in folder.glob("*.xml") if p.is_file()), key=_age)
    except OSError:  # a folder that cannot be listed now: pruned at the next crash
        return path
    for old in by_age[:-TRIAGE_KEPT]:
        # one file that cannot go (another daemon's prune, permissions) stops no other
        with contextlib.suppress(OSError):
            old.unlink(missing_ok=True)
    return path


def _age(path: Path) -> tuple[int, str]:
    try:
        return path.stat().st_mtime_ns, path.name
    except OSError:  # pruned by another daemon since the listing: the oldest of all
        return 0, path.name


# Articles of one poll stored a transaction: a feed of 50,000 items was one transaction of
# ~80 s, which held SQLite's write lock (every other writer waited) and, at shutdown, the
# stop (a store under way ends its transaction first). Between two parts the write lock
# is free, and a stop is heard.
STORE_PART = 500


def _store_poll(
    rt: Runtime,
    spec: SourceSpec,
    result: PollResult,
    report: BatchReport,
    token: int | None,
    stop: threading.Event | None = None,
    items: list[FetchedArticle] | None = None,
) -> None:
    """Store a poll's articles, ``STORE_PART`` a transaction, and record the poll with the
    last. On ``stop`` (a shutdown) between two parts, the rest is left: the poll is not
    recorded, so the next one fetches it all again and stores what is not stored yet.
    ``items``, when given, are the articles instead of ``result``'s, and each part is
    taken out of the list as it is stored, to be let go."""
    report.not_modified = result.not_modified
    report.partial = result.partial
    report.warnings = tuple(result.warnings)
    if items is None:
        items = list(result.articles)
    n_parts = max(1, -(-len(items) // STORE_PART))
    rules = rt.rules  # one rule set for the whole poll, even if a reload swaps it
    for k in range(n_parts):
        if k and stop is not None and stop.is_set():
            return
        part = items[:STORE_PART]
        del items[:STORE_PART]
        with session_scope(rt.engine) as session:
            now = rt.store_now(session)  # see db.writer_now: no digest misses what it stores
            # locked until commit: a worker that claims the source meanwhile waits, and one
            # that claimed it before makes the token check below fail (PostgreSQL)
            row = sources_store.by_name(session, spec.name, lock=True)
            if row is None or row.id is None:
                raise MonitorError(f"source {spec.name!r} is not in the database")
            if not sources_store.holds_lease(row, token):
                # our lease expired and another worker claimed the source: its poll wins
                raise MonitorError(f"source {spec.name!r}: lease lost to {row.lease_owner}")
            store_batch(rt, session, rules, row.id, part, report, now=now)
            if k < n_parts - 1:
                continue
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
    if n_parts > 1:  # a large poll: what its articles took is free now (monitor.memory)
        memory.give_back()
