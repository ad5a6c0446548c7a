"""Faults inside a poll stay inside their source; digests mark what they show."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy.engine import Engine

from monitor.fetch.client import PollResult, Validators
from monitor.fetch.source_file import SourceSpec
from monitor.models import Source
from monitor.pipeline import Pipeline
from monitor.rules.loader import load_rules
from monitor.settings import Settings
from monitor.store import sources as sources_store
from monitor.store.db import session_scope
from monitor.values import FetchedArticle
from tests.conftest import CHANNELS, RULES, database_outage

TEXT = (
    "Alibaba Group said it will invest $53 billion over the next three years in AI and "
    "cloud infrastructure, its largest commitment yet, as it races rivals for compute."
)


class Flaky:
    """A fetcher whose source 'bad' hits a bug (not a MonitorError)."""

    async def poll(self, source: SourceSpec, validators: Validators, **_: Any) -> PollResult:
        if source.name == "bad":
            raise RuntimeError("parser bug")
        item = FetchedArticle(
            url=f"https://x.test/{source.name}", guid=source.name, title="Alibaba's plan", text=TEXT
        )
        return PollResult(False, (item,), Validators("etag-1", None, None), None, (), False)


def specs() -> list[SourceSpec]:
    return [
        SourceSpec.model_validate(
            {
                "name": n,
                "url": f"https://{n}.test/feed",
                "kind": "rss",
                "interval_s": 600.0,
                "tags": (),
                "selectors": None,
                "fetch_full": False,
            }
        )
        for n in ("bad", "good")
    ]


def test_a_bug_in_one_source_is_recorded_and_the_others_poll(engine: Engine) -> None:
    pipe = Pipeline(Settings(), engine, load_rules(RULES, channels=CHANNELS))
    pipe.sync_sources(specs())
    errors = {"kind": "internal"}
    before = REGISTRY.get_sample_value("monitor_poll_errors_total", errors) or 0.0
    reports = asyncio.run(pipe.poll_due(Flaky()))  # type: ignore[arg-type]
    # counted by kind for the operator's dashboards
    assert REGISTRY.get_sample_value("monitor_poll_errors_total", errors) == before + 1
    by_name = {r.source: r for r in reports}
    assert by_name["good"].new == 1 and by_name["good"].error is None
    assert by_name["bad"].error_kind == "internal" and "parser bug" in str(by_name["bad"].error)
    with session_scope(engine) as s:
        bad = sources_store.by_name(s, "bad")
        assert isinstance(bad, Source)
        assert bad.error_count == 1 and bad.last_error_kind == "internal"
        assert bad.lease_owner is None  # released, and backed off
        assert bad.next_poll_at is not None and bad.next_poll_at > datetime.now(UTC)


def test_a_lost_lease_discards_the_poll(engine: Engine) -> None:
    pipe = Pipeline(Settings(), engine, load_rules(RULES, channels=CHANNELS))
    pipe.sync_sources(specs()[1:])

    class StealDuringFetch(Flaky):
        async def poll(self, source: SourceSpec, validators: Validators, **kw: Any) -> PollResult:
            with session_scope(engine) as s:  # another worker claims the source meanwhile
                row = sources_store.by_name(s, source.name)
                assert row is not None
                row.lease_token += 1
                row.lease_owner = "other:1"
            return await super().poll(source, validators, **kw)

    reports = asyncio.run(pipe.poll_due(StealDuringFetch()))  # type: ignore[arg-type]
    assert reports[0].new == 0 and "lease lost" in str(reports[0].error)
    with session_scope(engine) as s:
        row = sources_store.by_name(s, "good")
        assert row is not None
        assert row.etag is None and row.lease_owner == "other:1"  # the new owner's state stays


def test_cancelling_the_polls_cancels_each_poll_and_gives_its_source_back(
    engine: Engine,
) -> None:
    """At shutdown the daemon cancels its poll job, then closes the HTTP client: a poll
    still running after the job ended would fail on the closed client and be recorded as
    a fault of its source."""
    pipe = Pipeline(Settings(), engine, load_rules(RULES, channels=CHANNELS))
    pipe.sync_sources(specs())
    started: list[str] = []
    after_cancel: list[str] = []

    class Hanging(Flaky):
        async def poll(self, source: SourceSpec, validators: Validators, **kw: Any) -> PollResult:
            started.append(source.name)
            try:
                await asyncio.Event().wait()  # a server that never answers
            finally:
                after_cancel.append(source.name)
            raise AssertionError("unreachable")

    async def scenario() -> set[asyncio.Task[Any]]:
        job = asyncio.create_task(pipe.poll_due(Hanging()))  # type: ignore[arg-type]
        while len(started) < 2:
            await asyncio.sleep(0)
        job.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await job
        return asyncio.all_tasks() - {asyncio.current_task()}

    left = asyncio.run(scenario())
    assert left == set()  # no poll outlives the job
    assert sorted(after_cancel) == ["bad", "good"]
    with session_scope(engine) as s:
        for name in ("bad", "good"):
            row = sources_store.by_name(s, name)
            assert row is not None
            assert row.lease_owner is None and row.error_count == 0, name


def test_a_poll_stores_off_the_event_loop(engine: Engine, monkeypatch: Any) -> None:
    """While one poll's batch is stored, the event loop goes on (other fetches under way
    read their answers): the store waits here for a coroutine to let it finish, which
    could never run if the store held the loop."""
    import threading

    from monitor.app import polling
    from monitor.app.batches import store_batch

    pipe = Pipeline(Settings(), engine, load_rules(RULES, channels=CHANNELS))
    pipe.sync_sources(specs()[1:])
    in_store, go = threading.Event(), threading.Event()
    released_in_time: list[bool] = []
    real = store_batch  # polling calls it by the name it imported, patched below

    def slow_store(*args: Any, **kw: Any) -> None:
        in_store.set()
        released_in_time.append(go.wait(10))
        real(*args, **kw)

    monkeypatch.setattr(polling, "store_batch", slow_store)

    async def scenario() -> list[Any]:
        async def release() -> None:
            while not in_store.is_set():
                await asyncio.sleep(0.01)
            go.set()

        helper = asyncio.create_task(release())
        reports = await pipe.poll_due(Flaky())  # type: ignore[arg-type]
        await helper
        return reports

    (report,) = asyncio.run(scenario())
    assert released_in_time == [True]
    assert report.new == 1 and report.error is None


def test_a_poll_the_database_cut_short_gives_its_source_back_when_it_answers(
    engine: Engine, monkeypatch: Any
) -> None:
    """A PostgreSQL restart under a poll left its source leased to this worker for the
    rest of the lease (~4 minutes), skipped by every tick meanwhile. Now the source is
    owed back, and given back by the first poll after the database answers again."""
    import sqlalchemy as sa

    from monitor.app import polling

    pipe = Pipeline(Settings(), engine, load_rules(RULES, channels=CHANNELS))
    pipe.sync_sources(specs()[1:])  # "good"
    real = polling._store_poll

    def restarted(*args: Any) -> None:
        raise sa.exc.OperationalError("INSERT", {}, Exception("terminating connection"))

    monkeypatch.setattr(polling, "_store_poll", restarted)
    with contextlib.suppress(sa.exc.OperationalError):
        asyncio.run(pipe.poll_due(Flaky()))  # type: ignore[arg-type]
    with session_scope(engine) as s:
        row = sources_store.by_name(s, "good")
        assert row is not None and row.lease_owner == pipe.worker  # held: nothing could be written
    assert set(pipe.owed_back) == {"good"}
    monkeypatch.setattr(polling, "_store_poll", real)  # the database answers again
    reports = asyncio.run(pipe.poll_due(Flaky()))  # type: ignore[arg-type]
    assert [r.source for r in reports] == ["good"] and reports[0].new == 1  # polled at once
    assert pipe.owed_back == {}
    with session_scope(engine) as s:
        row = sources_store.by_name(s, "good")
        assert row is not None and row.lease_owner is None and row.error_count == 0


def test_an_interrupted_poll_while_the_database_is_away_ends_as_interrupted(
    engine: Engine, caplog: Any
) -> None:
    """Ctrl-C mid-fetch while the database did not answer: giving the source back raised
    in place of the interrupt, and `poll --once` ended as a database error. Now it ends as
    interrupted, one line says when the source comes free, and the same process gives it
    back at its next poll once the database answers."""
    pipe = Pipeline(Settings(), engine, load_rules(RULES, channels=CHANNELS))
    pipe.sync_sources(specs()[1:])  # "good"
    with database_outage(engine) as lose:

        class Interrupted(Flaky):
            async def poll(
                self, source: SourceSpec, validators: Validators, **_: Any
            ) -> PollResult:
                lose()
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: asyncio.run cancels the poll
                await asyncio.sleep(60)
                raise AssertionError("not interrupted")

        with caplog.at_level("WARNING", logger="monitor"), contextlib.suppress(KeyboardInterrupt):
            asyncio.run(pipe.poll_due(Interrupted()))  # type: ignore[arg-type]
            raise AssertionError("the poll ended without the interrupt")
    said = [r.getMessage() for r in caplog.records if r.name == "monitor.app.polling"]
    assert said == [
        "source good not given back: database unavailable (unable to open database file);"
        " other workers poll it when its lease ends, within 240 s"
    ]
    assert set(pipe.owed_back) == {"good"}
    reports = asyncio.run(pipe.poll_due(Flaky()))  # type: ignore[arg-type]
    assert [r.source for r in reports] == ["good"] and reports[0].new == 1
    assert pipe.owed_back == {}


def test_a_body_the_feed_parser_crashed_on_is_saved_for_triage(
    engine: Engine, tmp_path: Any, caplog: Any, monkeypatch: Any
) -> None:
    """RELIABILITY P2: the start of the body is kept where the operator can find it, named
    in the log line; the other sources poll as before; the folder keeps the newest only."""
    from monitor.app import polling
    from monitor.fetch.feeds import ParserCrash

    class Crashing(Flaky):
        async def poll(self, source: SourceSpec, validators: Validators, **_: Any) -> PollResult:
            if source.name == "bad":
                raise ParserCrash("feed parser failed: boom", url="https://bad.test/feed",
                                  payload=b"<rss>\\\\&#x110000;" + b"x" * 70000)  # fmt: skip
            return await super().poll(source, validators)

    monkeypatch.setattr(polling, "TRIAGE_KEPT", 2)
    # the oldest entry cannot be removed (a folder): it stopped every later prune
    (tmp_path / "triage" / "aaa-old.xml").mkdir(parents=True)
    os.utime(tmp_path / "triage" / "aaa-old.xml", (0, 0))
    pipe = Pipeline(Settings(data_dir=tmp_path), engine, load_rules(RULES, channels=CHANNELS))
    pipe.sync_sources(specs())
    with caplog.at_level("WARNING", logger="monitor"):
        for _ in range(3):
            reports = asyncio.run(pipe.poll_due(Crashing(), all_sources=True))  # type: ignore[arg-type]
    by_name = {r.source: r for r in reports}
    assert by_name["bad"].error_kind == "parser_crash" and by_name["good"].error is None
    saved = sorted((tmp_path / "triage").glob("bad-*.xml"))
    assert len(saved) == 2  # the newest two of three
    assert saved[-1].read_bytes() == (b"<rss>\\\\&#x110000;" + b"x" * 70000)[:65536]
    said = [r.getMessage() for r in caplog.records if "saved in" in r.getMessage()]
    assert len(said) == 3 and said[-1].endswith(f"saved in {saved[-1]})")


def test_a_feed_whose_guids_change_at_every_fetch_is_said_and_stores_nothing_twice(
    engine: Engine,
) -> None:
    """RELIABILITY S3: the same links under new GUIDs at every fetch. Matched by link,
    nothing is stored twice, and the poll says why its items are not new."""
    fetches = [0]

    class Churning(Flaky):
        async def poll(self, source: SourceSpec, validators: Validators, **_: Any) -> PollResult:
            fetches[0] += 1
            items = tuple(
                FetchedArticle(
                    url=f"https://x.test/{n}",
                    guid=f"urn:{fetches[0]}:{n}",
                    title=f"Item {n}",
                    text=f"{TEXT} Note {n}.",
                )
                for n in range(10)
            )
            return PollResult(False, items, Validators(None, None, None), None, (), False)

    pipe = Pipeline(Settings(), engine, load_rules(RULES, channels=CHANNELS))
    pipe.sync_sources(specs()[1:])
    churning: Any = Churning()
    first, second = (asyncio.run(pipe.poll_due(churning, all_sources=True))[0] for _ in range(2))
    assert first.new == 10 and first.warnings == ()
    assert second.new == 0 and second.warnings == (
        "10 of 10 items came with a new GUID for a link already stored: this feed's GUIDs"
        " change between fetches, so its items are matched by link (none is stored twice)",
    )


def test_items_that_link_to_one_page_are_each_stored_once(engine: Engine) -> None:
    """A feed whose items all link to its newsroom page: an article's url is unique, so
    the second and third were taken for re-polls and lost without a word. Each is stored,
    at the page's address with a fragment of its own, once over two polls."""

    class Newsroom(Flaky):
        async def poll(self, source: SourceSpec, validators: Validators, **_: Any) -> PollResult:
            items = tuple(
                FetchedArticle(
                    url="https://x.test/newsroom",
                    guid=f"pr-{n}",
                    title=f"Release {n}",
                    text=f"{TEXT} Release {n}.",
                )
                for n in range(3)
            )
            return PollResult(False, items, Validators(None, None, None), None, (), False)

    pipe = Pipeline(Settings(), engine, load_rules(RULES, channels=CHANNELS))
    pipe.sync_sources(specs()[1:])
    fetcher: Any = Newsroom()
    first, second = (asyncio.run(pipe.poll_due(fetcher, all_sources=True))[0] for _ in range(2))
    assert first.new == 3 and "2 item(s) link to the page of another item" in first.warnings[0]
    assert (second.new, second.warnings) == (0, ())
    with engine.connect() as conn:
        urls = [u for (u,) in conn.execute(sa.text("SELECT url FROM article ORDER BY id"))]
    assert urls[0] == "https://x.test/newsroom" and len(set(urls)) == 3
    assert all(u.startswith("https://x.test/newsroom#item-") for u in urls[1:])


