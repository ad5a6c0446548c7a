"""A poll's database reads and claims leave the event loop free while another thread
writes: on SQLite every transaction of the writing engine begins IMMEDIATE, and one run on
the loop while the store thread held the write lock froze the whole daemon (every other
poll, /healthz) until the store committed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.app import polling
from monitor.app.batches import BatchReport
from monitor.app.runtime import Runtime
from monitor.fetch.client import Fetcher
from monitor.models import Source
from monitor.rules.loader import EMPTY
from monitor.settings import Settings
from monitor.store import sources as sources_store
from monitor.store.db import driver_reason, make_engine, session_scope, upgrade
from tests.conftest import SEEDS

# Seconds the writer holds its lock at most: a loop frozen behind it is held as long
# (less than SQLite's busy timeout, so that the frozen read still succeeds after it)
HOLD_S = 3.0
# The longest turn of the loop allowed meanwhile: far less than HOLD_S, far more than a
# busy machine's scheduling hiccup
MAX_LAG_S = 1.0
TICK_S = 0.01


@pytest.fixture
def db(any_url: str) -> Iterator[Engine]:
    engine = make_engine(any_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@contextmanager
def feed_server() -> Iterator[tuple[str, threading.Event]]:
    """A feed on loopback; the event is set when a request for it arrives."""
    asked = threading.Event()
    body = (SEEDS / "feeds" / "markets.rss").read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.set()
            with suppress(OSError):
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/feed.rss", asked
    finally:
        server.shutdown()
        server.server_close()


class Writer:
    """The store thread in the middle of a store: its transaction holds SQLite's write
    lock (BEGIN IMMEDIATE), and with ``row`` the source's row (PostgreSQL), as
    ``_store_poll`` does, until ``release`` is set or HOLD_S has passed."""

    def __init__(self, rt: Runtime, *, row: bool) -> None:
        self.held = threading.Event()
        self.release = threading.Event()
        self.released_in_time = False
        self.done = rt.store_thread().submit(self._hold, rt, row)

    def _hold(self, rt: Runtime, row: bool) -> None:
        with session_scope(rt.engine) as session:
            session.connection()
            if row:
                sources_store.by_name(session, "feed", lock=True)
            self.held.set()
            self.released_in_time = self.release.wait(HOLD_S)

    async def holding(self) -> None:
        assert await asyncio.to_thread(self.held.wait, 10), "the writer never began"


class Ticker:
    """The event loop's longest turn, measured by a task that sleeps TICK_S at a time."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(TICK_S)
            self.longest = max(self.longest, loop.time() - before - TICK_S)

    async def stop(self) -> float:
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task
        return self.longest


def runtime(engine: Engine, url: str) -> Runtime:
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        http={"allow_networks": ["127.0.0.1/32"], "jitter": 0},
    )
    with session_scope(engine) as s:
        s.add(Source(name="feed", url=url, next_poll_at=None))
    return Runtime(settings, engine, EMPTY, worker="w1")


def test_a_poll_reads_its_source_while_the_store_thread_writes(db: Engine) -> None:
    """The validators and stored keys read before a fetch do not wait for the writer."""
    with feed_server() as (url, asked):
        rt = runtime(db, url)
        ((spec, token),) = polling._claim(rt, 10, all_sources=False)

        async def go() -> tuple[float, bool, BatchReport]:
            async with Fetcher(rt.settings.http, parse_workers=0) as fetcher:
                writer = Writer(rt, row=True)
                await writer.holding()
                ticker = Ticker()
                poll = asyncio.create_task(polling.poll_source(rt, fetcher, spec, token=token))
                # the feed is asked for while the writer still holds its lock
                assert await asyncio.to_thread(asked.wait, 10), "never fetched"
                fetched_while_held = not writer.done.done()
                writer.release.set()
                report = await poll
                await asyncio.wrap_future(writer.done)
                return await ticker.stop(), fetched_while_held and writer.released_in_time, report

        lag, fetched_while_held, report = asyncio.run(go())
    assert lag < MAX_LAG_S, f"the event loop was held {lag:.1f} s"
    assert fetched_while_held
    assert report.error is None and report.new > 0


