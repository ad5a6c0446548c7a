"""RELIABILITY items whose code was right but whose every clause no test asserted: what a
failed, refused or unchanged poll leaves on its source row (F1, F9, F10), SMTP replies
(N6), a message that outlived its maximum age (N3), duplicate GUIDs end to end (S1) and a
benign feedparser bozo (P6). Real loopback servers, real SQLite."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, func, select

from monitor.app.batches import BatchReport
from monitor.app.outbox import Dispatcher
from monitor.demo_sinks import smtp_sink as demo_smtp_sink
from monitor.fetch.client import Fetcher
from monitor.fetch.feeds import parse_feed
from monitor.fetch.source_file import SourceSpec
from monitor.models import Alert, Article, Source
from monitor.notify.email import EmailNotifier
from monitor.notify.message import SendResult
from monitor.pipeline import Pipeline
from monitor.rules.loader import EMPTY
from monitor.settings import Settings
from monitor.store import sources as sources_store
from monitor.store.db import session_scope
from tests.integration.badserver import BadServer, Request, _big, _feed, _send
from tests.integration.smtp_sink import Sink, smtp_sink
from tests.integration.test_delivery import (
    CAPEX,
    Slack,
    email_sent_slack_retrying,
    pipeline,
    rows,
    slack,
)
from tests.integration.test_notify_email import message
from tests.integration.test_notify_email import settings as smtp_settings

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CAP = 1024 * 1024
FEED_ETAG = '"v1"'  # what badserver's /feed.xml answers with
FEED_LAST_MODIFIED = "Wed, 31 Dec 2025 10:00:00 GMT"


# ------------------------------------------------------------------------ helpers


class Clock:
    """The pipeline's clock, moved by hand: each poll happens at a known time."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def poller(engine: Engine) -> tuple[Pipeline, Clock]:
    settings = Settings(
        database_url=str(engine.url),
        http={
            "allow_networks": ["127.0.0.1/32"],
            "jitter": 0.0,
            "max_body_bytes": CAP,
            "total_timeout": 5.0,
            "connect_timeout": 1.0,
        },
    )
    clock = Clock(T0)
    return Pipeline(settings, engine, EMPTY, clock=clock), clock


def spec(url: str, *, interval_s: float = 600.0) -> SourceSpec:
    return SourceSpec(name="feed", url=url, kind="rss", interval_s=interval_s)


async def poll_once(pipe: Pipeline, fetcher: Fetcher) -> BatchReport:
    (report,) = await pipe.poll_due(fetcher, all_sources=True)
    return report


def source_row(engine: Engine) -> Source:
    with session_scope(engine) as s:
        row = sources_store.by_name(s, "feed")
        assert row is not None
        s.expunge(row)
        return row


def article_count(engine: Engine) -> int:
    with session_scope(engine) as s:
        return int(s.exec(select(func.count()).select_from(Article)).one())


def fetcher_for(pipe: Pipeline) -> Fetcher:
    return Fetcher(pipe.settings.http, parse_workers=0)


# ------------------------------------------------------------------------- fetch


def test_a_body_over_the_cap_keeps_validators_counts_one_error_and_backs_off(
    engine: Engine,
) -> None:
    """RELIABILITY F1 on the source row. Guards against a too_large poll being recorded as
    a success (validators overwritten by the refused response's, the error count reset,
    the next poll at the plain interval) or dropping what the last good poll stored.
    Asserts: kind too_large; ETag, Last-Modified and content hash as the 200 left them;
    error count 0 -> 1; next poll later than a healthy poll's (now + interval); the
    articles stay."""
    pipe, clock = poller(engine)
    interval = 600.0

    async def scenario() -> tuple[BatchReport, BatchReport, Source]:
        async with BadServer() as server, fetcher_for(pipe) as fetcher:

            async def good_then_huge(request: Request, writer: asyncio.StreamWriter) -> bool:
                if len(server.hits("/flip")) == 1:
                    return await _feed(request, writer)  # 200, ETag and Last-Modified
                return await _big(request, writer)  # 20 MiB identity body, cap is 1 MiB

            server.route("/flip", good_then_huge)
            pipe.sync_sources([spec(server.url("/flip"), interval_s=interval)])
            first = await poll_once(pipe, fetcher)
            after_first = source_row(engine)
            clock.at = T0 + timedelta(hours=1)
            second = await poll_once(pipe, fetcher)
            return first, second, after_first

    first, second, good = asyncio.run(scenario())
    assert first.error is None and first.new == 3
    assert (good.etag, good.last_modified) == (FEED_ETAG, FEED_LAST_MODIFIED)
    assert good.error_count == 0 and good.content_hash is not None
    assert second.error_kind == "too_large", second.error
    row = source_row(engine)
    assert (row.etag, row.last_modified, row.content_hash) == (
        good.etag, good.last_modified, good.content_hash,
    )  # fmt: skip
    assert (row.error_count, row.error_total, row.last_error_kind) == (1, 1, "too_large")
    assert row.last_success_at == T0  # the failed poll is no success
    assert row.next_poll_at is not None
    assert row.next_poll_at > clock.at + timedelta(seconds=interval)  # backed off
    assert article_count(engine) == 3  # nothing stored is lost


