"""The outbox end to end: digests and alerts reach a real SMTP server and a Slack-like
receiver on 127.0.0.1 through the real senders, once, and nothing is lost when a send
fails or a dispatcher dies."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from monitor.app.outbox import Dispatcher
from monitor.demo_sinks import smtp_sink
from monitor.models import Alert, Delivery, Digest
from monitor.net.redact import hide_in_logs
from monitor.notify.channels import load_channels
from monitor.notify.memory import MemoryNotifier
from monitor.notify.message import OutboundMessage, SendResult
from monitor.pipeline import Pipeline
from monitor.rules.loader import load_rules
from monitor.settings import Settings
from monitor.store import deliveries
from monitor.store.db import session_scope
from tests.conftest import ROOT, RULES, database_outage
from tests.integration.conftest import Result

Run = Any

CAPEX = (
    "Alibaba said on Tuesday it will invest RMB 380 billion, about $53 billion, in AI and "
    "cloud infrastructure over the coming three years, the largest such plan of any Chinese "
    "company so far."
)


# -------------------------------------------------------------- a Slack-like server


@dataclass
class Slack:
    """A threaded HTTP server answering like Slack, as scripted; it can hold a request
    unanswered until released."""

    script: list[tuple[int, bytes, dict[str, str]]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    hold: bool = False
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""


@contextmanager
def slack(server_state: Slack) -> Iterator[Slack]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            server_state.bodies.append(body)
            server_state.arrived.set()
            if server_state.hold:
                server_state.release.wait(30)
            status, reply, headers = (
                server_state.script.pop(0) if server_state.script else (200, b"ok", {})
            )
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            with contextlib.suppress(OSError):  # a killed client: what arrived has arrived
                self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}/services/T1/B1/secret"
    try:
        yield server_state
    finally:
        server_state.release.set()
        server.shutdown()
        server.server_close()


CHANNELS_FILE = """channels:
  - name: desk-email
    type: email
    to: [analyst@example.com]
    schedule: "0 8 * * 1-5"
    timezone: Asia/Shanghai
  - name: china-tech-slack
    type: slack
    url_env: DESK_SLACK_URL
    schedule: "0 8 * * 1-5"
    timezone: Asia/Shanghai
    immediate: high
"""
# a pager beside them: immediate alerts only, no digest (``digest send`` passes it by)
PAGER = """  - name: pager
    type: slack
    url_env: DESK_SLACK_URL
    immediate: critical
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


LAUNCH = (
    "Alibaba released Qwen3-Max on Wednesday, its largest model so far, and said it beats "
    "the best open models on coding and reasoning tests."
)
NEW_MODEL_RULE = """rules:
  - id: new-model
    when: {new_term: qwen_models}
    severity: high
    notify: [china-tech-slack, desk-email]
"""


def pipeline(
    engine: Engine, tmp_path: Path, smtp_port: int, slack_url: str, *, rules: Path = RULES
) -> Pipeline:
    path = write(tmp_path, "channels.yaml", CHANNELS_FILE)
    channels = load_channels(path, {"DESK_SLACK_URL": slack_url})
    settings = Settings(
        database_url=str(engine.url),
        http={"allow_networks": ["127.0.0.1/32"], "jitter": 0.0},
        smtp={"host": "127.0.0.1", "port": smtp_port, "tls": "none", "timeout": 5.0},
        slack={"min_interval": 0.0, "timeout": 5.0},
        delivery={"lease": 60.0, "backoff_base": 30.0},
    )
    names = {c.name for c in channels} | {"log"}
    return Pipeline(settings, engine, load_rules(rules, channels=names), channels=channels)


def ingest(pipe: Pipeline, tmp_path: Path, *texts: str) -> None:
    """Each text as a new file (a new article), through the same stages as a poll."""
    from monitor.fetch.local import read_local

    start = len(list(tmp_path.glob("article-*.txt")))
    items = [
        a
        for i, t in enumerate(texts, start=start)
        for a in read_local(write(tmp_path, f"article-{i}.txt", t))
    ]
    pipe.ingest(items, source="file")


def rows(engine: Engine) -> list[Delivery]:
    with session_scope(engine) as s:
        return list(s.exec(select(Delivery).order_by(col(Delivery.id))))


def send_digests(pipe: Pipeline) -> None:
    now = pipe.clock()
    for channel in pipe.channels:
        pipe.record_digest(channel, window_key=f"digest:{channel.name}@test", until=now)


def email_sent_slack_retrying(pipe: Pipeline, tmp_path: Path) -> Delivery:
    """The capex article in, the channels' digests queued and sent once: the email goes,
    and Slack's answer leaves its message retrying. Slack's row."""
    ingest(pipe, tmp_path, CAPEX)
    send_digests(pipe)
    first = asyncio.run(Dispatcher(pipe).drain()).outcomes
    assert sorted((o.channel, o.status) for o in first) == [
        ("china-tech-slack", "retrying"), ("desk-email", "sent"),
    ]  # fmt: skip
    return next(r for r in rows(pipe.engine) if r.channel == "china-tech-slack")


def second_window(pipe: Pipeline, tmp_path: Path) -> None:
    """The launch article in, and each channel's digest of a second window queued."""
    ingest(pipe, tmp_path, LAUNCH)
    for channel in pipe.channels:
        pipe.record_digest(channel, window_key=f"digest:{channel.name}@2", until=pipe.clock())


