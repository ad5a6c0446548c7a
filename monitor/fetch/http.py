"""One HTTP GET done safely: the policy httpx does not provide by itself.

httpx has no body cap (a 199 KiB gzip bomb became 64 MiB), its read timeout never fires
on a server trickling a byte at a time, it follows redirects anywhere, and
``raise_for_status()`` raises on 304 (DESIGN.md section 7). So redirects are followed
by hand (each hop checked by the SSRF guard of ``monitor.net``), the whole request runs
under a total deadline, the raw body is decompressed with a cap enforced while streaming
(``monitor.net.body``), and every failure becomes a ``FetchError`` with a kind.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin

import httpx

from monitor.errors import FetchError
from monitor.net.body import read_capped
from monitor.net.guard import AddressPolicy, Resolver, check_url, resolve_checked
from monitor.settings import HttpSettings

REDIRECTS = frozenset({301, 302, 303, 307, 308})
ACCEPT_FEED = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.7, */*;q=0.5"
)
ACCEPT_PAGE = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"


@dataclass(frozen=True, slots=True)
class Fetched:
    """A final (non-redirect) response with its decompressed body."""

    url: str  # after redirects
    status: int
    headers: Mapping[str, str]  # lower-cased names
    body: bytes


class HostGates:
    """The global limit plus a per-host limit, with jitter between requests to one host."""

    def __init__(self, http: HttpSettings, rng: random.Random | None = None) -> None:
        self._global = asyncio.Semaphore(http.concurrency)
        self._per_host = http.per_host
        self._jitter = http.jitter
        self._rng = rng or random.Random()
        self._hosts: dict[str, tuple[asyncio.Semaphore, list[float], list[int]]] = {}

    async def run(self, host: str, call: Callable[[], Awaitable[Fetched]]) -> Fetched:
        gate = self._hosts.get(host)
        if gate is None:
            gate = (asyncio.Semaphore(self._per_host), [float("-inf")], [0])
            self._hosts[host] = gate
        sem, last_start, users = gate
        users[0] += 1
        try:
            # host slot first, and the jitter before the global slot: neither waiting for a
            # busy host nor a politeness pause may hold one of the global slots
            async with sem:
                loop = asyncio.get_running_loop()
                if self._jitter and loop.time() - last_start[0] < self._jitter:
                    # back-to-back requests to one host are spread out (politeness)
                    await asyncio.sleep(self._rng.uniform(0, self._jitter))
                last_start[0] = loop.time()
                async with self._global:
                    return await call()
        finally:
            users[0] -= 1
            idle = asyncio.get_running_loop().time() - last_start[0] > self._jitter
            if users[0] == 0 and idle and self._hosts.get(host) is gate:
                # forget idle hosts so months of article links do not grow the table
                del self._hosts[host]


class SafeGetter:
    """GET with manual redirects, a total deadline, a body cap, and typed failures."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        http: HttpSettings,
        policy: AddressPolicy,
        resolver: Resolver,
        *,
        check_dns_per_hop: bool,
        rng: random.Random | None = None,
    ) -> None:
        self._client = client
        self._http = http
        self._policy = policy
        self._resolver = resolver
        self._check_dns = check_dns_per_hop
        self._gates = HostGates(http, rng)

    async def get(self, url: str, headers: Mapping[str, str]) -> Fetched:
        current = url
        deadline: list[float] = []
        for _hop in range(self._http.max_redirects + 1):
            parsed = check_url(current, self._policy)
            if self._check_dns:
                # with an injected transport nothing connects through the guarded
                # backend, so the DNS answers are checked here on every hop instead
                port = parsed.port or (443 if parsed.scheme == "https" else 80)
                await resolve_checked(parsed.host, port, self._resolver, self._policy, url=current)
            hop_url = current

            async def one(hop_url: str = hop_url, parsed: httpx.URL = parsed) -> Fetched:
                loop = asyncio.get_running_loop()
                if not deadline:
                    # the total deadline starts with the first byte sent, not while
                    # queued behind other sources for a concurrency slot
                    deadline.append(loop.time() + self._http.total_timeout)
                try:
                    async with asyncio.timeout_at(deadline[0]):
                        return await self._one(hop_url, parsed, headers)
                except TimeoutError as exc:
                    raise FetchError(
                        "timeout_total",
                        f"no complete response within {self._http.total_timeout:g}s",
                        url=hop_url,
                    ) from exc

            response = await self._gates.run(parsed.host, one)
            if response.status in REDIRECTS and "location" in response.headers:
                current = urljoin(hop_url, response.headers["location"].strip())
                continue
            return response
        raise FetchError(
            "too_many_redirects",
            f"more than {self._http.max_redirects} redirects",
            url=url,
        )

    async def _one(self, url: str, parsed: httpx.URL, headers: Mapping[str, str]) -> Fetched:
        try:
            # the URL object the guard parsed is reused: parsing it again costs as much
            request = self._client.build_request("GET", parsed, headers=dict(headers))
        except UnicodeError as exc:
            # httpx sends header values as ASCII: a value that is not is refused here, and
            # is no redirect's fault (the caller keeps such values out: header_safe)
            raise FetchError(
                "bad_request_header", f"a request header that cannot be sent: {exc}"[:300], url=url
            ) from exc
        try:
            response = await self._client.send(request, stream=True, follow_redirects=False)
            try:
                lowered = {k.lower(): v for k, v in response.headers.items()}
                if response.status_code in REDIRECTS or response.status_code == 304:
                    body = b""
                else:
                    body = await read_capped(response, self._http.max_body_bytes, url)
                return Fetched(url=url, status=response.status_code, headers=lowered, body=body)
            finally:
                await response.aclose()
        except FetchError:
            raise
        except httpx.InvalidURL as exc:
            # httpx builds the next request of a redirect even when not following it: a
            # Location such as javascript: or data: fails there (not an HTTPError)
            raise FetchError(
                "blocked_scheme", f"a redirect to a URL that is not http(s): {exc}"[:300], url=url
            ) from exc
        except UnicodeError as exc:  # ... and a host name IDNA cannot decode, there too
            raise FetchError(
                "blocked_address", f"a redirect to an invalid host name: {exc}"[:300], url=url
            ) from exc
        except httpx.HTTPError as exc:
            raise classify(exc, url) from exc
        except ssl.SSLError as exc:
            raise FetchError("tls", f"TLS failure: {exc}", url=url) from exc
        except OSError as exc:
            raise FetchError("connect_error", f"{type(exc).__name__}: {exc}", url=url) from exc