def test_a_304_counts_no_error_updates_the_check_time_and_keeps_the_validators(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RELIABILITY F9 on the source row. Guards against a 304 being taken through
    raise_for_status (an error), being parsed as an empty body, wiping the validators
    (the next poll unconditional) or leaving the source looking unchecked. Asserts: the
    second poll sends If-None-Match, is not_modified with nothing new and no error; the
    body is parsed once (the 200) only; error count 0; last_poll_at and last_success_at
    (the check time) are the second poll's; ETag, Last-Modified and hash unchanged."""
    pipe, clock = poller(engine)
    parses: list[str] = []

    def counting_parse(body: bytes, headers: Any, url: str, **kw: Any) -> Any:
        parses.append(url)
        return parse_feed(body, headers, url, **kw)

    monkeypatch.setattr("monitor.fetch.client.parse_feed", counting_parse)

    async def scenario() -> tuple[BatchReport, BatchReport, Source, list[Request]]:
        async with BadServer() as server, fetcher_for(pipe) as fetcher:
            pipe.sync_sources([spec(server.url("/feed.xml"))])
            first = await poll_once(pipe, fetcher)
            after_first = source_row(engine)
            clock.at = T0 + timedelta(hours=1)
            second = await poll_once(pipe, fetcher)
            return first, second, after_first, server.hits("/feed.xml")

    first, second, good, hits = asyncio.run(scenario())
    assert first.new == 3 and not first.not_modified
    assert hits[-1].headers.get("if-none-match") == FEED_ETAG
    assert second.not_modified and second.new == 0 and second.error is None
    assert len(parses) == 1  # the 200 only: a 304 has no body to parse
    row = source_row(engine)
    assert row.error_count == 0 and row.error_total == 0 and row.last_error_kind is None
    assert row.last_poll_at == row.last_success_at == T0 + timedelta(hours=1)
    assert row.poll_count == 2
    assert (row.etag, row.last_modified, row.content_hash) == (
        good.etag, good.last_modified, good.content_hash,
    )  # fmt: skip
    assert row.etag == FEED_ETAG and row.last_modified == FEED_LAST_MODIFIED


def test_a_429_with_retry_after_puts_the_next_poll_at_least_that_far_away(
    engine: Engine,
) -> None:
    """RELIABILITY F10 on the schedule. Guards against a host's Retry-After: 120 being
    ignored (the source retried after its backoff alone: 10 s x 2, about 20 s, here) or
    counted as a parse error. Asserts: next_poll_at >= now + 120 s; the error kind is
    http_status; a poll round at +119 s claims nothing and sends no request; one at
    +121 s polls it again."""
    pipe, clock = poller(engine)

    async def scenario() -> tuple[BatchReport, Source, list[BatchReport], int, int]:
        async with BadServer() as server, fetcher_for(pipe) as fetcher:
            pipe.sync_sources([spec(server.url("/429"), interval_s=10.0)])
            report = await poll_once(pipe, fetcher)
            row = source_row(engine)
            clock.at = T0 + timedelta(seconds=119)
            early = await pipe.poll_due(fetcher)
            hits_early = len(server.hits("/429"))
            clock.at = T0 + timedelta(seconds=121)
            await pipe.poll_due(fetcher)
            return report, row, early, hits_early, len(server.hits("/429"))

    report, row, early, hits_early, hits_late = asyncio.run(scenario())
    assert report.error_kind == "http_status" and "429" in (report.error or "")
    assert row.last_error_kind == "http_status"  # not a parse error
    assert row.next_poll_at is not None and row.next_poll_at >= T0 + timedelta(seconds=120)
    assert early == [] and hits_early == 1
    assert hits_late == 2


# ------------------------------------------------------------------ notifications


def test_smtp_421_and_450_are_temporary_and_553_is_permanent_for_its_recipient() -> None:
    """RELIABILITY N6 for the codes the existing tests left out (they cover 550, 451, 452
    and 554). Guards against a 421 (service closing) or 450 (mailbox unavailable) being
    given up on, and a 553 (mailbox name not allowed) being retried for ever or failing
    the recipients that were accepted. Asserts: with 450 and 553 at RCPT, the accepted
    address gets the mail, 450 is retry/smtp_450, 553 is permanent/smtp_553; a 421 at
    RCPT is retry/smtp_421 and nothing is delivered."""
    sink = Sink(
        refuse={
            "busy@example.com": "450 4.2.1 mailbox unavailable, try later",
            "bad@example.com": "553 5.1.3 mailbox name not allowed",
            "closing@example.com": "421 4.3.2 service shutting down",
        }
    )

    async def go() -> tuple[SendResult, int, SendResult]:
        async with smtp_sink(sink):
            notifier = EmailNotifier(smtp_settings(sink.port, tls="none"))
            mixed = await notifier.send(
                message("ok@example.com", "busy@example.com", "bad@example.com")
            )
            delivered = len(sink.received)
            closing = await notifier.send(message("closing@example.com"))
            return mixed, delivered, closing

    mixed, delivered, closing = asyncio.run(go())
    by = {o.recipient: (o.status, o.kind) for o in mixed.outcomes}
    assert by == {
        "ok@example.com": ("delivered", None),
        "busy@example.com": ("retry", "smtp_450"),
        "bad@example.com": ("permanent", "smtp_553"),
    }
    assert mixed.status == "retry" and mixed.recipients("retry") == ("busy@example.com",)
    assert delivered == 1 and sink.received[0].rcpt_tos == ["ok@example.com"]
    assert [(o.status, o.kind) for o in closing.outcomes] == [("retry", "smtp_421")]
    assert closing.status == "retry" and len(sink.received) == 1


def test_a_message_older_than_the_maximum_age_is_dead_lettered_with_an_operator_alert(
    engine: Engine, tmp_path: Path
) -> None:
    """RELIABILITY N3's end. Guards against a message that keeps failing being retried
    for ever while it has tries left (12 by default), or disappearing without a word.
    Asserts: a retry a minute before DELIVERY__MAX_AGE is still a retry; the first one
    after it, at try 3 of 12, is dead with "(too old)" and the server's error; one
    operator alert says so; the email that went out is not sent again."""
    script: list[tuple[int, bytes, dict[str, str]]] = [(500, b"boom", {})] * 3
    with demo_smtp_sink() as (port, mailbox), slack(Slack(script=list(script))) as receiver:
        pipe = pipeline(engine, tmp_path, port, receiver.url)
        max_age = timedelta(seconds=pipe.settings.delivery.max_age)
        row = email_sent_slack_retrying(pipe, tmp_path)
        assert row.created_at is not None
        created = row.created_at
        young = created + max_age - timedelta(seconds=60)
        pipe.clock = lambda: young
        second = asyncio.run(Dispatcher(pipe).drain()).outcomes
        assert [(o.channel, o.status) for o in second] == [("china-tech-slack", "retrying")]
        row = next(r for r in rows(engine) if r.channel == "china-tech-slack")
        assert row.next_attempt_at is not None
        old = max(row.next_attempt_at, created + max_age) + timedelta(seconds=1)
        pipe.clock = lambda: old
        third = asyncio.run(Dispatcher(pipe).drain()).outcomes
    assert [(o.channel, o.status) for o in third] == [("china-tech-slack", "dead")]
    dead = next(r for r in rows(engine) if r.channel == "china-tech-slack")
    assert dead.status == "dead" and dead.attempts == 3
    assert dead.attempts < pipe.settings.delivery.max_attempts  # age, not tries, ended it
    assert (dead.last_error or "").endswith("(too old)") and "boom" in (dead.last_error or "")
    with session_scope(engine) as s:
        ops = s.exec(select(Alert).where(col(Alert.rule_id) == "operator:delivery")).all()
    assert len(ops) == 1 and f"message {dead.id} to china-tech-slack dead-lettered" in ops[0].title
    assert len(receiver.bodies) == 3 and len(mailbox.messages) == 1


# ----------------------------------------------------------------- store and parse


def _twin_guid_feed(build: int) -> bytes:
    """Two items under one GUID with their own links and texts; lastBuildDate changes
    with ``build`` so that a re-poll is parsed (an identical body is skipped by hash)."""
    built = format_datetime(T0 + timedelta(minutes=build), usegmt=True)
    items = "".join(
        f"<item><title>{title}</title><link>/articles/{slug}.html</link>"
        '<guid isPermaLink="false">urn:story:7</guid>'
        f"<pubDate>Wed, 31 Dec 2025 10:0{n}:00 GMT</pubDate>"
        f"<description>{text}</description></item>"
        for n, (slug, title, text) in enumerate(
            [
                ("capex", "Alibaba capex plan", CAPEX),
                ("qwen", "Qwen3-Max released", "Alibaba released Qwen3-Max, its largest model."),
            ]
        )
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Twins</title><link>/</link><lastBuildDate>{built}</lastBuildDate>"
        f"{items}</channel></rss>"
    ).encode()


def test_two_entries_with_one_guid_are_both_stored_and_a_repoll_inserts_none(
    engine: Engine,
) -> None:
    """RELIABILITY S1 end to end, through a real poll. Guards against the second entry
    under a repeated GUID being dropped as a duplicate of the first (a lost story), or
    keyed unstably so that every re-poll stores it again. Asserts: the first poll stores
    2 articles, keyed urn:story:7 and urn:story:7|<its link>; a re-poll of a changed body
    (parsed, not skipped as unchanged) inserts 0 and the table still holds 2."""
    pipe, clock = poller(engine)

    async def scenario() -> tuple[BatchReport, BatchReport, str]:
        async with BadServer() as server, fetcher_for(pipe) as fetcher:

            async def twins(request: Request, writer: asyncio.StreamWriter) -> bool:
                body = _twin_guid_feed(len(server.hits("/twins.xml")))
                await _send(writer, 200, body, {"Content-Type": "application/rss+xml"})
                return True

            server.route("/twins.xml", twins)
            pipe.sync_sources([spec(server.url("/twins.xml"))])
            first = await poll_once(pipe, fetcher)
            clock.at = T0 + timedelta(hours=1)
            second = await poll_once(pipe, fetcher)
            return first, second, server.url("/articles/qwen.html")

    first, second, qwen_url = asyncio.run(scenario())
    assert first.error is None and first.fetched == 2 and first.new == 2
    with session_scope(engine) as s:
        keys = sorted(s.exec(select(Article.entry_key)).all())
    assert keys == ["urn:story:7", f"urn:story:7|{qwen_url}"]
    assert second.error is None and not second.not_modified  # parsed again...
    assert second.fetched == 2 and second.new == 0  # ...and nothing stored twice
    assert article_count(engine) == 2


def test_a_declared_encoding_feedparser_overrides_is_a_warning_not_an_error() -> None:
    """RELIABILITY P6 through feedparser (fast=False). A feed declared UTF-8 in its
    header and prolog but written in Latin-1: feedparser sets bozo with
    CharacterEncodingOverride. Guards against that bozo being taken as a malformed feed
    (flagged partial, counted toward the source's errors) or raised. Asserts: the entry
    parses with its text decoded, the only warning names CharacterEncodingOverride, and
    the result is not partial."""
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Caf\xe9 wire</title><link>https://wire.test/</link>"
        "<item><title>Caf\xe9 chain raises prices</title><link>https://wire.test/a</link>"
        "<guid>a</guid><description>The caf\xe9 chain raised prices by 5%.</description>"
        "</item></channel></rss>"
    ).encode("latin-1")
    parsed = parse_feed(
        body,
        {"Content-Type": "application/rss+xml; charset=utf-8"},
        "https://wire.test/feed.xml",
        fast=False,
    )
    assert [a.title for a in parsed.articles] == ["Café chain raises prices"]
    assert parsed.articles[0].text == "The café chain raised prices by 5%."
    assert len(parsed.warnings) == 1
    assert parsed.warnings[0].startswith("CharacterEncodingOverride: ")
    assert not parsed.partial
