"""A database for the web view's tests and benchmark: the bundled seeds ingested with
the shipped rules, plus a digest and an outbox with one dead and one sent message; and a
synchronous client for the view's ASGI app (httpx's ASGI transport on a private loop)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from starlette.types import ASGIApp

from monitor.cli import main
from monitor.rules.loader import load_rules
from monitor.settings import Settings
from monitor.store import deliveries, digests
from monitor.store.db import make_engine, session_scope
from monitor.web.app import create_app
from monitor.web.security import Guard
from monitor.web.server import make_view
from monitor.web.view import View
from tests.conftest import RULES, SEEDS

DEAD_ERROR = "550 5.1.1 mailbox unavailable"


def seeded(path: Path) -> str:
    """The seeds ingested into a new SQLite file at ``path``; returns its URL."""
    code = main(
        ["--db", str(path), "--rules", str(RULES), "ingest", "-r", str(SEEDS / "site"),
         str(SEEDS / "feeds")]
    )  # fmt: skip
    assert code == 0
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        # built a day ago: every alert of the ingest came after it
        digest_id = digests.save_window(
            session, channel="desk-email", window_key="digest:desk-email@test", start=None,
            end=now - timedelta(days=1), title="Alibaba: capex plan", text="the digest text",
            html="", alert_ids=[], now=now - timedelta(days=1),
        )  # fmt: skip
        rows = [
            deliveries.NewDelivery(
                f"test:{n}",
                "digest",
                digest_id,
                "desk-email",
                "analyst@example.com",
                1,
                1,
                f"<m{n}@test>",
                {"subject": f"digest part {n}"},
            )
            for n in (1, 2)
        ]
        first, second = deliveries.enqueue(session, rows, now=now)
        session.execute(
            sa.text(
                "UPDATE delivery SET status = 'dead', attempts = 12, last_error = :e WHERE id = :i"
            ),
            {"e": DEAD_ERROR, "i": first},
        )
        session.execute(
            sa.text("UPDATE delivery SET status = 'sent', attempts = 1 WHERE id = :i"),
            {"i": second},
        )
    engine.dispose()
    return url


def view_of(url: str, *, rules: Path = RULES, token: str | None = None, **settings: Any) -> View:
    s = Settings()
    if settings:
        s = s.model_copy(update={"web": s.web.model_copy(update=settings)})
    ruleset = load_rules(rules, channels=None)
    view = make_view(s, make_engine(url), lambda: ruleset)
    view.guard = Guard(token=token)
    return view


class Client:
    """httpx over the app's ASGI interface, called synchronously."""

    def __init__(self, app: ASGIApp, base_url: str = "http://127.0.0.1") -> None:
        self.loop = asyncio.new_event_loop()
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=base_url, follow_redirects=False
        )

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.http.request(method, url, **kw))

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        self.loop.close()


def client_for(view: View, base_url: str = "http://127.0.0.1") -> Client:
    return Client(create_app(view), base_url)
