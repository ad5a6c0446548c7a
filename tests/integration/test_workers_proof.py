"""The proof: three `monitor run` processes share one PostgreSQL, 200 feeds on a local
server, a local SMTP server and a Slack-like receiver. One worker is SIGKILLed mid-poll,
another SIGTERMed mid-poll.

Asserted:
* no feed is ever polled by two workers at once (the server records every request's
  start and end, and which worker made it);
* every alert reaches every channel;
* duplicates stay within the documented bound: a message arrives at most twice (once more
  after a dispatcher's crash between sending and marking), and only messages the killed
  worker had claimed can arrive twice;
* the killed worker's sources stay leased after its death and are polled again by the
  others once its lease expires (within a lease and a few ticks); the SIGTERMed worker has
  released every source lease and claimed message by the time it exits, so the others
  may take them at once.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import pytest
import sqlalchemy as sa

from monitor.demo_sinks import slack_receiver, smtp_sink
from tests.conftest import ROOT, RULES
from tests.integration.hangup import hangs_up

FEEDS = 200
LEASE = 6.0  # seconds: source and message leases, short so the takeover shows in a test
TICK = 0.5
GRACE = 1.0
DELAY = 0.25  # seconds the feed server takes per answer: workers are caught mid-poll

RULE = """rules:
  - id: new-model
    when: {new_term: qwen_models}
    severity: high
    notify: [desk-email, desk-slack]
"""
CHANNELS = """channels:
  - {name: desk-email, type: email, to: [desk@example.com], immediate: high}
  - {name: desk-slack, type: slack, url_env: DESK_SLACK_URL, immediate: high}
"""


def model(i: int) -> str:
    return f"Qwen{2 + i // 100}.{i % 100}-Max"


# Filler sentences, so that no two articles are copies of each other (a copy's model name
# is the original's, and would fire nothing).
FILLER = [
    "Developers in logistics asked for cheaper inference during the busy season.",
    "Several banks have tested the model for reading loan files and contracts.",
    "The release comes as rivals cut prices for their own hosted assistants.",
    "Analysts expect the update to lift usage of the company's cloud platform.",
    "Training ran on a cluster the company built in its northern data centres.",
    "A smaller version will follow for phones and laptops later in the quarter.",
    "Customers can try it free for a month before paying by the token.",
    "Retail clients use earlier versions to answer shoppers' questions at night.",
    "The firm said energy use per answer fell compared with the previous release.",
    "School districts piloting the tool reported faster grading of essays.",
    "Game studios have used it to write dialogue for background characters.",
    "Hospitals in two provinces are testing it for summarising patient notes.",
    "The company declined to say how many engineers worked on the project.",
    "Investors will watch whether the launch moves cloud revenue next quarter.",
    "Open weights for a compact variant were posted for researchers to download.",
    "Translation between twelve languages improved in the firm's own tests.",
]


def feed(i: int) -> bytes:
    name = model(i)
    rng = random.Random(i)
    body = " ".join(rng.sample(FILLER, 6))
    return f"""<?xml version="1.0"?><rss version="2.0"><channel><title>desk {i}</title>
