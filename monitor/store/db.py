"""The engine: connection settings per dialect, sessions, and schema migrations.

SQLite runs in WAL mode with a busy timeout, and every transaction begins IMMEDIATE: a
deferred transaction that later needs to write can fail with "database is locked" at once,
without waiting out the busy timeout (SQLite's lock-upgrade deadlock rule), so two
processes writing one file would see errors instead of waiting their turn.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitor.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# The newest migration. A database already at it needs no Alembic at all (importing it and
# reading the migration scripts took most of a short command's start); a test checks
# that this is the head of monitor/migrations.
HEAD = "0016"


# Pages written to the WAL before SQLite copies them back into the database file. Each
# batch of new articles dirties a page per band key (they land at random places in the
# index); with SQLite's default (1,000 pages) nearly every commit ran a checkpoint, and a
# page dirtied by ten commits was copied back ten times instead of once. ~40 MB of WAL.
WAL_AUTOCHECKPOINT = 10_000


# Query keys of a database URL that carry a secret (libpq's and psycopg's).
_SECRET_KEYS = frozenset({"password", "sslpassword"})


def driver_reason(exc: BaseException) -> str:
    """A database error's reason on one line: the driver's first line, without
    SQLAlchemy's statement, parameters and link (log lines of an outage)."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    return " ".join(text.splitlines()[0].split()) if text else type(orig).__name__


def _said(url: str) -> str:
    """A URL as given, for a message about it: its password masked, even when the URL
    does not parse (the user needs to see what they wrote, not the secret in it)."""
    try:
        return shown_url(url)
    except (sa.exc.ArgumentError, ValueError):
        return re.sub(r"(://[^/:@]*:)[^/@]*@", r"\1***@", url)


def shown_url(url: sa.engine.URL | str) -> str:
    """A database URL as printed in messages: its password masked, in the authority or
    in the query (``?password=``); an SQLite path as written (rendering quotes ':')."""
    parsed = sa.engine.make_url(url)
    secret = parsed.password is not None or bool(_SECRET_KEYS & set(parsed.query))
    if not secret and isinstance(url, str):
        return url
    if not secret and parsed.get_backend_name() == "sqlite":
        query = "&".join(f"{k}={v}" for k, v in parsed.query.items())
        return f"{parsed.drivername}:///{parsed.database or ''}" + (f"?{query}" if query else "")
    masked = parsed.update_query_dict({k: "***" for k in _SECRET_KEYS & set(parsed.query)})
    return masked.render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


def make_engine(
    url: str,
    *,
    busy_timeout_ms: int = 5000,
    echo: bool = False,
    cache_mb: int = 32,
    mmap_mb: int = 0,
) -> Engine:
    """An engine for ``url``; a malformed URL or an unusable path is a one-line StoreError.

    ``cache_mb`` and ``mmap_mb`` size SQLite's page cache and memory map (see
    ``monitor.settings.DatabaseSettings``); PostgreSQL ignores them.
    """
    if echo:
        # through logging (stderr), not SQLAlchemy's own stdout handler: --json stays clean
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    try:
        parsed = sa.engine.make_url(url)
        backend = parsed.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise StoreError(
                f"bad database URL {_said(url)!r}: monitor stores in SQLite (a file path or"
                " sqlite:///path) or PostgreSQL (postgresql+psycopg://user@host/db)"
            )
        if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
            raise StoreError(
                f"bad database URL {_said(url)!r}: an SQLite database in memory keeps nothing past"
                " the command; name a file (sqlite:///path/monitor.db, or a plain path)"
            )
        return _make_engine(url, busy_timeout_ms, cache_mb, mmap_mb)
    except ImportError as exc:  # a PostgreSQL driver other than the one installed
        raise StoreError(f"no driver for the database URL {_said(url)!r}: {exc}") from exc
    except (sa.exc.ArgumentError, ValueError) as exc:  # ValueError: a port that is no number
        raise StoreError(f"bad database URL {_said(url)!r}: {exc}") from exc
    except OSError as exc:
        raise StoreError(f"cannot create the database folder for {_said(url)!r}: {exc}") from exc


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
            # the most recently used connection first: its page cache is warm, and the
            # others (each with a cache of its own) stay few and small
            pool_use_lifo=True,
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
    engine = sa.create_engine(url, pool_pre_ping=True, connect_args=_postgres_args(url))
    sa.event.listen(engine, "connect", _end_idle_transactions)
    sa.event.listen(engine, "handle_error", _idle_end_is_a_disconnect)
    return engine


