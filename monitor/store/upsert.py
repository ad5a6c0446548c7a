"""INSERT ... ON CONFLICT DO NOTHING on both SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Insert
from sqlmodel import Session


def insert_ignore(session: Session, table: Any) -> Insert:
    """An INSERT for ``table`` that skips rows violating any unique constraint."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()