def test_one_item_republished_or_one_link_listed_twice_is_no_churn(engine: Engine) -> None:
    """The warning above is for a feed whose GUIDs change, not for one item republished
    under a new GUID, nor for one link listed twice in a feed under two GUIDs."""
    polls = [0]

    class Republishing(Flaky):
        async def poll(self, source: SourceSpec, validators: Validators, **_: Any) -> PollResult:
            polls[0] += 1
            items = [
                FetchedArticle(
                    url=f"https://x.test/{n}", guid=f"g{n}", title=f"Item {n}", text=f"{TEXT} {n}."
                )
                for n in range(10)
            ]
            if polls[0] == 2:  # item 0 again, under a new GUID
                items[0] = FetchedArticle(
                    url="https://x.test/0", guid="g0-updated", title="Item 0", text=f"{TEXT} 0."
                )
            # one link twice, under two GUIDs, in the same poll
            items.append(
                FetchedArticle(url="https://x.test/9", guid="g9-dup", title="Item 9", text=TEXT)
            )
            return PollResult(False, tuple(items), Validators(None, None, None), None, (), False)

    pipe = Pipeline(Settings(), engine, load_rules(RULES, channels=CHANNELS))
    pipe.sync_sources(specs()[1:])
    fetcher: Any = Republishing()
    first, second = (asyncio.run(pipe.poll_due(fetcher, all_sources=True))[0] for _ in range(2))
    assert (first.new, first.warnings) == (10, ())
    assert (second.new, second.warnings) == (0, ())