# Seconds to wait for PostgreSQL to accept a connection (libpq's connect_timeout), unless
# the URL or PGCONNECT_TIMEOUT names its own: a server whose packets are dropped would
# otherwise hold a job, or the daemon's stop, for the system's TCP timeout (about two
# minutes), past a service manager's grace period.
CONNECT_TIMEOUT = 10
# An open connection whose server vanished (a host gone, a network cut) is found dead by
# these instead of the system's retransmissions, about 15 minutes on Linux: data not
# acknowledged within 30 s, or 3 keepalive probes unanswered after 30 s idle. Each is
# kept as the URL sets it. (A server that takes the data and never answers still holds
# its caller: libpq has no timeout for an answer.)
TCP_ARGS: dict[str, int] = {
    "tcp_user_timeout": 30_000,  # milliseconds
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


# Seconds a transaction of this process may sit idle (between two of its statements)
# before the server ends its session. A peer frozen mid-transaction (a paused container, a
# stopped process: the kernel still answers for its socket, so keepalives do not find it)
# holds its row locks until then, and every worker that needs one of those rows waits,
# a store thread, a job or a stop. Ours last milliseconds between statements; the server's
# own setting wins when anything set it (the URL's options, PGOPTIONS, ALTER ROLE).
IDLE_IN_TRANSACTION = 60


def _idle_end_is_a_disconnect(ctx: sa.engine.ExceptionContext) -> sa.exc.DBAPIError | None:
    """The server ended this session for sitting idle in a transaction (this process was
    frozen): its connection is gone, as after a server restart, and is said so (an
    ``OperationalError``, which the jobs treat as the database being away for a moment),
    not as an internal error."""
    if getattr(ctx.original_exception, "sqlstate", None) != "25P03":
        return None
    ctx.is_disconnect = True
    return sa.exc.OperationalError(
        ctx.statement, ctx.parameters, ctx.original_exception, connection_invalidated=True
    )


def _end_idle_transactions(dbapi_conn: Any, _record: Any) -> None:
    with dbapi_conn.cursor() as cur:
        cur.execute(
            "SELECT set_config('idle_in_transaction_session_timeout', %s, false)"
            " FROM pg_settings WHERE name = 'idle_in_transaction_session_timeout'"
            " AND source = 'default'",
            (f"{IDLE_IN_TRANSACTION * 1000:.0f}",),
        )
    dbapi_conn.commit()


def _postgres_args(url: str) -> dict[str, Any]:
    named = sa.engine.make_url(url).query
    args: dict[str, Any] = {k: v for k, v in TCP_ARGS.items() if k not in named}
    # the operator's own, in the URL or libpq's environment variable, is kept
    if "connect_timeout" not in named and not os.environ.get("PGCONNECT_TIMEOUT"):
        args["connect_timeout"] = CONNECT_TIMEOUT
    return args


def make_read_engine(url: str, *, busy_timeout_ms: int = 5000, cache_mb: int = 32) -> Engine:
    """An engine that can only read: the web view's pages (issue 15, point 3).

    SQLite: ``PRAGMA query_only`` on every connection, and deferred transactions (a
    reader must not take the write lock the daemon's writers wait for; in WAL mode it
    never blocks them). PostgreSQL: every transaction is ``READ ONLY``. A statement that
    writes fails on either.
    """
    if not url.startswith("sqlite"):
        try:
            engine = sa.create_engine(url, pool_pre_ping=True, connect_args=_postgres_args(url))
        except (sa.exc.ArgumentError, ValueError) as exc:  # ValueError: a port that is no number
            raise StoreError(f"bad database URL {_said(url)!r}: {exc}") from exc

        sa.event.listen(engine, "connect", _end_idle_transactions)
        sa.event.listen(engine, "handle_error", _idle_end_is_a_disconnect)

        @sa.event.listens_for(engine, "connect")
        def _read_only(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            cur.close()
            dbapi_conn.commit()

        return engine
    try:
        engine = sa.create_engine(
            url,
            connect_args={"isolation_level": None, "check_same_thread": False},
            pool_use_lifo=True,
        )
    except (sa.exc.ArgumentError, ValueError) as exc:  # ValueError: a port that is no number
        raise StoreError(f"bad database URL {_said(url)!r}: {exc}") from exc

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cur.execute(f"PRAGMA cache_size = {-1024 * int(cache_mb)}")
        cur.execute("PRAGMA query_only = ON")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN")  # deferred: a reader takes no write lock

    return engine


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # '%' must be doubled for configparser (a search_path option in a URL has one)
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


# The advisory lock every upgrade of a PostgreSQL database holds: commands and daemons
# started at once on a new database take turns, and the later ones find nothing to do.
_UPGRADE_LOCK = 0x6D6F6E5F73636865  # "mon_sche"


# (migrations done, migrations to do, the revision the database is at: before the first
# migration, its revision then, None for a new database)
Steps = Callable[[int, int, str | None], None]


def upgrade(engine: Engine, *, on_step: Steps | None = None) -> str | None:
    """Bring the schema to the newest revision; returns that revision. On PostgreSQL the
    upgrade holds an advisory lock, so any number of processes may start at once.
    ``on_step`` hears before the first migration and after each (progress)."""
    if _at_head(engine):
        return HEAD
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script.revision import ResolutionError

    cfg = alembic_config(engine)
    if on_step is not None:
        _count_steps(cfg, on_step)
    try:
        with engine.connect() as conn:
            postgres = conn.dialect.name == "postgresql"
            if postgres:
                conn.exec_driver_sql(f"SELECT pg_advisory_lock({_UPGRADE_LOCK})")
                conn.commit()
            try:
                cfg.attributes["connection"] = conn
                try:
                    command.upgrade(cfg, "head")
                except ResolutionError as exc:
                    # A revision this version has no migration for: a newer monitor
                    # upgraded the schema (several daemons share one PostgreSQL).
                    at = MigrationContext.configure(conn).get_current_revision()
                    raise StoreError(
                        f"database {shown_url(engine.url)} is at"
                        f" schema revision {at}, which this monitor does not know (its"
                        f" newest is {HEAD}): a newer monitor's? Upgrade monitor to the"
                        " version that wrote it"
                    ) from exc
                conn.commit()
                return MigrationContext.configure(conn).get_current_revision()
            finally:
                if postgres:
                    conn.rollback()
                    conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_UPGRADE_LOCK})")
                    conn.commit()
    except sa.exc.DBAPIError as exc:  # unreachable server, not a database file, ...
        shown = shown_url(engine.url)
        why = " ".join(str(exc.orig).split())  # the driver's reason, on one line
        raise StoreError(f"cannot open database {shown}: {why}") from exc


