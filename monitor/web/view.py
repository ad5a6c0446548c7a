"""What every page works with: the read-only and the writing database, the rules in
force, the guard, and the page sizes; and how a page is rendered and read."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse

from monitor.rules.display import Names
from monitor.rules.loader import RuleSet
from monitor.store.db import session_scope
from monitor.web.backtests import Backtests
from monitor.web.security import Guard
from monitor.web.templating import render

NAV = (
    ("/", "Overview"),
    ("/facts", "Facts"),
    ("/rules", "Rules"),
    ("/sources", "Sources"),
    ("/digests", "Digests"),
    ("/deliveries", "Deliveries"),
)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class View:
    # pages read through ``read`` (query_only / READ ONLY); only a retry writes
    read: Engine
    write: Engine
    rules: Callable[[], RuleSet]
    guard: Guard = field(default_factory=Guard)
    page_size: int = 50
    chart_marks: int = 2000
    stale_factor: float = 4.0
    clock: Callable[[], datetime] = _now
    backtests: Backtests = field(default_factory=Backtests)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with session_scope(self.read) as session:
            yield session

    def names(self) -> Names:
        return Names(self.rules().vocabulary)


def view_of(request: Request) -> View:
    got: View = request.app.state.view
    return got


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A page: the template with the navigation, the CSRF token for its forms, and the
    display names of the rules' vocabulary."""
    view = view_of(request)
    body = render(
        template,
        nav=NAV,
        here=request.url.path,
        csrf=view.guard.csrf_token(request),
        names=view.names(),
        signed_in=bool(view.guard.token),
        **context,
    )
    return HTMLResponse(body, status_code=status)