def test_a_document_of_thousands_of_figures_is_stored(engine: Engine) -> None:
    """An article's figure keys went into one INSERT of 7 values each: past about 4,700
    figures SQLite refused it ("too many SQL variables") and the whole batch, the other
    articles too, was not stored. (SQLite's usual limit, 32,766 values a statement, set
    here whatever this build's is; PostgreSQL's is 65,535.)"""
    import sqlite3

    import sqlalchemy as sa
    from sqlmodel import func, select

    from monitor.models import Article

    engine.dispose()
    sa.event.listen(
        engine,
        "connect",
        lambda conn, _: conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32_766),
    )

    lines = [f"Alibaba will invest RMB {n + 100} million in data centre {n}." for n in range(5200)]
    items = [
        FetchedArticle(url="https://x.test/long", guid="long", title="Alibaba figures",
                       text="\n\n".join(lines)),
        FetchedArticle(url="https://x.test/short", guid="short", title="Tencent capex",
                       text="Tencent plans to invest 90 billion yuan in AI data centres."),
    ]  # fmt: skip
    pipe = Pipeline(Settings(), engine, load_rules(RULES, channels=CHANNELS))
    report = pipe.ingest(items, source="file")
    assert report.new == 2
    with session_scope(engine) as s:
        assert s.exec(select(func.count()).select_from(Article)).one() == 2


