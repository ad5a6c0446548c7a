"""The SSRF guard: which URLs may be fetched and which addresses may be connected to.

Used by fetching and by the Slack and webhook senders (DESIGN.md section 2). Feed URLs
come from an operator's sources file, but redirects and listing pages come from the web:
a hostile feed can redirect to ``http://169.254.169.254/`` (cloud metadata) or to a name
that resolves to ``10.0.0.1``; a webhook URL in the environment can point inward too.
Two checks close this (RELIABILITY.md F7, F8, N11):

* every hop (the first URL and each redirect) passes :func:`check_url`: http/https only,
  no backslash or userinfo tricks, and a literal IP address must be public;
* every TCP connection goes through :class:`GuardedBackend`, which resolves the name
  itself, refuses the connection if *any* answer is non-public, and connects to the
  address it checked, so a DNS answer that changes between check and connect
  (rebinding) cannot slip through.

``allow_networks`` (HttpSettings) admits explicit networks, e.g. ``127.0.0.1/32`` for the
demo server and the tests.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import httpcore
import httpx

from monitor.errors import FetchError

Resolver = Callable[[str, int], Awaitable[list[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})

# Ranges that `is_global` does not already exclude but which we still refuse: CGNAT
# (RFC 6598) is not global, yet Python < 3.12 reports some of these inconsistently, so
# they are listed explicitly alongside the flag checks below.
_EXTRA_BLOCKED: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("100.64.0.0/10"),  # RFC 6598 shared address space (CGNAT)
    ipaddress.ip_network("192.0.0.0/24"),  # RFC 6890 IETF protocol assignments
    ipaddress.ip_network("198.18.0.0/15"),  # RFC 2544 benchmarking
    ipaddress.ip_network("64:ff9b:1::/48"),  # RFC 8215 local-use NAT64
)


class AddressPolicy:
    """Decides whether an IP address is a public, connectable destination."""

    def __init__(self, allow_networks: Iterable[str] = ()) -> None:
        self.allowed: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(n.strip(), strict=False) for n in allow_networks if n.strip()
        )

    def is_allowed(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
        except ValueError:
            return False
        if any(ip in net for net in self.allowed if net.version == ip.version):
            return True
        return is_public(ip) and not any(
            ip in net for net in self.allowed if net.version != ip.version
        )

    def check_address(self, address: str, *, url: str | None = None) -> None:
        if not self.is_allowed(address):
            raise FetchError(
                "blocked_address", f"refusing to connect to non-public address {address}", url=url
            )


def is_public(ip: IPAddress) -> bool:
    """True for a globally routable unicast address (no private, loopback, link-local, ...)."""
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:  # ::ffff:10.0.0.1 must be judged as 10.0.0.1
            return is_public(mapped)
    if (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_unspecified
        or ip.is_reserved
        or not ip.is_global
    ):
        return False
    return not any(ip in net for net in _EXTRA_BLOCKED if net.version == ip.version)


def check_url(url: str, policy: AddressPolicy) -> httpx.URL:
    """Validate one hop's URL before any request is made; return it parsed.

    Raises ``FetchError(kind="blocked_scheme")`` or ``FetchError(kind="blocked_address")``.
    """
    # WHATWG URL parsing treats "\" like "/" in http(s) URLs while RFC 3986 parsers treat it
    # as data, so "http://127.0.0.1:8888\@example.com/" means different hosts to different
    # parsers (RELIABILITY.md F8). A URL that needs a backslash is refused outright.
    if "\\" in url:
        raise FetchError("blocked_address", "backslash in URL (host confusion)", url=url)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise FetchError("blocked_address", "control character in URL", url=url)
    scheme = url.split(":", 1)[0].strip().lower() if ":" in url else ""
    if scheme not in ALLOWED_SCHEMES:
        raise FetchError("blocked_scheme", f"scheme {scheme or '(none)'!r} is not fetched", url=url)
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise FetchError("blocked_address", f"invalid URL: {exc}", url=url) from exc
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise FetchError("blocked_scheme", f"scheme {parsed.scheme!r} is not fetched", url=url)
    if parsed.port is not None and not 0 < parsed.port <= 65535:
        # httpx takes any number for a port, and the connection then failed deep in the
        # socket layer (an OverflowError out of a task group: an internal error)
        raise FetchError(
            "blocked_address", f"invalid URL: port {parsed.port} out of range 1-65535", url=url
        )
    if parsed.userinfo:
        # credentials in a feed URL are how "http://good@evil/" tricks start; feeds never need them
        raise FetchError("blocked_address", "userinfo in URL", url=url)
    try:
        host = parsed.host  # decoded from IDNA here: "xn--a" is no name (a UnicodeError)
    except UnicodeError as exc:
        raise FetchError("blocked_address", f"invalid host name: {exc}", url=url) from exc
    if not host:
        raise FetchError("blocked_address", "URL has no host", url=url)
    literal = _literal_ip(host)
    if literal is not None:
        policy.check_address(literal, url=url)
    elif _is_localhost(host) and not policy.is_allowed("127.0.0.1"):
        # RFC 6761: these names always mean loopback, whatever a resolver says
        raise FetchError("blocked_address", f"host {host} is loopback", url=url)
    return parsed


def names_an_address(host: str) -> bool:
    """Whether ``host`` is an IP address (in any form a resolver reads as one) or
    localhost: a host the address policy refuses or admits as such, whatever the rest of
    the URL (``monitor channels check`` says so in those words)."""
    return _literal_ip(host) is not None or _is_localhost(host)


def _is_localhost(host: str) -> bool:
    name = host.rstrip(".").lower()
    return name in ("localhost", "localhost.localdomain") or name.endswith(".localhost")


def _literal_ip(host: str) -> str | None:
    candidate = host.strip("[]")
    try:
        return str(ipaddress.ip_address(candidate.split("%", 1)[0]))
    except ValueError:
        pass
    # inet_aton forms like "2130706433", "0x7f.1" or "127.1" also reach 127.0.0.1
    if all(c in "0123456789abcdefxABCDEFX." for c in candidate) and any(
        c.isdigit() for c in candidate
    ):
        try:
            return socket.inet_ntoa(socket.inet_aton(candidate))
        except OSError:
            return None
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the operating system, returning every address (v4 and v6)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for info in infos:
        addr = str(info[4][0])
        if addr not in seen:
            seen.append(addr)
    return seen


async def resolve_checked(
    host: str, port: int, resolver: Resolver, policy: AddressPolicy, *, url: str | None = None
) -> list[str]:
    """Resolve ``host`` and refuse if any answer is non-public (a mixed answer is hostile)."""
    literal = _literal_ip(host)
    if literal is not None:
        policy.check_address(literal, url=url)
        return [literal]
    try:
        answers = await resolver(host, port)
    except (OSError, UnicodeError) as exc:
        raise FetchError("dns", f"cannot resolve {host}: {exc}", url=url) from exc
    if not answers:
        raise FetchError("dns", f"no address for {host}", url=url)
    for address in answers:
        policy.check_address(address, url=url)
    return answers


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that checks the address it actually connects to."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver | None = None) -> None:
        self._policy = policy
        self._resolver: Resolver = resolver or system_resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                answers = await resolve_checked(host, port, self._resolver, self._policy)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        last: Exception | None = None
        for address in _happy_order(answers):
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise FetchError("blocked_address", "unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _happy_order(answers: Sequence[str]) -> list[str]:
    # try IPv4 first: loopback test servers and most feed hosts listen there
    return sorted(answers, key=lambda a: ":" in a)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool built on :class:`GuardedBackend`."""

    def __init__(
        self,
        policy: AddressPolicy,
        resolver: Resolver | None = None,
        *,
        limits: httpx.Limits,
        verify: bool = True,
    ) -> None:
        super().__init__(limits=limits, trust_env=False, verify=verify)
        # httpx exposes no hook for the network backend, so the pool it built is replaced
        # by an identical one on the guarded backend; test_net_guard's connect-time test
        # fails loudly if a future httpx stops routing requests through ``_pool``.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy, resolver),
        )