<link>http://feeds.test/{i}</link><description>news</description>
<item><title>Alibaba ships {name} to cloud customers, desk {i}</title>
<link>http://news.test/{i}/model</link><guid>news-{i}-model</guid>
<pubDate>Thu, 04 Dec 2026 08:00:00 GMT</pubDate>
<description>Alibaba made {name} available to its cloud customers on Thursday. {body}
</description></item></channel></rss>""".encode()


@dataclass
class Request:
    feed: int
    worker: str
    start: float
    end: float | None = None


@dataclass
class FeedServer:
    requests: list[Request] = field(default_factory=list)
    lock: threading.Condition = field(default_factory=threading.Condition)
    port: int = 0

    def open_by(self, worker: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.worker == worker and r.end is None]


@contextmanager
def feed_server() -> Iterator[FeedServer]:
    state = FeedServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            m = re.match(r"/feed/(\d+)\.rss", self.path)
            worker = self.headers.get("User-Agent", "?")
            rec = Request(int(m.group(1)) if m else -1, worker, time.monotonic())
            with state.lock:
                state.requests.append(rec)
                state.lock.notify_all()
            # the server's own pace: a feed that takes a moment; a worker that hangs up
            # meanwhile (a poll cut short by its shutdown) has ended its request
            if hangs_up(self.connection, DELAY):
                with state.lock:
                    rec.end = time.monotonic()
                    state.lock.notify_all()
                return
            body = feed(rec.feed)
            with suppress(OSError):  # a worker killed while waiting is gone
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            with state.lock:
                rec.end = time.monotonic()
                state.lock.notify_all()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def worker_name(proc: subprocess.Popen[str]) -> str:
    return f"{socket.gethostname()}:{proc.pid}"


def wait_until(cond: threading.Condition, test: Any, timeout: float, what: str) -> None:
    with cond:
        assert cond.wait_for(test, timeout), f"timed out waiting for {what}"


def read_log(stream: IO[str], into: list[str]) -> threading.Thread:
    def pump() -> None:
        for line in stream:
            into.append(line)

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    return t


@pytest.mark.postgres
@pytest.mark.slow
def test_three_workers_on_postgresql_survive_a_kill_and_a_term(pg_url: str, tmp_path: Path) -> None:
    engine = sa.create_engine(pg_url)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "vocabulary.yaml").write_text((RULES / "vocabulary.yaml").read_text())
    (rules / "models.yaml").write_text(RULE)
    (tmp_path / "channels.yaml").write_text(CHANNELS)
    with (
        feed_server() as feeds,
        smtp_sink() as (port, mailbox),
        slack_receiver() as (
            slack_url,
            posts,
        ),
    ):

        def emailed() -> Counter[str]:
            """How many emails each expected alert came in."""
            return Counter(
                m.group(1)
                for _, msg in list(mailbox.messages)
                if (m := re.search(r"New Qwen model: (Qwen\d+\.\d+-Max)", str(msg["Subject"])))
            )

        def posted() -> Counter[str]:
            """How many Slack posts each expected alert came in."""
            return Counter(
                m.group(1)
                for b in list(posts.bodies)
                if (m := re.search(r"New Qwen model: (Qwen\d+\.\d+-Max)", str(b)))
            )

        sources = tmp_path / "sources.yaml"
        sources.write_text(
            "sources:\n"
            + "".join(
                f"  - {{name: desk-{i}, url: 'http://127.0.0.1:{feeds.port}/feed/{i}.rss',"
                " kind: rss, interval: 2s}\n"
                for i in range(FEEDS)
            )
        )
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        base_env.update(
            PYTHONPATH=str(ROOT),
            HOME=str(tmp_path),
            MONITOR_DATABASE_URL=pg_url,
            MONITOR_RULES__DIR=str(rules),
            MONITOR_SOURCES_FILE=str(sources),
            MONITOR_CHANNELS_FILE=str(tmp_path / "channels.yaml"),
            DESK_SLACK_URL=slack_url,
            MONITOR_SMTP__HOST="127.0.0.1",
            MONITOR_SMTP__PORT=str(port),
            MONITOR_SMTP__TLS="none",
            MONITOR_HTTP__ALLOW_NETWORKS='["127.0.0.1/32"]',
            MONITOR_HTTP__JITTER="0",
            MONITOR_HTTP__CONCURRENCY="8",
            MONITOR_HTTP__PER_HOST="8",
            MONITOR_SLACK__MIN_INTERVAL="0",
            MONITOR_SCHEDULE__TICK=str(TICK),
            MONITOR_SCHEDULE__LEASE=str(LEASE),
            MONITOR_SCHEDULE__SHUTDOWN_GRACE=str(GRACE),
            MONITOR_DELIVERY__INTERVAL=str(TICK),
            MONITOR_DELIVERY__LEASE=str(LEASE),
        )
        procs: dict[str, subprocess.Popen[str]] = {}
        logs: dict[str, list[str]] = {}
        readers: list[threading.Thread] = []
        for name in ("w1", "w2", "w3"):
            env = {**base_env, "MONITOR_HTTP__USER_AGENT": name}
            proc = procs[name] = subprocess.Popen(
                [sys.executable, "-m", "monitor", "run"],
                env=env, cwd=tmp_path, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                text=True,
            )  # fmt: skip
            logs[name] = []
            assert proc.stderr is not None
            readers.append(read_log(proc.stderr, logs[name]))
        try:
            # w1 dies mid-poll: kill it while the server holds one of its requests
            wait_until(feeds.lock, lambda: feeds.open_by("w1"), 120, "w1 to poll")
            held_by_w1 = {r.feed for r in feeds.open_by("w1")}
            procs["w1"].kill()
            killed_at = time.monotonic()
            # w2 is stopped mid-poll
            wait_until(feeds.lock, lambda: feeds.open_by("w2"), 60, "w2 to poll")
            held_by_w2 = {r.feed for r in feeds.open_by("w2")}
            with engine.connect() as conn:  # the dead worker still holds its sources
                still = conn.execute(
                    sa.text("SELECT COUNT(*) FROM source WHERE lease_owner = :w"),
                    {"w": worker_name(procs["w1"])},
                ).scalar_one()
            assert still >= 1
            procs["w2"].send_signal(signal.SIGTERM)
            assert procs["w2"].wait(30) == 0
            with engine.connect() as conn:  # the stopped one holds nothing any more
                for table in ("source", "delivery"):
                    held = conn.execute(
                        sa.text(f"SELECT COUNT(*) FROM {table} WHERE lease_owner = :w"),
                        {"w": worker_name(procs["w2"])},
                    ).scalar_one()
                    assert held == 0, (table, held)
            # every alert reaches both channels
            # (counted by alert, not by message: a duplicate must not stand in for another)
            wait_until(mailbox.lock, lambda: len(emailed()) >= FEEDS, 240, "emails")
            wait_until(posts.lock, lambda: len(posted()) >= FEEDS, 240, "Slack posts")
            # ... and the killed worker's sources are polled again by the others
            wait_until(
                feeds.lock,
                lambda: all(
                    any(r.feed == f and r.worker != "w1" and r.start > killed_at
                        for r in feeds.requests)
                    for f in held_by_w1
                ),
                LEASE * 4 + 30,
                "the killed worker's feeds to be polled again",
            )  # fmt: skip
        finally:
            for p in procs.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs.values():
                with suppress(subprocess.TimeoutExpired):
                    p.wait(30)
            for t in readers:
                t.join(10)
            for p in procs.values():
                if p.stderr is not None:
                    p.stderr.close()
        assert procs["w3"].returncode == 0

    # no feed was polled by two workers at once
    by_feed: dict[int, list[Request]] = defaultdict(list)
    for r in feeds.requests:
        by_feed[r.feed].append(r)
    for f, reqs in by_feed.items():
        reqs.sort(key=lambda r: r.start)
        for a, b in itertools.pairwise(reqs):
            if a.end is not None:
                assert b.start >= a.end - 0.05, f"feed {f} polled by {a.worker} and {b.worker}"

    # the killed worker's sources waited for its lease; the stopped one's did not
    def next_poll(f: int, after: float, worker: str) -> float:
        return min(r.start for r in by_feed[f] if r.start > after and r.worker != worker)

    for f in held_by_w1:
        gap = next_poll(f, killed_at, "w1") - killed_at
        assert gap <= LEASE + 6 * TICK + 5, f"feed {f}: taken over after {gap:.1f} s"
    assert held_by_w2, "w2 was stopped mid-poll"

    # every expected alert, on every channel, within the duplicate bound
    by_mail, by_post = emailed(), posted()
    for i in range(FEEDS):
        name = model(i)
        assert by_mail[name] in (1, 2), name
        assert by_post[name] in (1, 2), name
    duplicates = sum(n - 1 for n in by_post.values()) + sum(n - 1 for n in by_mail.values())
    assert duplicates <= 2 * 100, duplicates  # at most one batch per channel held by w1

    engine.dispose()
    for name in ("w2", "w3"):
        text = "".join(logs[name])
        assert "Traceback" not in text and "CancelledError" not in text, text[-3000:]
