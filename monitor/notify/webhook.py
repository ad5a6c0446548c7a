"""Generic webhooks: a documented JSON body, optionally signed (HMAC-SHA256).

Body (``Content-Type: application/json``, UTF-8), version 1::

    {"version": 1,
     "kind": "digest" | "alert" | "operator",
     "id": str,                 # the digest's or alert's id
     "message_id": str,         # the same on every try of this message (dedupe on it)
     "channel": str, "part": int, "parts": int,
     "subject": str,            # one line
     "text": str,               # the plain-text rendering
     "digest": {...} | null,    # structured items: see notify/render_json.py
     "sent_at": str}            # ISO 8601 UTC; equal to X-Monitor-Timestamp

Headers: ``X-Monitor-Timestamp`` (Unix seconds), ``X-Monitor-Message-Id``,
``Idempotency-Key``, and with a secret ``X-Monitor-Signature: sha256=<hex>``, the
HMAC-SHA256 of the raw body under the channel's secret. The body carries ``sent_at``, so
the signature covers the time too: a receiver recomputes the HMAC over the bytes it got,
compares with ``hmac.compare_digest`` (:func:`verify_signature`) and refuses a stale
``sent_at`` (a replay).

Answers: 2xx delivered; 408, 429 and 5xx retried (Retry-After honoured); other 4xx and
3xx (not followed) permanent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import SecretStr

from monitor.errors import DeliveryError
from monitor.net.guard import Resolver
from monitor.notify.http_post import Answer, Poster
from monitor.notify.message import OutboundMessage, SendResult, result_for, result_from_error
from monitor.settings import HttpSettings, WebhookSettings

SCHEMA_VERSION = 1
SIGNATURE_HEADER = "X-Monitor-Signature"
TIMESTAMP_HEADER = "X-Monitor-Timestamp"


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of ``body``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: recompute over the raw bytes, compare in constant time."""
    return hmac.compare_digest(sign(secret, body), header.strip())


def envelope(message: OutboundMessage, sent_at: datetime) -> dict[str, Any]:
    return {
        "version": SCHEMA_VERSION,
        "kind": message.kind,
        "id": message.ref_id,
        "message_id": message.message_id,
        "channel": message.channel,
        "part": message.part,
        "parts": message.parts,
        "subject": message.subject,
        "text": message.text,
        "digest": dict(message.payload) if message.payload is not None else None,
        "sent_at": sent_at.astimezone(UTC).isoformat(timespec="seconds"),
    }


class WebhookNotifier:
    """Posts to one webhook URL (one per channel), signing bodies when given a secret."""

    def __init__(
        self,
        url: SecretStr,
        *,
        secret: SecretStr | None = None,
        http: HttpSettings,
        webhook: WebhookSettings,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._url = url
        self._secret = secret
        self._poster = Poster(http, timeout=webhook.timeout, transport=transport, resolver=resolver)
        self._clock = clock or (lambda: datetime.now(UTC))

    def __repr__(self) -> str:
        return f"WebhookNotifier(url={self._url!r}, secret={self._secret!r})"

    async def send(self, message: OutboundMessage) -> SendResult:
        now = self._clock().replace(microsecond=0)
        body = json.dumps(envelope(message, now), ensure_ascii=False).encode("utf-8")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            TIMESTAMP_HEADER: str(int(now.timestamp())),
            "X-Monitor-Message-Id": message.message_id,
            "Idempotency-Key": message.message_id,
        }
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = sign(self._secret.get_secret_value(), body)
        try:
            answer = await self._poster.post(self._url, body, headers)
        except DeliveryError as exc:
            return result_from_error(message, exc)
        return classify(message, answer)

    async def aclose(self) -> None:
        await self._poster.aclose()


def classify(message: OutboundMessage, answer: Answer) -> SendResult:
    status = answer.status
    if 200 <= status < 300:
        return result_for(message, "delivered")
    kind, body = f"http_{status}", answer.body or "(empty body)"
    if status in (408, 425, 429) or status >= 500:
        return result_for(message, "retry", kind=kind, error=body, retry_after=answer.retry_after)
    if 300 <= status < 400:
        return result_for(message, "permanent", kind=kind, error="redirect not followed")
    return result_for(message, "permanent", kind=kind, error=body)
