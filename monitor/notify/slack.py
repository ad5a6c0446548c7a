"""Slack incoming webhooks: one message part per POST, answers read as Slack means them.

* 200 with the body ``ok`` is delivered; a 200 with any other body is not (N1): a proxy
  or a wrong URL answering 200 must not count as delivery.
* 429 is retried no sooner than its ``Retry-After`` (seconds or an HTTP-date, N2); 5xx,
  408, resets and timeouts are retried with backoff (N3).
* 400 ``invalid_payload``, 403 ``action_prohibited``, 404 ``channel_not_found``,
  410 ``channel_is_archived`` and the other 4xx are permanent, with Slack's error word
  recorded (N4).

Messages to one webhook are spaced ``MONITOR_SLACK__MIN_INTERVAL`` apart (Slack allows
about one per second per webhook). The URL never appears in a result or a log line.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from pydantic import SecretStr

from monitor.errors import DeliveryError
from monitor.net.guard import Resolver
from monitor.notify.http_post import Answer, Poster
from monitor.notify.message import OutboundMessage, SendResult, result_for, result_from_error
from monitor.notify.textsafe import slack_escape
from monitor.settings import HttpSettings, SlackSettings

MAX_FALLBACK_CHARS = 3000


class SlackNotifier:
    """Sends to one Slack incoming webhook (one per channel)."""

    def __init__(
        self,
        url: SecretStr,
        *,
        http: HttpSettings,
        slack: SlackSettings,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self._url = url
        self._poster = Poster(http, timeout=slack.timeout, transport=transport, resolver=resolver)
        self._min_interval = slack.min_interval
        self._pace = asyncio.Lock()
        self._last_sent = float("-inf")

    def __repr__(self) -> str:
        return f"SlackNotifier(url={self._url!r})"  # SecretStr shows '**********'

    async def send(self, message: OutboundMessage) -> SendResult:
        body = json.dumps(_payload(message), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        async with self._pace:
            loop = asyncio.get_running_loop()
            wait = self._last_sent + self._min_interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                answer = await self._poster.post(self._url, body, headers)
            except DeliveryError as exc:
                return result_from_error(message, exc)
            finally:
                self._last_sent = loop.time()
        return classify(message, answer)

    async def aclose(self) -> None:
        await self._poster.aclose()


def classify(message: OutboundMessage, answer: Answer) -> SendResult:
    """Slack's answer as a result (see the module's docstring for the table)."""
    status, body = answer.status, answer.body or "(empty body)"
    if status == 200:
        if answer.body.strip() == "ok":
            return result_for(message, "delivered")
        return result_for(message, "permanent", kind="slack_unexpected_answer", error=body)
    kind = f"http_{status}"
    if status == 429:
        return result_for(message, "retry", kind=kind, error=body, retry_after=answer.retry_after)
    if status >= 500 or status == 408:
        return result_for(message, "retry", kind=kind, error=body, retry_after=answer.retry_after)
    if 300 <= status < 400:
        return result_for(message, "permanent", kind=kind, error="redirect not followed")
    return result_for(message, "permanent", kind=kind, error=body)


def _payload(message: OutboundMessage) -> dict[str, Any]:
    if message.payload is not None:
        return dict(message.payload)
    # a message rendered without blocks: its text, escaped, as the whole message
    return {"text": slack_escape(message.text[:MAX_FALLBACK_CHARS])}