def two_windows(pipe: Pipeline, tmp_path: Path, **delivery: Any) -> None:
    """``delivery`` settings, then two windows' digests queued: two messages a channel."""
    pipe.settings = pipe.settings.model_copy(
        update={"delivery": pipe.settings.delivery.model_copy(update=delivery)}
    )
    ingest(pipe, tmp_path, CAPEX)
    send_digests(pipe)
    second_window(pipe, tmp_path)


# ---------------------------------------------------------------------------- tests


def test_ingest_then_digest_send_delivers_one_email_and_one_slack_message(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command-line loop with a channels file pointing at local servers."""
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    article = write(tmp_path, "capex.txt", CAPEX)
    with smtp_sink() as (port, mailbox), slack(Slack()) as receiver:
        monkeypatch.setenv("DESK_SLACK_URL", receiver.url)
        monkeypatch.setenv("MONITOR_SMTP__HOST", "127.0.0.1")
        monkeypatch.setenv("MONITOR_SMTP__PORT", str(port))
        monkeypatch.setenv("MONITOR_SMTP__TLS", "none")
        monkeypatch.setenv("MONITOR_HTTP__ALLOW_NETWORKS", '["127.0.0.1/32"]')
        channels = write(tmp_path, "ch.yaml", CHANNELS_FILE + PAGER)
        monkeypatch.setenv("MONITOR_CHANNELS_FILE", str(channels))
        assert run("ingest", str(article), db=db).returncode == 0
        preview = run("digest", "preview", "--channel", "desk-email", db=db)
        assert preview.returncode == 0 and "RMB 380 billion" in preview.stdout
        assert json.loads(run("deliveries", "--json", db=db).stdout) == []  # recorded nothing
        sent = run("digest", "send", db=db)
        assert sent.returncode == 0, sent.stderr
        assert "pager: takes no digest" in sent.stderr
        again = run("digest", "send", db=db)  # nothing new: nothing more is sent
    assert len(mailbox.messages) == 1 and len(receiver.bodies) == 1
    ((to, msg),) = mailbox.messages
    plain = msg.get_body(("plain",))
    assert plain is not None
    assert to == ["analyst@example.com"] and "RMB 380 billion" in plain.get_content()
    assert msg.get_body(("html",)) is not None and msg["Message-ID"]
    assert "RMB 380 billion" in receiver.bodies[0].decode()  # in the blocks
    listed = json.loads(run("deliveries", "--json", db=db).stdout)
    assert sorted((d["channel"], d["status"]) for d in listed) == [
        ("china-tech-slack", "sent"), ("desk-email", "sent"),
    ]  # fmt: skip
    assert "nothing to send" in again.stderr
    digests = json.loads(run("digest", "list", "--json", db=db).stdout)
    assert {d["channel"] for d in digests if d["parts"]} == {"desk-email", "china-tech-slack"}
    shown = run("digest", "show", str(digests[-1]["id"]), db=db)
    assert shown.returncode == 0 and "RMB 380 billion" in shown.stdout


def _observed_deliveries() -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("monitor_publication_to_delivery_seconds_count") or 0.0


def test_an_alert_at_the_channels_immediate_severity_goes_out_at_once(
    engine: Engine, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    write(rules, "vocabulary.yaml", (RULES / "vocabulary.yaml").read_text(encoding="utf-8"))
    write(rules, "launch.yaml", NEW_MODEL_RULE)
    with smtp_sink() as (port, mailbox), slack(Slack()) as receiver:
        pipe = pipeline(engine, tmp_path, port, receiver.url, rules=rules)
        ingest(pipe, tmp_path, LAUNCH)
        # queued in the transaction that stored the article and fired the alert: only
        # the Slack channel sends high alerts at once; the email waits for its digest
        queued = rows(engine)
        assert [(r.kind, r.channel) for r in queued] == [("alert", "china-tech-slack")]
        with session_scope(engine) as s:
            alert = s.get(Alert, queued[0].ref_id)
            assert alert is not None and alert.title == "New Qwen model: Qwen3-Max"
        before = _observed_deliveries()
        asyncio.run(Dispatcher(pipe).drain())
        assert len(receiver.bodies) == 1 and "Qwen3-Max" in receiver.bodies[0].decode()
        # the time from the article's publication to this delivery is observed once
        assert _observed_deliveries() == before + 1
        send_digests(pipe)
        asyncio.run(Dispatcher(pipe).drain())
    assert len(receiver.bodies) == 2
    # sent at once, the alert is not repeated in the Slack channel's digest (which still
    # tells the story and its new name)
    assert json.loads(receiver.bodies[1])["text"].endswith("1 story · 0 alerts")
    ((_, email),) = mailbox.messages
    plain = email.get_body(("plain",))
    assert plain is not None
    assert "New Qwen model: Qwen3-Max" in plain.get_content()


def test_email_delivered_and_slack_failing_retries_only_slack(
    engine: Engine, tmp_path: Path
) -> None:
    script = [(500, b"boom", {}), (429, b"rate_limited", {"Retry-After": "7"})]
    with smtp_sink() as (port, mailbox), slack(Slack(script=list(script))) as receiver:
        pipe = pipeline(engine, tmp_path, port, receiver.url)
        slack_row = email_sent_slack_retrying(pipe, tmp_path)
        assert slack_row.last_error_kind == "http_500" and slack_row.attempts == 1
        # the retry is not due before the backoff: nothing happens now
        assert asyncio.run(Dispatcher(pipe).drain()).outcomes == []
        t0 = slack_row.next_attempt_at
        assert t0 is not None
        pipe.clock = lambda: t0 + timedelta(seconds=1)
        second = asyncio.run(Dispatcher(pipe).drain()).outcomes
        assert [(o.channel, o.status) for o in second] == [("china-tech-slack", "retrying")]
        after_429 = next(r for r in rows(engine) if r.channel == "china-tech-slack")
        assert after_429.next_attempt_at is not None
        # Slack asked for 7 s: no try before that, however short the backoff would be
        assert after_429.next_attempt_at >= t0 + timedelta(seconds=1 + 7)
        t1 = after_429.next_attempt_at
        pipe.clock = lambda: t1 + timedelta(seconds=1)
        third = asyncio.run(Dispatcher(pipe).drain()).outcomes
        assert [(o.channel, o.status) for o in third] == [("china-tech-slack", "sent")]
    assert len(mailbox.messages) == 1  # the email was never sent again
    assert len(receiver.bodies) == 3 and len(set(receiver.bodies)) == 1


def test_a_retry_after_of_centuries_waits_no_longer_than_the_messages_age_limit(
    engine: Engine, tmp_path: Path
) -> None:
    """A Retry-After past the year 9999 overflowed the next try's time: the batch's marks
    were rolled back, so the email already delivered beside it was sent again at every
    run, for ever. One of decades parked the message, never sent nor dead-lettered. The
    wait now ends at the message's age limit, when it gets its last try."""
    script = [(429, b"rate_limited", {"Retry-After": "300000000000"})]
    with smtp_sink() as (port, mailbox), slack(Slack(script=list(script))) as receiver:
        pipe = pipeline(engine, tmp_path, port, receiver.url)
        row = email_sent_slack_retrying(pipe, tmp_path)
        assert row.created_at is not None and row.next_attempt_at is not None
        age_limit = row.created_at + timedelta(seconds=pipe.settings.delivery.max_age)
        assert row.next_attempt_at <= age_limit + timedelta(seconds=1)
        pipe.clock = lambda: age_limit + timedelta(seconds=2)
        last = asyncio.run(Dispatcher(pipe).drain()).outcomes
        assert [(o.channel, o.status) for o in last] == [("china-tech-slack", "sent")]
    assert len(mailbox.messages) == 1 and len(receiver.bodies) == 2


def test_retrying_a_message_being_sent_does_not_send_it_twice(
    engine: Engine, tmp_path: Path
) -> None:
    """`deliveries retry ID` (and the web view's button) on a message a dispatcher was
    sending cleared its lease: a second dispatcher claimed it at once and the receiver
    got it twice. A message being sent is now left to its sender."""
    with smtp_sink() as (port, _), slack(Slack(hold=True)) as receiver:
        pipe = pipeline(engine, tmp_path, port, receiver.url)
        ingest(pipe, tmp_path, CAPEX)
        send_digests(pipe)
        slack_id = next(r.id for r in rows(engine) if r.channel == "china-tech-slack")
        assert slack_id is not None

        async def go() -> list[str]:
            first = asyncio.create_task(Dispatcher(pipe).drain())
            assert await asyncio.to_thread(receiver.arrived.wait, 30)  # Slack's, held
            with session_scope(engine) as session:
                got = deliveries.retry(session, slack_id, now=pipe.clock())
            assert got is not None and deliveries.sending(got, pipe.clock())
            second = await Dispatcher(pipe).drain()
            receiver.release.set()
            return [o.status for o in (await first).outcomes + second.outcomes]

        assert sorted(asyncio.run(go())) == ["sent", "sent"]  # the email and Slack, once
    assert len(receiver.bodies) == 1


def test_a_worker_sends_only_its_channels_and_dead_letters_what_no_worker_took_in_time(
    engine: Engine, tmp_path: Path
) -> None:
    """A worker whose channels file lacks a channel (a file being rolled out) claimed that
    channel's messages, spent their tries as "not configured" and dead-lettered them,
    though a worker with the channel could send them. It now leaves them; a message whose
    channel no worker has is taken once it is past its age limit, and dead-lettered."""
    with smtp_sink() as (port, mailbox), slack(Slack()) as receiver:
        full = pipeline(engine, tmp_path, port, receiver.url)
        ingest(full, tmp_path, CAPEX)
        send_digests(full)
        old = pipeline(engine, tmp_path, port, receiver.url)
        old.channels = tuple(c for c in old.channels if c.name == "desk-email")
        for _ in range(3):
            got = asyncio.run(Dispatcher(old).drain()).outcomes
            assert all(o.channel == "desk-email" for o in got)
        untouched = next(r for r in rows(engine) if r.channel == "china-tech-slack")
        assert (untouched.status, untouched.attempts) == ("pending", 0)
        got = asyncio.run(Dispatcher(full).drain()).outcomes
        assert [(o.channel, o.status) for o in got] == [("china-tech-slack", "sent")]
        assert len(mailbox.messages) == 1 and len(receiver.bodies) == 1
        # a message to a channel in no worker's file
        second_window(full, tmp_path)
        with session_scope(engine) as session:
            session.execute(
                sa.update(Delivery)
                .where(col(Delivery.channel) == "china-tech-slack", col(Delivery.status) != "sent")
                .values(channel="gone")
            )
        orphan = next(r for r in rows(engine) if r.channel == "gone")
        assert orphan.created_at is not None
        created = orphan.created_at
        assert asyncio.run(Dispatcher(full).drain()).outcomes[0].channel == "desk-email"
        d = full.settings.delivery
        # at its age limit a worker with the channel would make its last try: not taken
        full.clock = lambda: created + timedelta(seconds=d.max_age + 1)
        assert asyncio.run(Dispatcher(full).drain()).outcomes == []
        later = timedelta(seconds=d.max_age + d.lease + d.backoff_cap + 1)
        full.clock = lambda: created + later
        got = asyncio.run(Dispatcher(full).drain()).outcomes
        assert [(o.channel, o.status) for o in got] == [("gone", "dead")]
        assert "not in the channels file" in (got[0].error or "")


def test_a_send_ends_before_its_lease_and_what_was_not_tried_is_given_back(
    engine: Engine, tmp_path: Path
) -> None:
    """A send still under way when its lease ran out (a server answering each step just
    within its timeout) let another dispatcher send the message at the same time; the
    messages left untried at half the lease waited, unrecorded, for their lease to end.
    Now a send is cut short before the lease ends (and retried), and the untried are
    given back at once, their tries unspent."""
    with smtp_sink() as (port, _), slack(Slack(hold=True)) as receiver:
        pipe = pipeline(engine, tmp_path, port, receiver.url)
        two_windows(pipe, tmp_path, lease=1.0)
        got = asyncio.run(Dispatcher(pipe).run_once())  # one round
        receiver.release.set()
    held, untried = (r for r in rows(engine) if r.channel == "china-tech-slack")
    assert [(o.channel, o.status) for o in got if o.channel == "china-tech-slack"] == [
        ("china-tech-slack", "retrying")
    ]
    # cut at the lease's end, not at the sender's own timeout (5 s)
    assert held.last_error_kind == "timeout" and "lease ends" in (held.last_error or "")
    assert held.lease_until is None
    assert (untried.status, untried.attempts, untried.lease_until) == ("pending", 0, None)
    assert len(receiver.bodies) == 1


def test_a_reloaded_channels_file_takes_effect_at_the_next_round_of_a_drain(
    engine: Engine, tmp_path: Path
) -> None:
    """The daemon's reload made a new dispatcher, but a drain under way kept the old one
    and its senders: a backlog kept going to the URL the operator had just moved away
    from, to its end. The dispatcher now follows the channels at every round."""
    with smtp_sink() as (port, _), slack(Slack()) as before, slack(Slack()) as after:
        pipe = pipeline(engine, tmp_path, port, before.url)
        two_windows(pipe, tmp_path, batch=1)
        dispatcher = Dispatcher(pipe)

        async def rounds() -> None:
            await dispatcher.run_once()  # the first window's email
            await dispatcher.run_once()  # ... and Slack's, to the URL then configured
            moved = load_channels(tmp_path / "channels.yaml", {"DESK_SLACK_URL": after.url})
            pipe.channels = tuple(moved)
            await dispatcher.drain()  # the second window's

        asyncio.run(rounds())
    assert (len(before.bodies), len(after.bodies)) == (1, 1)


@pytest.mark.parametrize("location", ["javascript:alert(1)", "http://xn--a/hook"])
def test_a_redirect_to_javascript_is_dead_lettered_and_the_email_goes_once(
    engine: Engine, tmp_path: Path, location: str
) -> None:
    """A webhook answering 302 to `javascript:` (or to a host name IDNA cannot decode)
    made httpx raise while building the next request (not an HTTP error): the exception
    aborted the whole batch, nothing was marked, and the email that had gone out was sent
    again at every lease expiry. Now the Slack message is dead-lettered with the reason
    and the email goes once (N10)."""
    script = [(302, b"", {"Location": location})]
    with smtp_sink() as (port, mailbox), slack(Slack(script=list(script))) as receiver:
        pipe = pipeline(engine, tmp_path, port, receiver.url)
        ingest(pipe, tmp_path, CAPEX)
        send_digests(pipe)
        first = asyncio.run(Dispatcher(pipe).drain()).outcomes
        assert sorted((o.channel, o.status) for o in first) == [
            ("china-tech-slack", "dead"), ("desk-email", "sent"),
        ]  # fmt: skip
        dead = next(r for r in rows(engine) if r.channel == "china-tech-slack")
        assert dead.last_error_kind == "bad_redirect" and "not http(s)" in (dead.last_error or "")
        assert receiver.url not in (dead.last_error or "")  # the webhook URL is a secret
        lease = pipe.settings.delivery.lease
        pipe.clock = lambda: datetime.now(UTC) + timedelta(seconds=lease + 1)
        assert asyncio.run(Dispatcher(pipe).drain()).outcomes == []
    assert len(mailbox.messages) == 1


def test_a_bug_in_one_sender_fails_its_message_and_the_rest_are_marked(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An exception a sender does not turn into a result is that message's failure,
    retried like any other, not the batch's: the messages sent beside it are marked."""

    secret = "https://hooks.example.test/services/T0/B0/s3cr3t"
    hide_in_logs(secret)  # as the Slack sender does with its URL
    # ... and with another channel's, whose port is out of range: scrubbing raised on it,
    # and the error escaped the handler meant to keep one failure to its message
    hide_in_logs("https://hooks.example.test:99999/T0/other")

    class Broken(MemoryNotifier):
        async def send(self, message: OutboundMessage) -> SendResult:
            raise RuntimeError(f"sender bug posting to {secret}")

    pipe = pipeline(engine, tmp_path, 9, "http://127.0.0.1:9/hook")
    ingest(pipe, tmp_path, CAPEX)
    send_digests(pipe)
    email = MemoryNotifier()
    notifiers = {"desk-email": email, "china-tech-slack": Broken()}
    with caplog.at_level("ERROR", logger="monitor"):
        outcomes = asyncio.run(Dispatcher(pipe, notifiers=notifiers).drain()).outcomes
    assert sorted((o.channel, o.status) for o in outcomes) == [
        ("china-tech-slack", "retrying"), ("desk-email", "sent"),
    ]  # fmt: skip
    broken = next(r for r in rows(engine) if r.channel == "china-tech-slack")
    assert broken.last_error_kind == "internal" and "sender bug" in (broken.last_error or "")
    assert "s3cr3t" not in (broken.last_error or "")  # the webhook URL is a secret
    assert len(email.sent) == 1
    said = [r.getMessage() for r in caplog.records]
    assert any("internal error: RuntimeError: sender bug" in m for m in said)
    assert not any("s3cr3t" in m for m in said)


def test_a_message_no_sender_can_read_is_dead_lettered_and_the_rest_are_sent(
    engine: Engine, tmp_path: Path
) -> None:
    """A queued row whose payload does not decode (written by another version, edited by
    hand) aborted the whole batch before any send; now it is that message's permanent
    failure."""
    pipe = pipeline(engine, tmp_path, 9, "http://127.0.0.1:9/hook")
    ingest(pipe, tmp_path, CAPEX)
    send_digests(pipe)
    slack_row = next(r for r in rows(engine) if r.channel == "china-tech-slack")
    with session_scope(engine) as s:
        row = s.get(Delivery, slack_row.id)
        assert row is not None
        row.payload = {"unexpected": True}
        s.add(row)
    email = MemoryNotifier()
    notifiers = {"desk-email": email, "china-tech-slack": MemoryNotifier()}
    outcomes = asyncio.run(Dispatcher(pipe, notifiers=notifiers).drain()).outcomes
    assert sorted((o.channel, o.status) for o in outcomes) == [
        ("china-tech-slack", "dead"), ("desk-email", "sent"),
    ]  # fmt: skip
    dead = next(r for r in rows(engine) if r.channel == "china-tech-slack")
    assert dead.last_error_kind == "bad_payload" and len(email.sent) == 1


def test_a_permanent_failure_is_dead_lettered_with_slacks_reason_and_retried_by_hand(
    engine: Engine, tmp_path: Path, run: Run
) -> None:
    with smtp_sink() as (port, _), slack(Slack(script=[(400, b"invalid_payload", {})])) as r:
        pipe = pipeline(engine, tmp_path, port, r.url)
        ingest(pipe, tmp_path, CAPEX)
        send_digests(pipe)
        outcomes = asyncio.run(Dispatcher(pipe).drain()).outcomes
        dead = next(o for o in outcomes if o.channel == "china-tech-slack")
        assert dead.status == "dead" and "invalid_payload" in (dead.error or "")
        assert r.url not in (dead.error or "")  # the URL is a credential
        with session_scope(engine) as s:
            ops = s.exec(select(Alert).where(col(Alert.rule_id) == "operator:delivery")).all()
        assert len(ops) == 1 and "dead-lettered" in ops[0].title
        listed = run("deliveries", "--state", "dead", "--json", db=str(engine.url))
        assert [d["id"] for d in json.loads(listed.stdout)] == [dead.delivery_id]
        retried = run("deliveries", "retry", str(dead.delivery_id), db=str(engine.url))
        assert retried.returncode == 0
        again = asyncio.run(Dispatcher(pipe).drain()).outcomes
        assert [(o.delivery_id, o.status) for o in again] == [(dead.delivery_id, "sent")]


def test_too_many_tries_dead_letter_with_the_reason(engine: Engine, tmp_path: Path) -> None:
    with smtp_sink() as (port, _), slack(Slack()) as r:
        pipe = pipeline(engine, tmp_path, port, r.url)
        pipe.settings = pipe.settings.model_copy(
            update={"delivery": pipe.settings.delivery.model_copy(update={"max_attempts": 3})}
        )
        ingest(pipe, tmp_path, CAPEX)
        send_digests(pipe)
    memory = MemoryNotifier()
    memory.fail("retry", kind="http_503", error="unavailable", times=10)
    dispatcher = Dispatcher(
        pipe, notifiers={"china-tech-slack": memory, "desk-email": MemoryNotifier()}
    )
    seen = []
    for _ in range(5):
        got = asyncio.run(dispatcher.drain()).outcomes
        seen += [o.status for o in got if o.channel == "china-tech-slack"]
        row = next(x for x in rows(engine) if x.channel == "china-tech-slack")
        if row.status == "dead":
            break
        pipe.clock = lambda at=row.next_attempt_at: at + timedelta(seconds=1)  # type: ignore[misc]
    assert seen == ["retrying", "retrying", "dead"]
    assert row.attempts == 3 and "gave up after 3 tries" in (row.last_error or "")
    assert len(memory.attempts) == 3


def test_a_crash_before_sending_delivers_once_after_the_lease(
    engine: Engine, tmp_path: Path
) -> None:
    with smtp_sink() as (port, mailbox), slack(Slack()) as receiver:
        pipe = pipeline(engine, tmp_path, port, receiver.url)
        ingest(pipe, tmp_path, CAPEX)
        send_digests(pipe)
        claimed = Dispatcher(pipe).claim()  # ... and the dispatcher dies here
        assert len(claimed) == 2
        assert asyncio.run(Dispatcher(pipe).drain()).outcomes == []  # leased: left alone
        lease = pipe.settings.delivery.lease
        pipe.clock = lambda: datetime.now(UTC) + timedelta(seconds=lease + 1)
        outcomes = asyncio.run(Dispatcher(pipe).drain()).outcomes
    assert sorted(o.status for o in outcomes) == ["sent", "sent"]
    assert len(mailbox.messages) == 1 and len(receiver.bodies) == 1


def test_an_interrupted_dispatch_while_the_database_is_away_ends_as_interrupted(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Ctrl-C mid-send while the database did not answer: giving the claimed messages
    back raised, and the command ended as a database error (exit 1, or a traceback from
    asyncio's shutdown on SIGTERM) instead of as interrupted. Now it is the interrupt, and
    one line says when the messages come free; they are not lost."""
    from monitor.cli.digest_cmds import dispatch

    with database_outage(engine) as lose:

        class Interrupted(MemoryNotifier):
            async def send(self, message: OutboundMessage) -> SendResult:
                lose()
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: asyncio.run cancels the command
                await asyncio.sleep(60)
                raise AssertionError("not interrupted")

        pipe = pipeline(engine, tmp_path, 9, "http://127.0.0.1:9/hook")
        ingest(pipe, tmp_path, CAPEX)
        send_digests(pipe)
        notifiers = {c.name: Interrupted() for c in pipe.channels}
        with caplog.at_level("WARNING", logger="monitor"), pytest.raises(KeyboardInterrupt):
            dispatch(Dispatcher(pipe, notifiers=notifiers))
    said = [r.getMessage() for r in caplog.records if r.name == "monitor.app.outbox"]
    assert said == [
        "claimed messages not given back: database unavailable (unable to open database"
        " file); another dispatch sends them when their lease ends, within 60 s"
    ]
    held = rows(engine)
    assert len(held) == 2 and all(r.status == "pending" and r.lease_owner for r in held)


def test_a_crash_between_sending_and_marking_sends_at_most_once_more(tmp_path: Path) -> None:
    """A real `monitor deliveries dispatch` is killed while Slack holds its answer: the
    message arrived but was never marked. The next dispatcher, once the lease expires,
    sends it again: one duplicate, the same message, and then it is marked."""
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    from monitor.store.db import make_engine, upgrade

    engine = make_engine(url)
    upgrade(engine)
    with smtp_sink() as (port, mailbox), slack(Slack(hold=True)) as receiver:
        pipe = pipeline(engine, tmp_path, port, receiver.url)
        ingest(pipe, tmp_path, CAPEX)
        send_digests(pipe)
        (slack_row,) = [r for r in rows(engine) if r.channel == "china-tech-slack"]
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "MONITOR_DATABASE_URL": url,
            "MONITOR_CHANNELS_FILE": str(tmp_path / "channels.yaml"),
            "DESK_SLACK_URL": receiver.url,
            "MONITOR_SMTP__HOST": "127.0.0.1",
            "MONITOR_SMTP__PORT": str(port),
            "MONITOR_SMTP__TLS": "none",
            "MONITOR_HTTP__ALLOW_NETWORKS": '["127.0.0.1/32"]',
            "MONITOR_SLACK__MIN_INTERVAL": "0",
            "MONITOR_RULES__DIR": str(RULES),
            "MONITOR_DELIVERY__LEASE": str(pipe.settings.delivery.lease),
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "deliveries", "dispatch"],
            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        assert receiver.arrived.wait(60), "the dispatcher never reached the Slack server"
        os.kill(proc.pid, signal.SIGKILL)  # the message has arrived; no mark will follow
        proc.wait(30)
        receiver.hold = False
        receiver.release.set()
        stuck = next(r for r in rows(engine) if r.id == slack_row.id)
        assert stuck.status == "pending" and stuck.lease_owner  # claimed, never marked
        lease = pipe.settings.delivery.lease
        pipe.clock = lambda: datetime.now(UTC) + timedelta(seconds=lease + 1)
        outcomes = asyncio.run(Dispatcher(pipe).drain()).outcomes
    assert ("china-tech-slack", "sent") in [(o.channel, o.status) for o in outcomes]
    assert len(receiver.bodies) == 2 and receiver.bodies[0] == receiver.bodies[1]
    assert len(mailbox.messages) == 1  # email: sent once, by one dispatcher or the other
    assert all(r.status == "sent" for r in rows(engine))
    engine.dispose()


def test_preview_records_and_sends_nothing(engine: Engine, tmp_path: Path) -> None:
    with smtp_sink() as (port, mailbox), slack(Slack()) as receiver:
        pipe = pipeline(engine, tmp_path, port, receiver.url)
        ingest(pipe, tmp_path, CAPEX)
        before = rows(engine)
        view = pipe.preview(channel=pipe.channels[0])
        assert not view.empty
        assert rows(engine) == before
        with session_scope(engine) as s:
            assert s.exec(select(Digest)).all() == []
    assert mailbox.messages == [] and receiver.bodies == []


def _two_dispatchers_send_each_row_once(engine: Engine, tmp_path: Path) -> None:
    with smtp_sink() as (port, _), slack(Slack()) as receiver:
        pipe = pipeline(engine, tmp_path, port, receiver.url)
        ingest(pipe, tmp_path, CAPEX)
        send_digests(pipe)
        with session_scope(engine) as s:  # many more messages than one batch
            row = s.exec(select(Delivery).where(col(Delivery.channel) == "china-tech-slack")).one()
            extra = [
                deliveries.NewDelivery(
                    f"copy-{i}",
                    "digest",
                    row.ref_id,
                    row.channel,
                    "",
                    1,
                    1,
                    f"m{i}",
                    dict(row.payload or {}),
                )
                for i in range(60)
            ]
            deliveries.enqueue(s, extra, now=pipe.clock())
        a = Pipeline(pipe.settings, engine, pipe.rules, channels=pipe.channels, worker="a")
        b = Pipeline(pipe.settings, engine, pipe.rules, channels=pipe.channels, worker="b")

        async def both() -> None:
            await asyncio.gather(
                asyncio.to_thread(lambda: asyncio.run(Dispatcher(a).drain())),
                asyncio.to_thread(lambda: asyncio.run(Dispatcher(b).drain())),
            )

        asyncio.run(both())
    assert len(receiver.bodies) == 61
    assert all(r.status == "sent" for r in rows(engine))


def test_two_dispatchers_on_sqlite_send_each_row_once(engine: Engine, tmp_path: Path) -> None:
    _two_dispatchers_send_each_row_once(engine, tmp_path)


@pytest.mark.postgres
def test_two_dispatchers_on_postgresql_send_each_row_once(
    pg_engine: Engine, tmp_path: Path
) -> None:
    _two_dispatchers_send_each_row_once(pg_engine, tmp_path)


@pytest.mark.postgres
def test_two_workers_on_postgresql_build_one_digest_per_window(
    pg_engine: Engine, tmp_path: Path
) -> None:
    with smtp_sink() as (port, _), slack(Slack()) as receiver:
        pipe = pipeline(pg_engine, tmp_path, port, receiver.url)
        ingest(pipe, tmp_path, CAPEX)
        now = pipe.clock()
        channel = pipe.channels[0]

        def record() -> object:
            return pipe.record_digest(channel, window_key="digest:desk@w1", until=now)

        async def race() -> list[object]:
            return list(await asyncio.gather(*(asyncio.to_thread(record) for _ in range(4))))

        got = asyncio.run(race())
    assert sum(1 for g in got if g is not None) == 1
    with session_scope(pg_engine) as s:
        assert len(s.exec(select(Digest)).all()) == 1
        assert len([r for r in s.exec(select(Delivery)) if r.kind == "digest"]) == 1


def test_channels_list_check_and_rules_routing(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = write(tmp_path, "channels.yaml", CHANNELS_FILE)
    monkeypatch.setenv("MONITOR_CHANNELS_FILE", str(good))
    listed = run("channels", "list", "--json", db=None)
    assert listed.returncode == 0
    rows_ = {c["name"]: c for c in json.loads(listed.stdout)}
    assert rows_["desk-email"]["to"] == ["analyst@example.com"]
    assert rows_["china-tech-slack"]["url_set"] is False  # named, not set: nothing leaks
    assert rows_["desk-email"]["next_digest_at"]
    unset = run("channels", "check", db=None)  # sending needs the URL variable
    assert unset.returncode == 1 and "DESK_SLACK_URL is not set" in unset.stdout
    monkeypatch.setenv("DESK_SLACK_URL", "https://hooks.slack.test/services/T/B/x")
    monkeypatch.setenv("MONITOR_SMTP__HOST", "mail.example.com")  # email needs a server too
    assert run("channels", "check", db=None).returncode == 0
    bad = write(
        tmp_path,
        "bad.yaml",
        "channels:\n  - name: desk\n    type: email\n    to: [a@example.com]\n"
        "    schedul: '0 8 * * *'\n    immediate: high\n",
    )
    out = run("channels", "check", str(bad), "--json", db=None)
    assert out.returncode == 1
    (problem,) = json.loads(out.stdout)
    assert (problem["file"], problem["line"], problem["column"]) == (str(bad), 5, 5)
    assert "did you mean 'schedule'" in problem["message"]
    # rule files may route only to channels the channels file defines
    rules = tmp_path / "rules"
    rules.mkdir()
    write(rules, "vocabulary.yaml", (RULES / "vocabulary.yaml").read_text(encoding="utf-8"))
    write(rules, "r.yaml", NEW_MODEL_RULE.replace("desk-email", "desk-emial"))
    checked = run("rules", "check", str(rules), db=None)
    assert checked.returncode == 1
    assert "unknown channel 'desk-emial'" in checked.stdout and "desk-email" in checked.stdout
    # and a channels file checked against the rules in effect says the same, at the rule
    lacking = run("--rules", str(rules), "channels", "check", str(good), db=None)
    assert lacking.returncode == 1
    assert lacking.stdout.startswith(f"{rules / 'r.yaml'}:") and "'desk-emial'" in lacking.stdout
    assert f"1 rule notification(s) name a channel {good} lacks" in lacking.stderr


def test_a_worker_without_channels_leaves_the_outbox_to_those_that_have_them(
    engine: Engine, tmp_path: Path
) -> None:
    """One of several daemons started without a channels file claimed every message,
    failed it as "not configured" and spent its tries until it was dead-lettered, while
    a worker with the channels could have sent it. It claims nothing now."""
    with smtp_sink() as (port, _):
        pipe = pipeline(engine, tmp_path, port, "http://127.0.0.1:9/slack")
        now = pipe.clock()
        with session_scope(engine) as s:
            deliveries.enqueue(
                s,
                [deliveries.NewDelivery(
                    "k1", "digest", None, "desk-email", "analyst@example.com", 1, 1,
                    "<m1@monitor>", {"subject": "s", "text": "t", "html": "<p>t</p>"},
                )],
                now=now,
            )  # fmt: skip
        bare = Pipeline(pipe.settings, engine, pipe.rules)  # no channels file
        assert Dispatcher(bare).claim() == []
        (row,) = rows(engine)
        assert row.attempts == 0 and row.lease_owner is None and row.status == "pending"
        claimed = Dispatcher(pipe).claim()  # a worker with the channels file takes it
        assert [c.channel for c in claimed] == ["desk-email"]


def test_dispatch_without_a_channels_file_says_so(
    run: Callable[..., Result], tmp_path: Path
) -> None:
    out = run("--db", str(tmp_path / "x.db"), "deliveries", "dispatch", db=None, cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.strip().endswith("monitor: error: no channels file: nothing can be sent"
                                       " (set MONITOR_CHANNELS_FILE or pass --channels FILE;"
                                       " see `monitor channels`)")  # fmt: skip


def test_a_preview_since_a_date_holds_the_news_published_since(
    engine: Engine, tmp_path: Path
) -> None:
    """`digest preview --published-since` said "covering news since" that date but placed
    articles by when they were first seen: a backfill of last year's news, seen today,
    was all of it in the preview. Given a date, the news date decides, as for `stories`."""
    from monitor.fetch.local import read_local

    with smtp_sink() as (port, _), slack(Slack()) as receiver:
        pipe = pipeline(engine, tmp_path, port, receiver.url)
        old, new = (
            dataclasses.replace(a, published_at=at, guid=f"{name}-1", url=f"https://n.test/{name}")
            for name, text, at in (
                ("capex", CAPEX, datetime(2025, 11, 14, tzinfo=UTC)),
                ("launch", LAUNCH, pipe.clock() - timedelta(days=2)),
            )
            for a in read_local(write(tmp_path, f"{name}.txt", text))
        )
        pipe.ingest([old, new], source="file")
        view = pipe.preview(since=pipe.clock() - timedelta(days=30))
        whole = pipe.preview(since=datetime(2025, 1, 1, tzinfo=UTC))
    shown = [s.title for c in view.companies for s in c.stories]
    assert len(shown) == 1 and "Qwen3-Max" in shown[0]
    assert len([s for c in whole.companies for s in c.stories]) == 2


@pytest.mark.postgres
def test_an_article_stored_while_a_digest_is_built_is_in_the_next_one(
    pg_engine: Engine, tmp_path: Path
) -> None:
    """PostgreSQL: a batch first seen before a digest's end but committed after the digest
    was read was in neither that digest nor the next (which starts at the first's end).
    The daemon's digest waits for such a store; `digest send` ends its window where the
    store began, and the next digest holds it."""
    from monitor.app.batches import BatchReport, store_batch
    from monitor.fetch.local import read_local
    from monitor.store import db
    from monitor.store import sources as sources_store

    rules = tmp_path / "rules"  # the vocabulary alone: no alert names the story
    rules.mkdir()
    write(rules, "vocabulary.yaml", (RULES / "vocabulary.yaml").read_text(encoding="utf-8"))
    with smtp_sink() as (port, _), slack(Slack()) as receiver:
        pipe = pipeline(pg_engine, tmp_path, port, receiver.url, rules=rules)
        (item,) = read_local(write(tmp_path, "capex.txt", CAPEX))
        channel = pipe.channels[0]
        with session_scope(pg_engine) as store:  # a worker's store, in flight
            began = db.writer_now(store)
            row = sources_store.ensure_source(store, "file", "file://file")
            assert row.id is not None
            store_batch(pipe, store, pipe.rules, row.id, [item], BatchReport("file"), now=began)
            until = began + timedelta(seconds=1)
            assert pipe.record_digest(channel, window_key="w1", until=until, wait=True) is None
            first = pipe.record_digest(channel, window_key="w1", until=until)
        assert first is not None and first.empty  # it ended where the store began
        second = pipe.record_digest(channel, window_key="w2", until=pipe.clock())
    assert second is not None and not second.empty  # the story stored meanwhile
