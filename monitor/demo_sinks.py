"""Local receivers for `monitor demo`: an SMTP server and a Slack-like webhook, on
127.0.0.1, each in a thread, recording what arrives. The demo delivers to them through the
real senders, so the whole loop runs offline.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Mailbox:
    """What the SMTP sink accepted: one entry per message."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    lock: threading.Condition = field(default_factory=threading.Condition)  # notified per message

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), parsed))
            self.lock.notify_all()
        return "250 accepted"


@contextmanager
def smtp_sink() -> Iterator[tuple[int, Mailbox]]:
    """An SMTP server on 127.0.0.1 at a free port, in a thread with its own event loop:
    (port, mailbox)."""
    box = Mailbox()
    loop = asyncio.new_event_loop()
    started: list[asyncio.Server] = []
    ready = threading.Event()

    async def serve() -> None:
        server = await loop.create_server(
            lambda: SMTP(box, hostname="monitor-demo", loop=loop), "127.0.0.1", 0
        )
        started.append(server)
        ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(serve())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the demo SMTP server did not start")
    try:
        yield started[0].sockets[0].getsockname()[1], box
    finally:

        async def stop() -> None:
            started[0].close()
            await started[0].wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@dataclass
class Posts:
    """What the Slack-like receiver accepted: each body, parsed."""

    bodies: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Condition = field(default_factory=threading.Condition)  # notified per post


@contextmanager
def slack_receiver() -> Iterator[tuple[str, Posts]]:
    """An HTTP server on 127.0.0.1 answering webhook posts as Slack does ("ok"): (url,
    posts)."""
    posts = Posts()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            try:
                parsed = json.loads(body)
            except ValueError:
                self.send_response(400)
                self.end_headers()
                self.wfile.write(b"invalid_payload")
                return
            with posts.lock:
                posts.bodies.append(parsed)
                posts.lock.notify_all()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/services/demo/desk", posts
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