def test_a_placeholder_publication_date_is_no_date(engine: Engine) -> None:
    """A page dated 0001-01-01T00:00:00Z (a zero time, a common placeholder) overflowed
    the story window's arithmetic and ended its whole batch in an internal error. A date
    before 1970 is now read as none (the article is placed at its first sighting), and a
    naive time from a caller is UTC."""
    from monitor.values import EARLIEST_NEWS

    zero = datetime(1, 1, 1, tzinfo=UTC)
    items = [
        FetchedArticle(url="https://x.test/zero", guid="zero", title="Alibaba capex",
                       text="Alibaba will invest RMB 380 billion in AI.", published_at=zero),
        FetchedArticle(url="https://x.test/naive", guid="naive", title="Tencent capex",
                       text="Tencent plans to invest 90 billion yuan in AI.",
                       published_at=datetime(2025, 3, 1, 8, 0)),
    ]  # fmt: skip
    assert items[0].published_at is None
    assert items[1].published_at == datetime(2025, 3, 1, 8, 0, tzinfo=UTC) > EARLIEST_NEWS
    pipe = Pipeline(Settings(), engine, load_rules(RULES, channels=CHANNELS))
    assert pipe.ingest(items, source="file").new == 2


def test_a_slow_source_does_not_hold_the_others(engine: Engine) -> None:
    """The poll job waited for its slowest poll before claiming anything that fell due
    meanwhile: a server trickling its bytes for 20 s kept a 5 s feed unpolled that long,
    and items that feed carried for less were never stored. Here 'fast' falls due again
    while 'slow' still runs, and is polled again before 'slow' ends."""
    pipe = Pipeline(Settings(), engine, load_rules(RULES, channels=CHANNELS))
    spec = specs()[0]
    pipe.sync_sources(
        [
            spec.model_copy(update={"name": n, "url": f"https://{n}.test/feed"})
            for n in ("slow", "fast")
        ]
    )
    polled: list[str] = []

    async def scenario() -> list[str]:
        release, twice = asyncio.Event(), asyncio.Event()

        class Trickling(Flaky):
            async def poll(
                self, source: SourceSpec, validators: Validators, **kw: Any
            ) -> PollResult:
                polled.append(source.name)
                if source.name == "slow":
                    await release.wait()
                elif polled.count("fast") == 2:
                    twice.set()
                return await super().poll(source, validators, **kw)

        def due_again(report: Any) -> None:
            if report.source == "fast":  # its interval has passed (as if)
                with session_scope(engine) as s:
                    s.execute(sa.text("UPDATE source SET next_poll_at = NULL WHERE name = 'fast'"))

        job = asyncio.create_task(
            pipe.poll_due(Trickling(), claim_for=60.0, on_done=due_again)  # type: ignore[arg-type]
        )
        try:
            await asyncio.wait_for(twice.wait(), 30)  # before: only once 'slow' ended
            seen = list(polled)
        finally:
            release.set()
            await job
        return seen

    seen = asyncio.run(scenario())
    assert seen.count("fast") == 2 and "slow" in seen