def classify(exc: httpx.HTTPError, url: str) -> FetchError:
    """An httpx exception as a FetchError kind."""
    text = f"{type(exc).__name__}: {exc}"[:300]
    if _is_tls(exc):
        return FetchError("tls", f"TLS failure: {text}", url=url)
    if isinstance(exc, httpx.ConnectTimeout):
        return FetchError("connect_timeout", text, url=url)
    if isinstance(exc, httpx.ReadTimeout):
        return FetchError("read_timeout", text, url=url)
    if isinstance(exc, httpx.TimeoutException):
        return FetchError("timeout", text, url=url)
    if isinstance(exc, httpx.ConnectError):
        return FetchError("connect_error", text, url=url)
    if isinstance(exc, httpx.RemoteProtocolError | httpx.LocalProtocolError):
        # e.g. a body shorter than its Content-Length, or a malformed status line
        return FetchError("protocol_error", text, url=url)
    if isinstance(exc, httpx.UnsupportedProtocol):
        return FetchError("blocked_scheme", text, url=url)
    if isinstance(exc, httpx.InvalidURL):
        return FetchError("blocked_address", text, url=url)
    return FetchError("network", text, url=url)


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def header_safe(value: str | None) -> str | None:
    """``value`` when it can be sent back as a request header, else None.

    httpx encodes header values as ASCII, and h11 refuses control characters: a server's
    ETag or Last-Modified with a byte outside printable ASCII (UTF-8, Latin-1) cannot be
    sent back as If-None-Match / If-Modified-Since, and kept it failed every later poll.
    """
    if value is None or not value.isascii() or not value.isprintable():
        return None
    return value


def cache_lifetime(headers: Mapping[str, str]) -> float | None:
    """Cache-Control max-age (or s-maxage) in seconds, used as a floor on the interval."""
    control = headers.get("cache-control", "")
    best: float | None = None
    for directive in control.split(","):
        name, _, value = directive.strip().partition("=")
        if name.strip().lower() in ("max-age", "s-maxage"):
            try:
                seconds = float(int(value.strip().strip('"')))
            except ValueError:
                continue
            if seconds > 0:
                best = max(best or 0.0, seconds)
    return best


def validators_unreliable(headers: Mapping[str, str]) -> bool:
    """True when the response says it is stale at once (``Expires: 0``) or ``no-store``.

    Servers that send these often keep answering 304 to a stale ETag; such validators are
    not kept, and the content hash alone decides whether the body changed (F9).
    (``no-cache`` asks for revalidation, which is what validators are for: kept.)
    """
    control = headers.get("cache-control", "").lower()
    if "no-store" in control:
        return True
    expires = headers.get("expires")
    if expires is None:
        return False
    try:
        when = email.utils.parsedate_to_datetime(expires)
    except (TypeError, ValueError, IndexError):
        return True  # RFC 9111 5.3: an invalid Expires (such as "0") means already expired
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when <= datetime.now(UTC) and "max-age" not in control
