"""The engine: connection settings per dialect, sessions, and schema migrations.

SQLite runs in WAL mode with a busy timeout, and every transaction begins IMMEDIATE: a
deferred transaction that later needs to write can fail with "database is locked" at once,
without waiting out the busy timeout (SQLite's lock-upgrade deadlock rule), so two
processes writing one file would see errors instead of waiting their turn.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitor.errors import StoreError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


# Pages written to the WAL before SQLite copies them back into the database file. Each
# batch of new articles dirties a page per band key (they land at random places in the
# index); with SQLite's default (1,000 pages) nearly every commit ran a checkpoint, and a
# page dirtied by ten commits was copied back ten times instead of once. ~40 MB of WAL.
WAL_AUTOCHECKPOINT = 10_000


def make_engine(
    url: str,
    *,
    busy_timeout_ms: int = 5000,
    echo: bool = False,
    cache_mb: int = 64,
    mmap_mb: int = 1024,
) -> Engine:
    """An engine for ``url``; a malformed URL or an unusable path is a one-line StoreError.

    ``cache_mb`` and ``mmap_mb`` size SQLite's page cache and memory map (see
    ``monitor.settings.DatabaseSettings``); PostgreSQL ignores them.
    """
    if echo:
        # through logging (stderr), not SQLAlchemy's own stdout handler: --json stays clean
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    try:
        return _make_engine(url, busy_timeout_ms, cache_mb, mmap_mb)
    except sa.exc.ArgumentError as exc:
        raise StoreError(f"bad database URL {url!r}: {exc}") from exc
    except OSError as exc:
        raise StoreError(f"cannot create the database folder for {url!r}: {exc}") from exc


def _make_engine(url: str, busy_timeout_ms: int, cache_mb: int, mmap_mb: int) -> Engine:
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        # a "file:" URI (mode=ro, ...) names a file that must already exist
        if path and path != ":memory:" and not path.startswith("file:"):
            folder = Path(path).expanduser().parent
            if not folder.is_dir():
                folder.mkdir(parents=True, exist_ok=True)
                log.info("created %s for the database %s", folder.resolve(), Path(path).name)
        engine = sa.create_engine(
            url,
            # the driver's own transaction handling is switched off so that ours
            # (BEGIN IMMEDIATE, below) is the only one
            connect_args={"isolation_level": None, "check_same_thread": False},
        )

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute(f"PRAGMA cache_size = {-1024 * int(cache_mb)}")  # negative: KiB
            cur.execute(f"PRAGMA mmap_size = {int(mmap_mb) << 20}")
            cur.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT}")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # '%' must be doubled for configparser (a search_path option in a URL has one)
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(engine: Engine) -> str | None:
    """Bring the schema to the newest revision; returns that revision."""
    cfg = alembic_config(engine)
    try:
        with engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()
            return MigrationContext.configure(conn).get_current_revision()
    except sa.exc.DBAPIError as exc:  # unreachable server, not a database file, ...
        shown = engine.url.render_as_string(hide_password=True)
        raise StoreError(f"cannot open database {shown}: {exc.orig}") from exc


def integrity_problems(engine: Engine, *, limit: int = 20) -> list[str]:
    """What SQLite's ``PRAGMA quick_check`` finds wrong with the file (empty: sound).

    A file that is not a database at all is one problem. PostgreSQL checks its own pages.
    """
    if engine.dialect.name != "sqlite":
        return []
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(f"PRAGMA quick_check({int(limit)})").all()
    except sa.exc.DatabaseError as exc:
        return [str(exc.orig).strip() or type(exc.orig).__name__]
    found = [str(r[0]) for r in rows]
    return [] if found == ["ok"] else found


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