class Many(Flaky):
    """A feed of eight items."""

    async def poll(self, source: SourceSpec, validators: Validators, **_: Any) -> PollResult:
        items = tuple(
            FetchedArticle(
                url=f"https://x.test/many/{n}", guid=f"m{n}", title=f"Item {n}", text=f"{TEXT} {n}."
            )
            for n in range(8)
        )
        return PollResult(False, items, Validators("etag-many", None, None), None, (), False)


def test_a_large_poll_is_stored_a_part_at_a_time_and_a_stop_ends_it_between_parts(
    engine: Engine, monkeypatch: Any
) -> None:
    """A feed of 50,000 items was one transaction of ~80 s: SQLite's write lock held from
    every other writer, and a shutdown waited for all of it. Parts of STORE_PART are each
    a transaction; the poll is recorded with the last, and a stop between two parts
    leaves the rest (and the poll unrecorded, so that the next fetches it again)."""
    from monitor import memory
    from monitor.app import batches, polling

    monkeypatch.setattr(polling, "STORE_PART", 3)
    pipe = Pipeline(Settings(), engine, load_rules(RULES, channels=CHANNELS))
    pipe.sync_sources(specs()[1:])
    commits: list[int] = []
    alive: list[int] = []  # the poll's articles still in memory as each part is stored
    real_store = batches.store_batch

    def counted(*args: Any, **kw: Any) -> None:
        real_store(*args, **kw)
        commits.append(len(args[4]))
        alive.append(
            sum(
                isinstance(o, FetchedArticle) and o.url.startswith("https://x.test/many/")
                for o in gc.get_objects()
            )
        )

    monkeypatch.setattr(polling, "store_batch", counted)
    given_back: list[int] = []
    monkeypatch.setattr(memory, "give_back", lambda: given_back.append(len(commits)))
    many: Any = Many()
    (report,) = asyncio.run(pipe.poll_due(many, all_sources=True))
    assert commits == [3, 3, 2] and report.new == 8 and report.fetched == 8
    # each part is let go once stored: all of a huge feed's articles were held to the end;
    # and what they took is given back to the system once the last is stored
    assert alive == [8, 5, 2] and given_back == [3]
    with session_scope(engine) as s:
        row = sources_store.by_name(s, "good")
        assert row is not None and row.etag == "etag-many" and row.item_count == 8

    # a stop heard after the first part: the rest is left, the poll not recorded
    import threading

    from monitor.app.batches import BatchReport
    from monitor.fetch.client import PollResult as Result

    stop = threading.Event()
    commits.clear()

    def stopping(*args: Any, **kw: Any) -> None:
        counted(*args, **kw)
        stop.set()

    monkeypatch.setattr(polling, "store_batch", stopping)
    fresh = tuple(
        FetchedArticle(url=f"https://x.test/more/{n}", guid=f"n{n}", title=f"More {n}", text=TEXT)
        for n in range(7)
    )
    result = Result(False, fresh, Validators("etag-more", None, None), None, (), False)
    with session_scope(engine) as s:
        (claimed,) = sources_store.claim_due(
            s, worker=pipe.worker, now=pipe.lease_now(s), lease_s=600, include_not_due=True
        )
    spec = specs()[1]
    polling._store_poll(pipe, spec, result, BatchReport("good"), claimed.lease_token, stop)
    assert commits == [3]
    with session_scope(engine) as s:
        row = sources_store.by_name(s, "good")
        assert row is not None and row.etag == "etag-many"  # the poll was not recorded
        stored = s.execute(sa.text("SELECT count(*) FROM article WHERE guid LIKE 'n%'")).scalar()
    assert stored == 3