def _count_steps(cfg: Config, on_step: Steps) -> None:
    """Wire ``on_step`` into the migration run (monitor/migrations/env.py calls it)."""
    done = [0]
    total = [0]

    def started(current: str | None) -> None:
        from alembic.script import ScriptDirectory

        script = ScriptDirectory.from_config(cfg)
        total[0] = sum(1 for _ in script.iterate_revisions("head", current))
        on_step(0, total[0], current)

    def applied(*_: Any, step: Any, **__: Any) -> None:
        done[0] += 1
        on_step(done[0], total[0], str(step.up_revision_id))

    cfg.attributes["on_start"] = started
    cfg.attributes["on_version_apply"] = applied


def _at_head(engine: Engine) -> bool:
    """Whether the schema is already the newest: one query, no Alembic.

    On SQLite the query runs outside any transaction: ours begin IMMEDIATE, and while
    another process wrote, every command waited for the write lock to read one row, and
    took a timeout for "not at the newest schema" (an upgrade, which found nothing to do).
    """
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                try:
                    found = cur.execute("SELECT version_num FROM alembic_version").fetchall()
                finally:
                    cur.close()
            else:
                found = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except (sa.exc.DBAPIError, sqlite3.Error):  # no such table yet (a new database), or none
        return False
    return [tuple(r) for r in found] == [(HEAD,)]


