"""Slack against a local receiver that plays Slack: what counts as delivered, what waits,
what is permanent, and a webhook URL that never shows."""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from pydantic import SecretStr

from monitor.notify.channels import Channel
from monitor.notify.compose import compose
from monitor.notify.digest import build_digest
from monitor.notify.message import OutboundMessage, SendResult
from monitor.notify.notifier import retry_delay
from monitor.notify.slack import SlackNotifier
from monitor.settings import HttpSettings, SlackSettings
from tests.integration.http_receiver import Receiver, Reply, receiver
from tests.unit.digest_samples import many_alerts, morning

LOOPBACK = HttpSettings(allow_networks=["127.0.0.1/32"])
FAST = SlackSettings(timeout=2.0, min_interval=0.0)
T = TypeVar("T")


def parts(news: Any = None) -> tuple[OutboundMessage, ...]:
    channel = Channel(name="desk-slack", type="slack", url=SecretStr("https://unused.test/x"))
    return compose(channel, build_digest(news or morning()), ref_id="7")


def notifier(r: Receiver, **kw: Any) -> SlackNotifier:
    return SlackNotifier(
        SecretStr(r.url()), http=kw.pop("http", LOOPBACK), slack=kw.pop("slack", FAST)
    )


def run(script: tuple[Reply, ...], body: Callable[[Receiver], Awaitable[T]]) -> T:
    async def go() -> T:
        async with receiver(*script) as r:
            return await body(r)

    return asyncio.run(go())


async def send_all(
    r: Receiver, messages: tuple[OutboundMessage, ...], **kw: Any
) -> list[SendResult]:
    n = notifier(r, **kw)
    try:
        return [await n.send(m) for m in messages]
    finally:
        await n.aclose()


def test_ok_is_delivered_and_the_blocks_arrive() -> None:
    (msg,) = parts()

    async def body(r: Receiver) -> tuple[list[SendResult], Receiver]:
        return await send_all(r, (msg,)), r

    (result,), r = run((), body)
    assert result.status == "delivered" and result.outcomes[0].recipient == "desk-slack"
    (req,) = r.requests
    assert req.method == "POST" and req.path == "/services/T0001/B0002/SeCrEtToKeN42"
    payload = json.loads(req.body)
    assert payload["blocks"] and "Morning digest" in payload["text"]
    assert req.headers["content-type"].startswith("application/json")


def test_429_waits_for_retry_after_then_exactly_one_message_arrives() -> None:
    (msg,) = parts()
    script = (Reply(429, b"rate_limited", (("Retry-After", "7"),)), Reply(200, b"ok"))

    async def body(r: Receiver) -> tuple[list[SendResult], Receiver]:
        return await send_all(r, (msg, msg)), r

    (first, second), r = run(script, body)
    assert first.status == "retry" and first.retry_after == 7.0
    assert first.outcomes[0].kind == "http_429" and first.outcomes[0].error == "rate_limited"
    for attempt in (1, 2, 5):
        assert retry_delay(first.outcomes[0], attempt, random.Random(attempt)) >= 7.0
    assert second.status == "delivered"
    assert len(r.requests) == 2 and r.delivered == 1


def test_retry_after_as_an_http_date() -> None:
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    (msg,) = parts()

    async def body(r: Receiver) -> list[SendResult]:
        return await send_all(r, (msg,))

    (result,) = run((Reply(429, b"rate_limited", (("Retry-After", when),)),), body)
    assert result.retry_after is not None and 100 < result.retry_after <= 120


@pytest.mark.parametrize(
    ("reply", "status", "kind", "error"),
    [
        (Reply(500, b"rollup_error"), "retry", "http_500", "rollup_error"),
        (Reply(503, b""), "retry", "http_503", "(empty body)"),
        (Reply(400, b"invalid_payload"), "permanent", "http_400", "invalid_payload"),
        (Reply(403, b"action_prohibited"), "permanent", "http_403", "action_prohibited"),
        (Reply(404, b"channel_not_found"), "permanent", "http_404", "channel_not_found"),
        (Reply(410, b"channel_is_archived"), "permanent", "http_410", "channel_is_archived"),
        (Reply(200, b"<html>welcome</html>"), "permanent", "slack_unexpected_answer", "welcome"),
        (
            Reply(302, b"", (("Location", "http://169.254.169.254/"),)),
            "permanent",
            "http_302",
            "redirect",
        ),
    ],
)
def test_answers_are_classified_with_slacks_error_text(
    reply: Reply, status: str, kind: str, error: str
) -> None:
    (msg,) = parts()

    async def body(r: Receiver) -> tuple[list[SendResult], Receiver]:
        return await send_all(r, (msg,)), r

    (result,), r = run((reply,), body)
    outcome = result.outcomes[0]
    assert (result.status, outcome.kind) == (status, kind)
    assert error in (outcome.error or "")
    assert len(r.requests) == 1  # one try per send: retrying is the dispatcher's


