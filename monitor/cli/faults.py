"""Errors as one line each: what went wrong and, where it helps, what to do."""

from __future__ import annotations

import errno
import sqlite3

import sqlalchemy as sa

from monitor.errors import MonitorError, UsageError


def describe(exc: BaseException) -> tuple[int, list[str]]:
    """(exit code, lines to print); no lines for an error nobody anticipated."""
    if isinstance(exc, MonitorError):
        return (2 if isinstance(exc, UsageError) else 1), str(exc).splitlines() or [
            type(exc).__name__
        ]
    if isinstance(exc, sa.exc.DBAPIError):
        return 1, [database_fault(exc.orig if exc.orig is not None else exc, _database(exc))]
    if isinstance(exc, sqlite3.Error):
        return 1, [database_fault(exc, _database(exc))]
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return 1, [f"{where}the disk is full"]
        return 1, [f"{where}{exc.strerror or exc}"]
    return 1, []


def _database(exc: BaseException) -> str | None:
    """The database the command used, as ``cli.base`` noted it on the exception."""
    from monitor.cli.base import DATABASE_NOTE

    for note in getattr(exc, "__notes__", ()):
        if isinstance(note, str) and note.startswith(DATABASE_NOTE):
            return note.removeprefix(DATABASE_NOTE)
    return None


def database_fault(orig: BaseException, database: str | None = None) -> str:
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    low = text.lower()
    db = f"the database {database}" if database else "the database"
    if "malformed" in low or "not a database" in low:
        return (
            f"{db} is damaged ({text}); `monitor db upgrade` runs a check,"
            " and a backup or a new database is the way back"
        )
    if "readonly" in low or "read-only" in low:
        return f"{db} is read-only ({text}): check the file's permissions"
    if "disk is full" in low or "disk i/o error" in low:
        return f"{db} could not be written ({text}): is the disk full?"
    if "locked" in low:
        return f"{db} is busy ({text}): another process holds it"
    return f"{db}: {text}"
