"""The store's engine, migrations and round trip, on SQLite and (when available) PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.models import FactRow
from monitor.store import articles, db
from monitor.store import sources as sources_store
from monitor.store.db import current_revision, head_revision, make_engine, session_scope, upgrade
from monitor.values import Extraction, Fact, FetchedArticle, TermHit

NOW = datetime(2025, 12, 6, 9, 30, tzinfo=UTC)


def _article(
    url: str, guid: str, text: str = "Alibaba plans to invest $53 billion."
) -> FetchedArticle:
    return FetchedArticle(
        url=url,
        guid=guid,
        title="Alibaba\x00 bets on AI",
        text=text,
        published_at=NOW - timedelta(hours=1),
        ai_generated=True,
        agent_name="Harrison Brooks",
    )


def round_trip(engine: Engine) -> None:
    assert current_revision(engine) == head_revision(engine)
    fact = Fact(
        entity="alibaba",
        metric="ai_capex_plan",
        value=53e9,
        unit="money",
        surface="$53 billion",
        quote="Alibaba plans to invest $53 billion.",
        span=(24, 35),
        confidence=0.9,
        currency="USD",
        qualifiers=(("horizon", "3y"),),
    )
    with session_scope(engine) as s:
        sources_store.sync_sources(
            s, [sources_store.SourceConfig("feed", "http://x.test/rss", "rss", 900.0)], NOW
        )
        src = sources_store.by_name(s, "feed")
        assert src is not None and src.id is not None
        first = articles.insert_article(
            s, src.id, _article("http://x.test/a", "g1"), content_hash="h1", now=NOW
        )
        again = articles.insert_article(
            s, src.id, _article("http://x.test/a", "g1"), content_hash="h1", now=NOW
        )
        assert first is not None and again is None  # re-poll inserts nothing
        articles.insert_extraction(
            s,
            first,
            Extraction(
                main_entity="alibaba",
                facts=(fact,),
                terms=(TermHit("qwen_models", "Qwen3", "Qwen3 launched.", (0, 5)),),
            ),
            story_id=None,
            new_flags=[True],
            now=NOW,
        )
    with session_scope(engine) as s:
        stored = articles.get(s, first)
        assert stored is not None
        assert stored.title == "Alibaba bets on AI"  # NUL stripped before insert
        assert stored.first_seen_at == NOW and stored.first_seen_at.tzinfo is not None
        assert stored.sort_at == NOW - timedelta(hours=1)
        rows = articles.list_facts(s, entity="alibaba")
        assert [(r.metric, r.value, r.currency, r.qualifiers) for r in rows] == [
            ("ai_capex_plan", 53e9, "USD", {"horizon": "3y"})
        ]
        assert rows[0].source == "feed" and rows[0].url == "http://x.test/a"
        assert [m.value for m in articles.list_mentions(s, kind="term")] == ["Qwen3"]
        # read back from the article (insert_extraction has no origin to pass)
        copied = s.get(FactRow, rows[0].id)
        assert copied is not None
        assert (copied.sort_at, copied.source_id, copied.ai_generated) == (
            stored.sort_at, src.id, stored.ai_generated,
        )  # fmt: skip


def test_round_trip_sqlite(engine: Engine) -> None:
    round_trip(engine)


@pytest.mark.postgres
def test_round_trip_postgres(pg_engine: Engine) -> None:
    round_trip(pg_engine)


@pytest.mark.postgres
def test_two_ingests_that_start_at_once_share_their_source_row(pg_engine: Engine) -> None:
    """Two `monitor ingest` runs on a new database both found no `file` source; the second
    insert was a unique-key error that ended its whole run. It now waits for the first
    and takes its row."""
    import threading

    got: list[int | None] = []
    with session_scope(pg_engine) as first:
        mine = sources_store.ensure_source(first, "file", "file://file").id

        def second() -> None:
            with session_scope(pg_engine) as s:
                got.append(sources_store.ensure_source(s, "file", "file://file").id)

        other = threading.Thread(target=second)
        other.start()
        _until_a_session_waits_on_a_lock(pg_engine)  # on the first's uncommitted row
        assert got == []
    other.join(10)
    assert got == [mine]


def _until_a_session_waits_on_a_lock(engine: Engine) -> None:
    import time

    deadline = time.monotonic() + 10
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"
            ).scalar()
            conn.rollback()
            if waiting:
                return
            time.sleep(0.01)
    raise AssertionError("no session came to wait on the lock")


def test_upgrade_is_idempotent_and_keeps_data(engine: Engine) -> None:
    with session_scope(engine) as s:
        sources_store.ensure_source(s, "file", "file://file")
    assert upgrade(engine) == head_revision(engine)
    with session_scope(engine) as s:
        assert sources_store.by_name(s, "file") is not None


def test_sqlite_wal_and_busy_timeout(sqlite_url: str) -> None:
    eng = make_engine(sqlite_url, busy_timeout_ms=1234)
    with eng.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
    eng.dispose()


def test_sqlite_cache_and_memory_map_come_from_the_settings(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.cli.base import State

    monkeypatch.setenv("MONITOR_DATABASE__CACHE_MB", "8")
    monkeypatch.setenv("MONITOR_DATABASE__MMAP_MB", "0")
    monkeypatch.setenv("MONITOR_DATABASE_URL", sqlite_url)
    eng = State().raw_engine()
    with eng.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -8 * 1024
        assert conn.exec_driver_sql("PRAGMA mmap_size").scalar() == 0
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 10_000
    eng.dispose()
    eng = make_engine(sqlite_url)  # the defaults
    with eng.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -32 * 1024
        assert conn.exec_driver_sql("PRAGMA mmap_size").scalar() == 0
    eng.dispose()


def test_future_date_is_clamped_for_sorting() -> None:
    seen = NOW
    assert articles.sort_key(datetime(2100, 1, 1, tzinfo=UTC), seen) == seen
    assert articles.sort_key(None, seen) == seen
    assert articles.sort_key(NOW - timedelta(days=1), seen) == NOW - timedelta(days=1)


def test_removed_source_goes_inactive_and_keeps_its_articles(engine: Engine) -> None:
    cfg = sources_store.SourceConfig("feed", "http://x.test/rss", "rss", 900.0)
    with session_scope(engine) as s:
        sources_store.sync_sources(s, [cfg], NOW)
        src = sources_store.by_name(s, "feed")
        assert src is not None and src.id is not None
        articles.insert_article(
            s, src.id, _article("http://x.test/b", "g2"), content_hash="h", now=NOW
        )
    with session_scope(engine) as s:
        sources_store.sync_sources(s, [], NOW)
        assert sources_store.active_sources(s) == []
        assert s.execute(sa.text("select count(*) from article")).scalar() == 1


# PostgreSQL indexes on an expression, made by their migration alone: SQLAlchemy reflects
# them without it, and alembic would compare a plain column index
EXPRESSION_INDEXES = frozenset({"ix_story_entity_bytes"})


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_migrations_build_the_tables_the_models_describe(
    backend: str, request: pytest.FixtureRequest
) -> None:
    """Every model change comes with its migration: an upgraded database and the models
    agree on tables, columns, types, indexes and constraints, on either backend (the
    PostgreSQL-only index is declared when a PostgreSQL engine is made)."""
    engine: Engine = request.getfixturevalue("engine" if backend == "sqlite" else "pg_engine")
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from monitor.models import declare_all

    def this_dialect(obj: object, name: str | None, kind: str, *_: object) -> bool:
        if name in EXPRESSION_INDEXES:
            return False  # reflected without its expression: tested on its own
        # an index declared for one dialect only (Index.ddl_if) is not made on the other
        only = getattr(getattr(obj, "_ddl_if", None), "dialect", None)
        return only is None or only == engine.dialect.name

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": this_dialect})
        assert compare_metadata(context, declare_all()) == []


def test_head_constant_is_the_newest_migration(tmp_path: Path) -> None:
    # a database at HEAD skips Alembic on start: HEAD must name the real head
    engine = make_engine(f"sqlite:///{tmp_path}/h.db")
    assert head_revision(engine) == db.HEAD
    assert upgrade(engine) == db.HEAD  # the full path, on a new file
    assert upgrade(engine) == db.HEAD  # the fast path
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0006'")
    assert not db._at_head(engine)
