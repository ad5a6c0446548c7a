"""Fixtures shared by every test: temporary databases, the corpus folders."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.store.db import make_engine, upgrade

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
RULES = ROOT / "rules"
SHARED = ROOT.parent / "shared"


def _example_channels() -> frozenset[str]:
    from monitor.bundled import CHANNELS_EXAMPLE
    from monitor.notify.channels import load_channels

    return frozenset(c.name for c in load_channels(CHANNELS_EXAMPLE, {}, unset_ok=True)) | {"log"}


# The channel names the shipped rules may route to: those of the example channels file.
CHANNELS = _example_channels()


@pytest.fixture(autouse=True)
def _no_user_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up the developer's MONITOR_* variables."""
    for key in list(os.environ):
        if key.startswith("MONITOR_") and key != "MONITOR_TEST_DATABASE_URL":
            monkeypatch.delenv(key)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'monitor.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """A database URL of each kind: SQLite, then PostgreSQL (skipped without one)."""
    if request.param == "sqlite":
        return sqlite_url
    got: str = request.getfixturevalue("pg_url")
    return got


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    eng = make_engine(sqlite_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose connections use a fresh schema, dropped afterwards."""
    base = os.environ.get("MONITOR_TEST_DATABASE_URL")
    if not base:
        pytest.skip("MONITOR_TEST_DATABASE_URL is not set (no PostgreSQL server to test against)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    eng = make_engine(pg_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@contextmanager
def database_outage(engine: Engine) -> Iterator[Callable[[], None]]:
    """An SQLite engine whose database can be made to stop answering, as a PostgreSQL
    restart does: the function given drops the open connections and every new one is
    refused (``OperationalError``) until the block ends."""
    down = [False]

    def refuse(*_: object) -> None:
        if down[0]:
            raise sqlite3.OperationalError("unable to open database file")

    def lose() -> None:
        down[0] = True
        engine.dispose()

    sa.event.listen(engine, "do_connect", refuse)
    try:
        yield lose
    finally:
        sa.event.remove(engine, "do_connect", refuse)
