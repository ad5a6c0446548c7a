"""Email against a real SMTP server on 127.0.0.1: TLS, refusals, and what arrives."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trustme

from monitor.errors import ConfigError
from monitor.notify.channels import Channel
from monitor.notify.compose import compose
from monitor.notify.digest import build_digest
from monitor.notify.email import EmailNotifier
from monitor.notify.message import OutboundMessage, SendResult
from monitor.settings import SmtpSettings
from tests.integration.smtp_sink import Sink, client_context, server_context, smtp_sink
from tests.unit.digest_samples import hostile, morning

HOSTILE_TITLE = '<img src=x onerror=alert(1)> <script>alert("x")</script>\r\nBcc: x@y.test'
CA = trustme.CA()


def settings(port: int, **changes: Any) -> SmtpSettings:
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "tls": "starttls",
        "sender": "monitor@desk.example.com",
        "timeout": 5.0,
    }
    return SmtpSettings(**{**base, **changes})


def message(*recipients: str, title: str = "Morning digest") -> OutboundMessage:
    channel = Channel(name="desk-email", type="email", to=recipients or ("a@example.com",))
    news = morning(title=title) if "<" not in title else hostile(title)
    (first, *_) = compose(channel, build_digest(news), ref_id="42")
    if len(recipients) > 1:  # one message to several, for the refusal cases
        from dataclasses import replace

        first = replace(first, recipients=tuple(recipients))
    return first


def run(coro: Callable[[], Awaitable[SendResult]]) -> SendResult:
    return asyncio.run(coro())  # type: ignore[arg-type]


def test_a_digest_arrives_over_starttls_with_login_and_reads_right() -> None:
    sink = Sink()
    msg = message("analyst@example.com", title=HOSTILE_TITLE)

    async def go() -> SendResult:
        async with smtp_sink(sink, starttls=server_context(CA), auth=True):
            notifier = EmailNotifier(
                settings(sink.port, username="monitor", password="s3cret"),
                tls_context=client_context(CA),
            )
            return await notifier.send(msg)

    result = run(go)
    assert result.status == "delivered", result.error
    assert sink.logins == ["monitor"]
    (mail,) = sink.messages()
    assert sink.received[0].rcpt_tos == ["analyst@example.com"]
    assert mail["Message-ID"] == f"<{msg.message_id}@desk.example.com>"
    assert mail["From"] == "monitor@desk.example.com" and mail["To"] == "analyst@example.com"
    # the title's CR/LF never split the header: no Bcc header, the words are in the subject
    assert mail["Bcc"] is None and "Bcc: x@y.test" in mail["Subject"]
    assert "\n" not in mail["Subject"] and mail["Subject"].startswith("[CRITICAL] digest ")
    raw = sink.received[0].content
    assert isinstance(raw, bytes) and b"\r\nBcc:" not in raw
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    text_body, html_body = text.get_content(), html.get_content()
    assert "<img src=x onerror=alert(1)>" in text_body  # plain text shows it as written
    assert "<img" not in html_body and "<script" not in html_body
    assert "&lt;img src=x onerror=alert(1)&gt;" in html_body and "&lt;script&gt;" in html_body


def test_a_partial_refusal_delivers_to_the_others_and_records_each_refused() -> None:
    sink = Sink(
        refuse={
            "gone@example.com": "550 5.1.1 no such user",
            "busy@example.com": "451 4.3.0 mailbox busy, try later",
        }
    )
    msg = message("ok@example.com", "gone@example.com", "busy@example.com")

    async def go() -> SendResult:
        async with smtp_sink(sink, starttls=server_context(CA)):
            return await EmailNotifier(settings(sink.port), tls_context=client_context(CA)).send(
                msg
            )

    result = run(go)
    by = {o.recipient: o for o in result.outcomes}
    assert by["ok@example.com"].status == "delivered"
    assert (by["gone@example.com"].status, by["gone@example.com"].kind) == ("permanent", "smtp_550")
    assert "no such user" in (by["gone@example.com"].error or "")
    assert (by["busy@example.com"].status, by["busy@example.com"].kind) == ("retry", "smtp_451")
    assert result.status == "retry" and result.recipients("retry") == ("busy@example.com",)
    assert len(sink.received) == 1 and sink.received[0].rcpt_tos == ["ok@example.com"]


def test_every_recipient_refused_sends_no_data() -> None:
    sink = Sink(refuse={"a@example.com": "550 no", "b@example.com": "452 too many"})

    async def go() -> SendResult:
        async with smtp_sink(sink, starttls=server_context(CA)):
            notifier = EmailNotifier(settings(sink.port), tls_context=client_context(CA))
            return await notifier.send(message("a@example.com", "b@example.com"))

    result = run(go)
    assert [(o.status, o.kind) for o in result.outcomes] == [
        ("permanent", "smtp_550"),
        ("retry", "smtp_452"),
    ]
    assert sink.received == []


@pytest.mark.parametrize(
    ("reply", "status"), [("451 4.7.1 greylisted", "retry"), ("554 5.7.1 rejected", "permanent")]
)
def test_a_refused_data_phase_is_temporary_for_4xx_and_permanent_for_5xx(
    reply: str, status: str
) -> None:
    sink = Sink(data_reply=[reply])

    async def go() -> SendResult:
        async with smtp_sink(sink, starttls=server_context(CA)):
            return await EmailNotifier(settings(sink.port), tls_context=client_context(CA)).send(
                message()
            )

    result = run(go)
    assert result.status == status and result.outcomes[0].kind == f"smtp_{reply[:3]}"
    assert reply[4:] in (result.outcomes[0].error or "")


def test_a_connection_cut_at_quit_after_the_data_was_taken_is_a_delivery() -> None:
    """The server said 250 to the message, then dropped the connection at QUIT: that was
    a failure, retried, and every retry delivered the message again."""
    sink = Sink(drop_at_quit=True)

    async def go() -> SendResult:
        async with smtp_sink(sink, starttls=server_context(CA)):
            return await EmailNotifier(settings(sink.port), tls_context=client_context(CA)).send(
                message("a@x.test", "b@x.test")
            )

    result = run(go)
    assert result.status == "delivered", result.outcomes
    assert len(sink.received) == 1


def test_the_goodbye_is_no_part_of_the_send() -> None:
    """Once the server took the message, the send is over: waiting for QUIT's answer let
    the send's time budget (its lease) end during it, and the message, delivered, was
    retried and sent again. Here the server never answers QUIT."""
    sink = Sink(hold_quit=True)

    async def go() -> SendResult:
        async with smtp_sink(sink, starttls=server_context(CA)):
            notifier = EmailNotifier(settings(sink.port), tls_context=client_context(CA))
            try:
                async with asyncio.timeout(3):  # the sender's own timeout is 5 s
                    return await notifier.send(message("a@x.test"))
            finally:
                sink.quit_release.set()

    assert run(go).status == "delivered"
    assert len(sink.received) == 1


def test_starttls_required_against_a_server_without_it_sends_nothing_in_plaintext() -> None:
    sink = Sink()

    async def go() -> SendResult:
        async with smtp_sink(sink, auth=False):  # no tls_context: STARTTLS not offered
            notifier = EmailNotifier(
                settings(sink.port, username="monitor", password="s3cret"),
                tls_context=client_context(CA),
            )
            return await notifier.send(message())

    result = run(go)
    assert result.status == "retry" and result.outcomes[0].kind == "starttls_unavailable"
    assert sink.mail_from == [] and sink.logins == [] and sink.received == []


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
def test_a_certificate_nobody_vouches_for_fails(mode: str) -> None:
    sink = Sink()
    ctx = server_context(trustme.CA())  # a CA the client does not trust

    async def go() -> SendResult:
        starttls = ctx if mode == "starttls" else None
        implicit = ctx if mode == "implicit" else None
        async with smtp_sink(sink, starttls=starttls, implicit=implicit):
            # the system's trust store, as in production
            return await EmailNotifier(settings(sink.port, tls=mode)).send(message())

    result = run(go)
    assert result.status == "retry" and result.outcomes[0].kind == "tls", result.error
    assert sink.mail_from == [] and sink.received == []


def test_implicit_tls_delivers() -> None:
    sink = Sink()

    async def go() -> SendResult:
        async with smtp_sink(sink, implicit=server_context(CA)):
            notifier = EmailNotifier(
                settings(sink.port, tls="implicit"), tls_context=client_context(CA)
            )
            return await notifier.send(message())

    assert run(go).status == "delivered" and len(sink.received) == 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_greeting_timeout_and_dns_failure_are_temporary() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts, never greets, until the client hangs up
        writer.close()

    async def go() -> list[SendResult]:
        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            return [
                await EmailNotifier(settings(free_port())).send(message()),
                await EmailNotifier(settings(port, timeout=0.3)).send(message()),
                await EmailNotifier(settings(25, host="no-such-host.invalid", timeout=2.0)).send(
                    message()
                ),
            ]
        finally:
            server.close()
            await server.wait_closed()

    refused, silent_server, no_dns = asyncio.run(go())
    assert refused.status == "retry" and refused.outcomes[0].kind in (
        "connect_refused",
        "connect_error",
    )
    assert silent_server.status == "retry" and silent_server.outcomes[0].kind == "timeout"
    assert no_dns.status == "retry" and no_dns.outcomes[0].kind == "dns"


def test_message_ids_are_stable_per_digest_part_and_recipient() -> None:
    a, b = message("a@example.com"), message("b@example.com")
    notifier = EmailNotifier(settings(25))
    assert notifier.build(a)["Message-ID"] == notifier.build(message("a@example.com"))["Message-ID"]
    assert notifier.build(a)["Message-ID"] != notifier.build(b)["Message-ID"]
    assert a.message_id.startswith("digest.42.1of1.")
    # another digest numbered 42 (a database started again) is another message
    other = dataclasses.replace(a, text=a.text + " and more news")
    assert other.message_id != a.message_id and other.idempotency_key == a.idempotency_key


def test_settings_that_would_leak_are_refused() -> None:
    with pytest.raises(ConfigError, match="plaintext"):
        EmailNotifier(settings(25, tls="none", username="u", password="p"))
    with pytest.raises(ConfigError, match="MONITOR_SMTP__HOST"):
        EmailNotifier(SmtpSettings())
    notifier = EmailNotifier(settings(25, username="u", password="hunter2"))
    assert "hunter2" not in repr(notifier)