def integrity_problems(engine: Engine, *, limit: int = 20) -> list[str]:
    """What SQLite's ``PRAGMA quick_check`` finds wrong with the file (empty: sound).

    A file that is not a database at all is one problem. PostgreSQL checks its own pages.
    """
    if engine.dialect.name != "sqlite":
        return []
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(f"PRAGMA quick_check({int(limit)})").all()
    except sa.exc.OperationalError:
        raise  # locked, busy, cannot be opened: not damage (cli.faults says which)
    except sa.exc.DatabaseError as exc:
        return [str(exc.orig).strip() or type(exc.orig).__name__]
    found = [str(r[0]) for r in rows]
    return [] if found == ["ok"] else found


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def db_now(session: Session) -> datetime:
    """The database's clock (PostgreSQL's ``now()``, the transaction's start), so that
    leases taken by workers on several machines are measured by one clock. SQLite is a
    file on this machine: its clock is this machine's."""
    if session.get_bind().dialect.name == "postgresql":
        at = session.execute(sa.text("SELECT now()")).scalar_one()
        assert isinstance(at, datetime)
        return at.astimezone(UTC)
    return datetime.now(UTC)


def writer_now(session: Session) -> datetime:
    """When a batch's articles are first seen, taken once its transaction can write: a
    digest's window ends at a time, and an article first seen before it but committed
    after the digest was read would be in no digest. SQLite: after the write lock is
    taken (this session's BEGIN IMMEDIATE), so a store that waited behind a digest is
    first seen after it. PostgreSQL: the transaction's start, with its transaction id
    taken at once, so that a digest sees it in flight (:func:`writers_since`)."""
    if session.get_bind().dialect.name == "postgresql":
        at = session.execute(sa.text("SELECT now(), txid_current()")).one()[0]
        assert isinstance(at, datetime)
        return at.astimezone(UTC)
    session.connection()  # BEGIN IMMEDIATE: waits for the writer before
    return datetime.now(UTC)


def writers_since(session: Session) -> datetime | None:
    """PostgreSQL: when the oldest transaction still in flight that has written began,
    among the other sessions of this database and role (monitor's workers): what it
    stores is first seen then (:func:`writer_now`), so a digest's window ends there at
    the latest. None on SQLite, whose writers take turns."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    at = session.execute(
        sa.text(
            "SELECT min(xact_start) FROM pg_stat_activity WHERE datname = current_database()"
            " AND usename = current_user AND pid <> pg_backend_pid()"
            " AND backend_xid IS NOT NULL"
        )
    ).scalar()
    return at.astimezone(UTC) if isinstance(at, datetime) else None


# The advisory lock that story placement and rule evaluation hold until their transaction
# ends: the key the rule evaluation lock had ("mon_rule"), so that during a rolling upgrade
# evaluation still takes turns with daemons of the version before (which place articles
# without it: placement takes turns once every daemon runs this version).
_WRITER_TURN = 0x6D6F6E5F72756C65


def writer_turn(session: Session) -> None:
    """Wait until no other worker places articles or evaluates rules, and hold that turn
    until this transaction ends.

    Both read shared state and write what they decided from it: the stories an article
    may join, the rule state. Two workers on PostgreSQL each reading before the other
    commits would each start a story for the same event, or each write back their own
    rule state. SQLite already serialises writers (every transaction begins IMMEDIATE).
    One key for both: a transaction that places and then evaluates takes it once (an
    advisory lock its session already holds is granted again at once), and no two
    workers can take them in opposite orders.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_WRITER_TURN)))


@contextmanager
def daemon_lock(engine: Engine) -> Iterator[None]:
    """One daemon per SQLite file: a second ``monitor run`` on the same file is refused
    (``StoreError``), while short commands keep working beside it. Several daemons share
    a PostgreSQL database by design, so there this does nothing."""
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:" or path.startswith("file:"):
        yield
        return
    lock_path = Path(path).expanduser().resolve().with_name(Path(path).name + ".daemon")
    with lock_path.open("a+") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise StoreError(
                f"another monitor daemon ({holder}) already runs on {path}: one daemon per "
                "SQLite file (several daemons share a PostgreSQL database)"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


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