def test_resets_and_timeouts_are_temporary() -> None:
    (msg,) = parts()
    slow = SlackSettings(timeout=0.3, min_interval=0.0)

    async def body(r: Receiver) -> list[SendResult]:
        return await send_all(r, (msg, msg, msg), slack=slow)

    reset, hung, ok = run((Reply(action="reset"), Reply(action="hang")), body)
    assert reset.status == "retry" and reset.outcomes[0].kind == "connection_reset"
    assert hung.status == "retry" and hung.outcomes[0].kind == "timeout"
    assert ok.status == "delivered"


def test_a_private_address_is_refused_before_anything_is_sent() -> None:
    (msg,) = parts()

    async def body(r: Receiver) -> tuple[list[SendResult], Receiver]:
        return await send_all(r, (msg,), http=HttpSettings()), r  # no allowlist

    (result,), r = run((), body)
    assert result.status == "permanent" and result.outcomes[0].kind == "blocked_address"
    assert r.requests == []


def test_the_webhook_url_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # whatever configured logging before
    (msg,) = parts()
    script = (Reply(404, b"channel_not_found"), Reply(action="reset"), Reply(500, b"x"))

    async def body(r: Receiver) -> tuple[list[SendResult], str]:
        n = notifier(r)
        results = [await n.send(msg) for _ in range(3)]
        await n.aclose()
        return results, repr(n)

    results, shown = run(script, body)
    texts = [shown, caplog.text] + [str(o) for res in results for o in res.outcomes]
    assert caplog.text  # httpx did log the requests...
    for text in texts:
        assert "SeCrEtToKeN42" not in text and "/services/" not in text  # ...without the URL
    assert "127.0.0.1" in caplog.text  # the host alone is fine


def test_a_split_digest_goes_out_as_numbered_parts_each_paced() -> None:
    messages = parts(many_alerts(200))
    assert len(messages) > 1
    paced = SlackSettings(timeout=2.0, min_interval=0.05)

    async def body(r: Receiver) -> tuple[list[SendResult], Receiver]:
        return await send_all(r, messages, slack=paced), r

    results, r = run((), body)
    assert all(res.status == "delivered" for res in results)
    assert len({res.message_id for res in results}) == len(messages)
    bodies = [json.loads(req.body) for req in r.requests]
    assert [b["text"].split("(part ")[1].split(")")[0] for b in bodies] == [
        f"{i}/{len(messages)}" for i in range(1, len(messages) + 1)
    ]
    gaps = [b.at - a.at for a, b in zip(r.requests, r.requests[1:], strict=False)]
    assert min(gaps) >= 0.045  # about one message per min_interval, never a burst


def test_the_guard_checks_the_address_it_connects_to() -> None:
    """A name that resolves to a private address is refused at connect time (N11), and
    a name that does not resolve is a temporary failure."""
    (msg,) = parts()

    async def private(host: str, port: int) -> list[str]:
        return ["10.0.0.5"]  # e.g. a DNS answer rebound to an internal host

    async def nowhere(host: str, port: int) -> list[str]:
        raise OSError("name does not resolve")

    async def go() -> list[SendResult]:
        results = []
        for resolver in (private, nowhere):
            n = SlackNotifier(
                SecretStr("https://hooks.test/services/T/B/TOKEN9"),
                http=HttpSettings(),
                slack=FAST,
                resolver=resolver,
            )
            results.append(await n.send(msg))
            await n.aclose()
        return results

    blocked, unresolved = asyncio.run(go())
    assert (blocked.status, blocked.outcomes[0].kind) == ("permanent", "blocked_address")
    assert (unresolved.status, unresolved.outcomes[0].kind) == ("retry", "dns")
    assert "TOKEN9" not in str(blocked.outcomes) + str(unresolved.outcomes)
