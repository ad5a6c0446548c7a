"""One contract, every notifier: email (aiosmtpd), Slack and webhook (a local receiver),
and the memory notifier, on the same cases."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import trustme
from pydantic import SecretStr

from monitor.notify.channels import Channel
from monitor.notify.compose import compose
from monitor.notify.digest import build_digest
from monitor.notify.email import EmailNotifier
from monitor.notify.memory import MemoryNotifier
from monitor.notify.message import OutboundMessage
from monitor.notify.notifier import Notifier
from monitor.notify.slack import SlackNotifier
from monitor.notify.webhook import WebhookNotifier
from monitor.settings import HttpSettings, SlackSettings, SmtpSettings, WebhookSettings
from tests.integration.http_receiver import Reply, receiver
from tests.integration.smtp_sink import Sink, client_context, server_context, smtp_sink
from tests.unit.digest_samples import morning

CA = trustme.CA()
LOOPBACK = HttpSettings(allow_networks=["127.0.0.1/32"])


@dataclass
class Harness:
    notifier: Notifier
    message: OutboundMessage
    temporary_next: Callable[[], None]  # the next send meets a temporary refusal
    permanent_next: Callable[[], None]  # the next send meets a permanent refusal
    delivered: Callable[[], int]  # how many messages the receiving end accepted
    unreachable: Callable[[], Notifier]  # the same kind of notifier, nowhere to send


def first(channel: Channel) -> OutboundMessage:
    return compose(channel, build_digest(morning()), ref_id="5")[0]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def email_harness() -> AsyncIterator[Harness]:
    sink = Sink()
    async with smtp_sink(sink, starttls=server_context(CA)):

        def make(port: int) -> Notifier:
            smtp = SmtpSettings(host="127.0.0.1", port=port, timeout=3.0, sender="m@x.test")
            return EmailNotifier(smtp, tls_context=client_context(CA))

        yield Harness(
            notifier=make(sink.port),
            message=first(Channel(name="mail", type="email", to=("a@example.com",))),
            temporary_next=lambda: sink.data_reply.append("451 4.3.0 try again later"),
            permanent_next=lambda: sink.data_reply.append("554 5.7.1 message refused"),
            delivered=lambda: len(sink.received),
            unreachable=lambda: make(closed_port()),
        )


@asynccontextmanager
async def http_harness(kind: str) -> AsyncIterator[Harness]:
    async with receiver() as r:

        def make(url: str) -> Notifier:
            if kind == "slack":
                return SlackNotifier(
                    SecretStr(url), http=LOOPBACK, slack=SlackSettings(min_interval=0, timeout=3)
                )
            return WebhookNotifier(
                SecretStr(url), http=LOOPBACK, webhook=WebhookSettings(timeout=3)
            )

        url = SecretStr("https://unused.test/hook")
        yield Harness(
            notifier=make(r.url()),
            message=first(Channel(name=kind, type=kind, url=url)),  # type: ignore[arg-type]
            temporary_next=lambda: r.script.append(Reply(503, b"service_unavailable")),
            permanent_next=lambda: r.script.append(Reply(400, b"invalid_payload")),
            delivered=lambda: r.delivered,
            unreachable=lambda: make(f"http://127.0.0.1:{closed_port()}/hook"),
        )


@asynccontextmanager
async def memory_harness() -> AsyncIterator[Harness]:
    memory = MemoryNotifier()
    down = MemoryNotifier()
    down.fail("retry", kind="connect_error", error="scripted: nobody listening", times=100)
    yield Harness(
        notifier=memory,
        message=first(Channel(name="mem", type="email", to=("a@example.com",))),
        temporary_next=lambda: memory.fail("retry", kind="scripted_4xx"),
        permanent_next=lambda: memory.fail("permanent", kind="scripted_5xx"),
        delivered=lambda: len(memory.sent),
        unreachable=lambda: down,
    )


HARNESSES: dict[str, Callable[[], Any]] = {
    "email": email_harness,
    "slack": lambda: http_harness("slack"),
    "webhook": lambda: http_harness("webhook"),
    "memory": memory_harness,
}


@pytest.fixture(params=sorted(HARNESSES))
def each(request: pytest.FixtureRequest) -> Callable[[Callable[[Harness], Awaitable[None]]], None]:
    def run(case: Callable[[Harness], Awaitable[None]]) -> None:
        async def go() -> None:
            async with HARNESSES[request.param]() as h:
                try:
                    await case(h)
                finally:
                    await h.notifier.aclose()

        asyncio.run(go())

    return run


def test_is_a_notifier(each: Any) -> None:
    async def case(h: Harness) -> None:
        assert isinstance(h.notifier, Notifier)

    each(case)


def test_delivers_once_and_says_so(each: Any) -> None:
    async def case(h: Harness) -> None:
        result = await h.notifier.send(h.message)
        assert result.status == "delivered", result.error
        assert result.message_id == h.message.message_id
        assert result.outcomes and all(o.delivered for o in result.outcomes)
        assert result.error is None and h.delivered() == 1

    each(case)


def test_a_temporary_refusal_is_retry_and_a_later_try_delivers(each: Any) -> None:
    async def case(h: Harness) -> None:
        h.temporary_next()
        refused = await h.notifier.send(h.message)
        assert refused.status == "retry" and h.delivered() == 0
        assert refused.outcomes[0].kind and refused.outcomes[0].error
        again = await h.notifier.send(h.message)
        assert again.status == "delivered" and again.message_id == refused.message_id
        assert h.delivered() == 1

    each(case)


def test_a_permanent_refusal_says_why(each: Any) -> None:
    async def case(h: Harness) -> None:
        h.permanent_next()
        result = await h.notifier.send(h.message)
        assert result.status == "permanent" and h.delivered() == 0
        assert result.error and result.outcomes[0].kind

    each(case)


def test_nobody_listening_is_a_result_to_retry_not_an_exception(each: Any) -> None:
    async def case(h: Harness) -> None:
        down = h.unreachable()
        try:
            result = await down.send(h.message)
        finally:
            await down.aclose()
        assert result.status == "retry" and result.outcomes[0].kind

    each(case)
