"""A database for the web view's tests and benchmark: the bundled seeds ingested with
the shipped rules, plus a digest and an outbox with one dead and one sent message; and a
synchronous client for the view's ASGI app (httpx's ASGI transport on a private loop)."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from starlette.types import ASGIApp

from monitor.cli import main
from monitor.rules.loader import load_rules
from monitor.settings import Settings
from monitor.store import deliveries, digests, sources
from monitor.store.db import make_engine, session_scope
from monitor.web.app import create_app
from monitor.web.security import Guard
from monitor.web.server import make_view
from monitor.web.view import View
from tests.conftest import RULES, SEEDS

DEAD_ERROR = "550 5.1.1 mailbox unavailable"


def seeded(path: Path) -> str:
    """The seeds ingested into a new SQLite file at ``path``; returns its URL."""
    for source, files in (
        ("ainvest-markets-rss", [SEEDS / "feeds" / "markets.rss"]),
        ("ainvest-wire-atom", [SEEDS / "feeds" / "wire.atom"]),
        ("ainvest-site", sorted((SEEDS / "site" / "articles").glob("*.html"))),
    ):
        args = ["--db", str(path), "--rules", str(RULES), "ingest", "--source", source]
        assert main([*args, *map(str, files)]) == 0
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
        # two polled sources: one that answers, one that fails
        sources.sync_sources(
            session,
            [
                sources.SourceConfig("wire", "https://wire.example.test/feed", "feed", 900),
                sources.SourceConfig("broken", "https://broken.example.test/", "page", 900),
            ],
            now - timedelta(hours=2),
        )
        ok, bad = (sources.by_name(session, n) for n in ("wire", "broken"))
        assert ok is not None and bad is not None
        sources.record_success(
            session, ok, etag=None, last_modified=None, content_hash=None, new_items=3,
            next_delay_s=900, now=now - timedelta(hours=1),
        )  # fmt: skip
        sources.record_failure(
            session, bad, kind="http", message="HTTP 503 from https://broken.example.test/",
            next_delay_s=1800, now=now - timedelta(hours=1),
        )  # fmt: skip
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
    with sqlite3.connect(path) as conn:  # every page in the file: it can be copied alone
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return url


def copy_of(base: Path, folder: Path) -> str:
    """A copy of a seeded database (a test that changes it changes only its own)."""
    shutil.copy(base, folder / base.name)
    return f"sqlite:///{folder / base.name}"


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


HOSTILE_TITLE = '<script>alert("t")</script><img src=x onerror=alert("i")> Alibaba "quoted" & co'
HOSTILE_URL = "javascript:alert('u')"


def add_hostile(url: str) -> int:
    """A story whose article has a hostile title, link and quote, dated after every
    other (first on the overview); returns the story's id."""
    engine = make_engine(url)
    stamp = "2030-01-01 00:00:00.000000"
    with engine.begin() as conn:
        sid = conn.execute(
            sa.text(
                "INSERT INTO story (title, main_entity, first_seen_at, last_seen_at,"
                " article_count) VALUES (:t, 'alibaba', :s, :s, 1) RETURNING id"
            ),
            {"t": HOSTILE_TITLE, "s": stamp},
        ).scalar_one()
        aid = conn.execute(
            sa.text(
                "INSERT INTO article (source_id, entry_key, url, title, first_seen_at, sort_at,"
                " text, ai_generated, summary_only, content_hash, extracted, story_id)"
                " VALUES ((SELECT MIN(id) FROM source), 'hostile', :u, :t, :s, :s, 'x', 1, 0,"
                " 'hostile', 1, :sid)"
                " RETURNING id"
            ),
            {"u": HOSTILE_URL, "t": HOSTILE_TITLE, "s": stamp, "sid": sid},
        ).scalar_one()
        conn.execute(
            sa.text(
                "INSERT INTO fact (article_id, story_id, entity, metric, value, unit, currency,"
                " surface, quote, span_start, span_end, confidence, new_to_story, created_at,"
                " sort_at, source_id, ai_generated) SELECT :a, :sid, 'alibaba',"
                " 'ai_capex_plan', 1e9, 'money', 'USD', '<b>$1 billion</b>', :t, 0, 1, 1.0, 1,"
                " :s, sort_at, source_id, ai_generated FROM article WHERE id = :a"
            ),
            {"a": aid, "sid": sid, "t": HOSTILE_TITLE, "s": stamp},
        )
        conn.execute(
            sa.text(
                "INSERT INTO alert (rule_id, key, severity, title, story_id, payload, channels,"
                " immediate, created_at) VALUES ('alibaba-capex-change', 'hostile', 'high', :t,"
                " :sid, '{}', '[]', 0, :s)"
            ),
            {"t": HOSTILE_TITLE, "sid": sid, "s": stamp},
        )
    engine.dispose()
    return int(sid)
