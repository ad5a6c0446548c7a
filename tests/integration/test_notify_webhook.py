"""Webhooks against a local receiver: the documented body, its signature, the answers."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from monitor.notify.channels import Channel
from monitor.notify.compose import compose
from monitor.notify.digest import build_digest
from monitor.notify.message import OutboundMessage, SendResult
from monitor.notify.webhook import SIGNATURE_HEADER, WebhookNotifier, verify_signature
from monitor.settings import HttpSettings, WebhookSettings
from tests.integration.http_receiver import Receiver, Reply, receiver
from tests.unit.digest_samples import morning

LOOPBACK = HttpSettings(allow_networks=["127.0.0.1/32"])
WHEN = datetime(2026, 2, 25, 8, 0, 5, tzinfo=UTC)


def message() -> OutboundMessage:
    channel = Channel(name="archive", type="webhook", url=SecretStr("https://unused.test/x"))
    (msg,) = compose(channel, build_digest(morning()), ref_id="42")
    return msg


def send(
    *script: Reply, secret: str | None = None, times: int = 1
) -> tuple[list[SendResult], Receiver]:
    async def go() -> tuple[list[SendResult], Receiver]:
        async with receiver(*script) as r:
            n = WebhookNotifier(
                SecretStr(r.url("/in/hook-token-XYZ")),
                secret=SecretStr(secret) if secret else None,
                http=LOOPBACK,
                webhook=WebhookSettings(timeout=2.0),
                clock=lambda: WHEN,
            )
            results = [await n.send(message()) for _ in range(times)]
            await n.aclose()
            return results, r

    return asyncio.run(go())


def test_the_body_follows_the_documented_schema_and_is_signed() -> None:
    (result,), r = send(secret="hook-secret")
    assert result.status == "delivered"
    (req,) = r.requests
    body: dict[str, Any] = json.loads(req.body)
    msg = message()
    assert {k: body[k] for k in ("version", "kind", "id", "channel", "part", "parts")} == {
        "version": 1,
        "kind": "digest",
        "id": "42",
        "channel": "archive",
        "part": 1,
        "parts": 1,
    }
    assert body["message_id"] == msg.message_id == req.headers["x-monitor-message-id"]
    assert req.headers["idempotency-key"] == msg.message_id
    assert body["subject"] == msg.subject and body["text"].startswith("Morning digest")
    assert body["digest"]["companies"][0]["name"] == "Alibaba"
    assert body["sent_at"] == "2026-02-25T08:00:05+00:00"
    assert req.headers["x-monitor-timestamp"] == str(int(WHEN.timestamp()))
    signature = req.headers[SIGNATURE_HEADER.lower()]
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert verify_signature("hook-secret", req.body, signature)
    assert not verify_signature("other-secret", req.body, signature)
    assert not verify_signature("hook-secret", req.body.replace(b"Alibaba", b"Alibabb"), signature)


def test_without_a_secret_there_is_no_signature() -> None:
    (result,), r = send()
    assert result.status == "delivered"
    assert SIGNATURE_HEADER.lower() not in r.requests[0].headers


@pytest.mark.parametrize(
    ("reply", "status", "retry_after"),
    [
        (Reply(202, b""), "delivered", None),
        (Reply(429, b"slow down", (("Retry-After", "30"),)), "retry", 30.0),
        (Reply(503, b"maintenance", (("Retry-After", "5"),)), "retry", 5.0),
        (Reply(500, b"boom"), "retry", None),
        (Reply(404, b"no such hook"), "permanent", None),
        (Reply(401, b"bad signature"), "permanent", None),
        (Reply(301, b"", (("Location", "https://elsewhere.test/"),)), "permanent", None),
    ],
)
def test_answers(reply: Reply, status: str, retry_after: float | None) -> None:
    (result,), _ = send(reply)
    assert result.status == status and result.retry_after == retry_after


def test_every_try_of_a_message_carries_the_same_ids() -> None:
    (first, second), r = send(Reply(500, b"boom"), times=2)
    assert (first.status, second.status) == ("retry", "delivered")
    ids = {req.headers["x-monitor-message-id"] for req in r.requests}
    assert ids == {message().message_id} and first.message_id == second.message_id
    assert all("hook-token-XYZ" not in str(o) for o in first.outcomes)