def test_a_newsroom_feed_without_guids_stores_each_item_once(engine: Engine) -> None:
    """Items without GUIDs are keyed by their link and place: an item added on top moved
    the others' keys, and the next read stored an old item again and lost the new one."""
    from monitor.fetch.feeds import parse_feed

    def feed(*titles: str) -> list[FetchedArticle]:
        items = "".join(
            f"<item><title>{t}</title><link>https://x.test/newsroom</link>"
            f"<description>{TEXT} {t}.</description></item>"
            for t in titles
        )
        body = f'<rss version="2.0"><channel><title>N</title>{items}</channel></rss>'
        return list(parse_feed(body.encode(), {}, "https://x.test/feed.rss").articles)

    pipe = Pipeline(Settings(), engine, load_rules(RULES, channels=CHANNELS))
    first = pipe.ingest(feed("Mexico data centre", "Record profit"), source="newsroom")
    second = pipe.ingest(
        feed("Ernie 5 launch", "Mexico data centre", "Record profit"), source="newsroom"
    )
    third = pipe.ingest(
        feed("Ernie 5 launch", "Mexico data centre", "Record profit"), source="newsroom"
    )
    assert (first.new, second.new, third.new) == (2, 1, 0)
    with engine.connect() as conn:
        titles = [t for (t,) in conn.execute(sa.text("SELECT title FROM article ORDER BY id"))]
    assert titles == ["Mexico data centre", "Record profit", "Ernie 5 launch"]