def test_a_claim_waits_for_the_writer_off_the_event_loop(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim writes (it leases rows), so on SQLite it waits for the store thread's
    transaction: the loop answers meanwhile."""
    claiming = threading.Event()
    claimed_after_release: list[bool] = []
    sqlite = db.dialect.name == "sqlite"
    claim = polling._claim

    with feed_server() as (url, _):
        rt = runtime(db, url)
        writer: Writer | None = None

        def watched(*args: Any, **kw: Any) -> polling.Claims:
            claiming.set()
            out = claim(*args, **kw)
            assert writer is not None
            claimed_after_release.append(writer.release.is_set())
            return out

        monkeypatch.setattr(polling, "_claim", watched)

        async def go() -> tuple[float, list[BatchReport]]:
            nonlocal writer
            async with Fetcher(rt.settings.http, parse_workers=0) as fetcher:
                # (no row lock: PostgreSQL's claim skips a locked row, and waits for none)
                writer = Writer(rt, row=False)
                await writer.holding()
                ticker = Ticker()
                polls = asyncio.create_task(polling.poll_due(rt, fetcher))
                assert await asyncio.to_thread(claiming.wait, 10), "never claimed"
                writer.release.set()
                reports = await polls
                await asyncio.wrap_future(writer.done)
                return await ticker.stop(), reports

        lag, reports = asyncio.run(go())
    assert lag < MAX_LAG_S, f"the event loop was held {lag:.1f} s"
    if sqlite:  # the claim did wait for the writer, which let go when told to
        assert claimed_after_release == [True]
    assert writer is not None and writer.released_in_time
    assert [r.source for r in reports] == ["feed"] and reports[0].error is None


def test_a_stop_during_a_claim_gives_its_sources_back(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The poll job cancelled (a stop) while its claim waits for the writer: the claim
    ends in its thread, and what it leased is free again at once, not held by this
    worker until the lease ends."""
    claiming = threading.Event()
    claim = polling._claim

    def watched(*args: Any, **kw: Any) -> polling.Claims:
        claiming.set()
        return claim(*args, **kw)

    monkeypatch.setattr(polling, "_claim", watched)
    with feed_server() as (url, _):
        rt = runtime(db, url)

        async def go() -> None:
            async with Fetcher(rt.settings.http, parse_workers=0) as fetcher:
                writer = Writer(rt, row=False)
                await writer.holding()
                polls = asyncio.create_task(polling.poll_due(rt, fetcher))
                assert await asyncio.to_thread(claiming.wait, 10), "never claimed"
                polls.cancel()
                writer.release.set()
                with pytest.raises(asyncio.CancelledError):
                    await polls
                await asyncio.wrap_future(writer.done)

        asyncio.run(go())
    with session_scope(db) as s:
        row = sources_store.by_name(s, "feed")
        assert row is not None and row.lease_owner is None and row.poll_count == 0


def test_a_claim_that_gets_no_answer_is_an_outage_in_bounded_time(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database that takes the claim and never answers (a PostgreSQL server hung):
    the poll job ends with an ``OperationalError`` after the bound, which the daemon
    reports as the database being unavailable, instead of waiting for ever."""
    answer = threading.Event()

    def hung(*args: Any, **kw: Any) -> polling.Claims:
        answer.wait(10)
        return []

    monkeypatch.setattr(polling, "_claim", hung)
    monkeypatch.setattr(polling, "CLAIM_LIMIT", 0.2)
    engine = make_engine(sqlite_url)
    upgrade(engine)
    settings = Settings(database_url=sqlite_url, database={"busy_timeout_ms": 0})
    rt = Runtime(settings, engine, EMPTY, worker="w1")

    async def go() -> None:
        async with Fetcher(settings.http, parse_workers=0) as fetcher:
            await polling.poll_due(rt, fetcher)

    try:
        with pytest.raises(sa.exc.OperationalError) as failed:
            asyncio.run(go())
        # the daemon's one line: "database unavailable (...)"
        assert driver_reason(failed.value) == "a claim got no answer within 0.2 s"
    finally:
        answer.set()
        engine.dispose()
