"""A real SMTP server on 127.0.0.1 (aiosmtpd) inside the test's event loop.

It listens on an ephemeral port, records what each phase of the transaction saw, and
answers each phase as scripted: ``refuse`` maps a recipient to the reply its RCPT gets,
``data_reply`` is the reply to DATA. STARTTLS is offered when given a TLS context,
implicit TLS when given ``implicit``.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import trustme
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class Sink:
    """The handler and the record of what arrived."""

    refuse: dict[str, str] = field(default_factory=dict)  # address -> "550 no such user"
    data_reply: list[str] = field(default_factory=list)  # next DATA replies, then 250
    received: list[Envelope] = field(default_factory=list)
    mail_from: list[str] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    drop_at_quit: bool = False  # the connection cut when QUIT comes, after DATA's 250
    hold_quit: bool = False  # QUIT unanswered until ``quit_release`` is set
    quit_release: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        self.mail_from.append(address)
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply.pop(0)
        self.received.append(envelope)
        return "250 Message accepted for delivery"

    async def handle_QUIT(
        self, server: SMTP, session: Session, envelope: Envelope, *args: Any
    ) -> str:
        if self.drop_at_quit and isinstance(server.transport, asyncio.Transport):
            server.transport.abort()
        if self.hold_quit:
            await self.quit_release.wait()
        return "221 Bye"

    def authenticator(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append(data.login.decode())
        ok = data.login == b"monitor" and data.password == b"s3cret"
        return AuthResult(success=ok)

    def messages(self) -> list[EmailMessage]:
        out = []
        for env in self.received:
            raw = env.content if isinstance(env.content, bytes) else str(env.content).encode()
            out.append(email.message_from_bytes(raw, policy=email.policy.default))
        return out


@asynccontextmanager
async def smtp_sink(
    sink: Sink,
    *,
    starttls: ssl.SSLContext | None = None,
    implicit: ssl.SSLContext | None = None,
    auth: bool = False,
) -> AsyncIterator[Sink]:
    loop = asyncio.get_running_loop()

    def factory() -> SMTP:
        return SMTP(
            sink,
            hostname="sink.test",
            tls_context=starttls,
            authenticator=sink.authenticator if auth else None,
            auth_require_tls=True,
            loop=loop,
        )

    server = await loop.create_server(factory, "127.0.0.1", 0, ssl=implicit)
    sink.port = server.sockets[0].getsockname()[1]
    try:
        yield sink
    finally:
        server.close()
        await server.wait_closed()


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    return ctx


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx
