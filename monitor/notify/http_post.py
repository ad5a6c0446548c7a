"""One JSON POST to a Slack or webhook URL, through the SSRF guard, failures classified.

Shared by ``slack.py`` and ``webhook.py``. The URL is checked by the guard before the
request (scheme, literal address) and again at connect time (every DNS answer), so a
channel pointing at a private address is refused unless allowlisted in
``MONITOR_HTTP__ALLOW_NETWORKS`` (RELIABILITY.md N11). Redirects are not followed: a
webhook that moves is a configuration change, not something to chase. The URL is a
credential: no message, log line or exception text built here contains it.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from monitor.errors import DeliveryError, FetchError
from monitor.net.body import read_capped
from monitor.net.client import guarded_client
from monitor.net.guard import AddressPolicy, Resolver, check_url
from monitor.net.redact import hide_in_logs, redact_url, scrub
from monitor.net.retry_after import retry_after_seconds
from monitor.notify.textsafe import one_line
from monitor.settings import HttpSettings

MAX_ANSWER_BYTES = 64 * 1024  # Slack answers "ok" or an error word; nothing needs more
_TEMPORARY_GUARD_KINDS = frozenset({"dns"})  # a name that does not resolve today may tomorrow


@dataclass(frozen=True, slots=True)
class Answer:
    """The receiver's reply: status, lower-cased headers, the body as one clipped line."""

    status: int
    headers: Mapping[str, str]
    body: str

    @property
    def retry_after(self) -> float | None:
        return retry_after_seconds(self.headers.get("retry-after"))


class Poster:
    """Posts bodies to credential URLs with one guarded client."""

    def __init__(
        self,
        http: HttpSettings,
        *,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self._policy = AddressPolicy(http.allow_networks)
        self._timeout = timeout
        self._client = guarded_client(
            http,
            transport=transport,
            resolver=resolver,
            connections=4,
            timeout=httpx.Timeout(timeout),
        )

    async def post(self, url: SecretStr, body: bytes, headers: Mapping[str, str]) -> Answer:
        """POST ``body``; raise ``DeliveryError`` (kind, permanent) when no answer came."""
        secret = url.get_secret_value()
        hide_in_logs(secret)
        shown = redact_url(secret)
        try:
            parsed = check_url(secret, self._policy)
        except FetchError as exc:
            # from None: the guard's message names the URL
            raise DeliveryError(
                exc.kind, f"{shown} refused by the address guard", permanent=True
            ) from None
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._client.send(
                    self._client.build_request("POST", parsed, content=body, headers=dict(headers)),
                    stream=True,
                )
                try:
                    raw = await read_capped(response, MAX_ANSWER_BYTES, shown)
                except FetchError:
                    raw = b"(answer over the size cap)"
                finally:
                    await response.aclose()
        except FetchError as exc:  # the guard, at connect time
            permanent = exc.kind not in _TEMPORARY_GUARD_KINDS
            raise DeliveryError(
                exc.kind, f"{shown}: {_clean(exc, secret)}", permanent=permanent
            ) from None
        except TimeoutError:
            raise DeliveryError(
                "timeout", f"{shown}: no answer within {self._timeout:g}s"
            ) from None
        except (httpx.InvalidURL, UnicodeError):
            # httpx builds the next request of a redirect answer even when not following
            # it: a Location such as javascript:, or a host name IDNA cannot decode, fails
            # there. Not retried: the receiver answers so on every try
            raise DeliveryError(
                "bad_redirect",
                f"{shown}: answered with a redirect to a URL that is not http(s) or has an"
                " invalid host name",
                permanent=True,
            ) from None
        except httpx.HTTPError as exc:
            raise DeliveryError(_kind(exc), f"{shown}: {_clean(exc, secret)}") from None
        except (ssl.SSLError, OSError) as exc:
            raise DeliveryError("network", f"{shown}: {_clean(exc, secret)}") from None
        lowered = {k.lower(): v for k, v in response.headers.items()}
        text = one_line(raw.decode("utf-8", "replace"), 300)
        return Answer(response.status_code, lowered, scrub(text, [secret]))

    async def aclose(self) -> None:
        await self._client.aclose()


def _kind(exc: httpx.HTTPError) -> str:
    if _is_tls(exc):
        return "tls"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connect_error"
    if isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError):
        return "connection_reset"
    return "network"


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _clean(exc: BaseException, secret: str) -> str:
    return scrub(one_line(f"{type(exc).__name__}: {exc}", 300), [secret])
