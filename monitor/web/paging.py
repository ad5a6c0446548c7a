"""Query parameters of the pages and the API: dates, numbers, and keyset cursors.

A page of a long list ends with a link to the next one that carries the last row's
sort key (``before=2025-12-01T08:00:00+00:00~1234``): the next page starts there, and
costs what the first one did however deep it goes (issue 15, point 5). A malformed
parameter is the client's mistake: 400 with what was wrong.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

# Row ids are INTEGER columns: PostgreSQL's hold 2**31 - 1 at most, and a larger number
# in a URL names no row (it was a 500 from the driver's range check).
MAX_ID = 2**31 - 1
# Dates a page can use: a day before the first, or after the last, has no UTC time.
_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
_LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def text(request: Request, name: str) -> str | None:
    got = request.query_params.get(name, "").strip()
    if "\x00" in got:  # no column holds one (PostgreSQL refuses it in a query)
        raise HTTPException(400, f"{name}: a NUL character is no part of any value")
    return got or None


def _whole(raw: str) -> bool:
    """Digits 0-9 only: ``isdigit`` also takes "²" and other digits ``int`` refuses; and
    not too many for ``int`` (it refuses more than 4,300, a 500): no id or count of ours
    has more than 18."""
    return raw.isascii() and raw.isdigit() and len(raw) <= 18


def path_id(request: Request, name: str, what: str) -> int:
    """A row id from the path; anything but a number small enough to be one names no row
    (404; the routes take any text there, since their own number check fails on a long
    one with a 500)."""
    raw = str(request.path_params[name])
    if not _whole(raw) or int(raw) > MAX_ID:
        raise HTTPException(404, f"no {what} {raw[:20]}")
    return int(raw)


def date(request: Request, name: str) -> datetime | None:
    """YYYY-MM-DD or an ISO timestamp (UTC when it gives no zone), as the CLI reads it."""
    raw = text(request, name)
    return None if raw is None else parse_date(raw, name)


def parse_date(raw: str, name: str) -> datetime:
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise HTTPException(400, f"{name}: {raw!r} is not a date (YYYY-MM-DD)") from None
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    try:
        utc = at.astimezone(UTC)
    except OverflowError:  # 0001-01-01 at +14:00 is before the first representable time
        utc = None
    if utc is None or not _EARLIEST <= utc <= _LATEST:
        raise HTTPException(400, f"{name}: {raw!r} is out of range (years 1 to 9999)")
    return at


def number(request: Request, name: str, default: int, *, low: int = 1, high: int = 10**9) -> int:
    raw = text(request, name)
    if raw is None:
        return default
    if not _whole(raw) or not low <= int(raw) <= high:
        raise HTTPException(400, f"{name}: expected a whole number from {low} to {high}")
    return int(raw)


def flag(request: Request, name: str) -> bool:
    return (text(request, name) or "").lower() in ("1", "true", "yes", "on")


def cursor(request: Request, name: str = "before") -> tuple[datetime, int] | None:
    """A (time, id) keyset cursor."""
    raw = text(request, name)
    if raw is None:
        return None
    at, sep, rid = raw.rpartition("~")
    if not sep or not _whole(rid) or int(rid) > MAX_ID:
        raise HTTPException(400, f"{name}: not a page cursor")
    return parse_date(at, name), int(rid)


def make_cursor(at: datetime | None, rid: int) -> str:
    return f"{(at or datetime.min.replace(tzinfo=UTC)).isoformat()}~{rid}"


def id_cursor(request: Request, name: str = "before") -> int | None:
    raw = text(request, name)
    if raw is None:
        return None
    if not _whole(raw) or int(raw) > MAX_ID:
        raise HTTPException(400, f"{name}: not a page cursor")
    return int(raw)


def page_of(rows: list[Any], size: int) -> tuple[list[Any], bool]:
    """The rows of a page read with ``size + 1`` and whether there is a next page."""
    return rows[:size], len(rows) > size


def link(request: Request, **params: Any) -> str:
    """This page's address with some query parameters replaced (None removes one)."""
    query = {k: v for k, v in request.query_params.items()}
    for k, v in params.items():
        if v is None:
            query.pop(k, None)
        else:
            query[k] = str(v)
    from urllib.parse import urlencode

    return request.url.path + ("?" + urlencode(query) if query else "")
