"""The SSRF guard: schemes, literal addresses, DNS answers, and connect-time checks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx
import pytest

from monitor.errors import FetchError
from monitor.net.guard import (
    AddressPolicy,
    GuardedBackend,
    GuardedTransport,
    check_url,
    resolve_checked,
)

STRICT = AddressPolicy()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",  # CGNAT, RFC 6598
        "http://0.0.0.0/",
        "http://224.0.0.1/",  # multicast
        "http://[::ffff:10.0.0.1]/",  # IPv4-mapped IPv6
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://2130706433/",  # 127.0.0.1 as one decimal number
        "http://0x7f.1/",  # inet_aton hex form
        "http://127.1/",
        "http://localhost:8080/feed",
        "http://feeds.localhost/",
    ],
)
def test_non_public_literal_addresses_are_blocked(url: str) -> None:
    with pytest.raises(FetchError) as info:
        check_url(url, STRICT)
    assert info.value.kind == "blocked_address"


def test_the_backslash_url_trick_is_blocked() -> None:
    # WHATWG parsers read host 127.0.0.1, RFC 3986 parsers read example.com
    with pytest.raises(FetchError) as info:
        check_url("http://127.0.0.1:8888\\@example.com/", STRICT)
    assert info.value.kind == "blocked_address"


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/x",
        "gopher://example.com/",
        "javascript:alert(1)",
        "data:text/html,hi",
        "//example.com/feed",
    ],
)
def test_only_http_and_https_are_fetched(url: str) -> None:
    with pytest.raises(FetchError) as info:
        check_url(url, STRICT)
    assert info.value.kind == "blocked_scheme"


def test_userinfo_is_refused() -> None:
    with pytest.raises(FetchError) as info:
        check_url("http://good.example@evil.example/", STRICT)
    assert info.value.kind == "blocked_address"


def test_a_host_name_idna_cannot_decode_is_refused() -> None:
    """httpx decodes "xn--" labels when the host is read: an invalid one raised a bare
    UnicodeError out of the guard (an internal error for the source)."""
    with pytest.raises(FetchError) as info:
        check_url("http://xn--a/feed", STRICT)
    assert info.value.kind == "blocked_address" and "invalid host name" in str(info.value)


@pytest.mark.parametrize("port", [0, 65536, 99999, 10**20])
def test_a_port_out_of_range_is_refused(port: int) -> None:
    """httpx parses any number as a port; connecting to one past 65535 raised an
    OverflowError out of the connection's task group (an internal error)."""
    with pytest.raises(FetchError) as info:
        check_url(f"http://news.example.com:{port}/feed", STRICT)
    assert info.value.kind == "blocked_address" and "out of range" in str(info.value)
    assert check_url("http://news.example.com:65535/feed", STRICT).port == 65535


def test_public_addresses_and_names_pass() -> None:
    assert check_url("https://93.184.216.34/feed", STRICT).host == "93.184.216.34"
    assert check_url("https://news.example.com/rss?x=1", STRICT).host == "news.example.com"


def test_allow_networks_admits_exactly_what_it_names() -> None:
    policy = AddressPolicy(["127.0.0.1/32"])
    check_url("http://127.0.0.1:8765/feed", policy)
    check_url("http://localhost:8765/feed", policy)
    for url in ("http://127.0.0.2/", "http://10.0.0.1/", "http://169.254.169.254/"):
        with pytest.raises(FetchError):
            check_url(url, policy)


def _resolver(table: dict[str, list[str]], calls: list[str] | None = None):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        return table[host]

    return resolve


def test_a_name_resolving_to_a_private_address_is_blocked() -> None:
    resolver = _resolver({"intranet.example": ["10.1.2.3"]})
    with pytest.raises(FetchError) as info:
        asyncio.run(resolve_checked("intranet.example", 80, resolver, STRICT))
    assert info.value.kind == "blocked_address"


def test_a_mixed_dns_answer_is_blocked() -> None:
    resolver = _resolver({"mixed.example": ["93.184.216.34", "127.0.0.1"]})
    with pytest.raises(FetchError) as info:
        asyncio.run(resolve_checked("mixed.example", 80, resolver, STRICT))
    assert info.value.kind == "blocked_address"


def test_dns_failure_is_its_own_kind() -> None:
    async def failing(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(FetchError) as info:
        asyncio.run(resolve_checked("nx.example", 80, failing, STRICT))
    assert info.value.kind == "dns"


def test_connect_time_check_refuses_before_any_socket_opens() -> None:
    calls: list[str] = []
    backend = GuardedBackend(STRICT, _resolver({"rebind.example": ["10.0.0.7"]}, calls))

    async def connect() -> None:
        await backend.connect_tcp("rebind.example", 80, timeout=1.0)

    with pytest.raises(FetchError) as info:
        asyncio.run(connect())
    assert info.value.kind == "blocked_address"
    assert calls == ["rebind.example"]


def test_guarded_transport_routes_connections_through_the_guard() -> None:
    # if httpx stopped using the replaced pool, this request would try a real connection
    # to 10.0.0.9 and fail with a connect error instead of blocked_address
    calls: list[str] = []
    transport = GuardedTransport(
        STRICT, _resolver({"private.example": ["10.0.0.9"]}, calls), limits=httpx.Limits()
    )

    async def get() -> None:
        async with httpx.AsyncClient(transport=transport) as client:
            await client.get("http://private.example/feed")

    with pytest.raises(FetchError) as info:
        asyncio.run(get())
    assert info.value.kind == "blocked_address"
    assert calls == ["private.example"]


def test_dns_rebinding_cannot_swap_the_address_after_the_check() -> None:
    # the first answer is allowed, the second is private; the backend connects to the
    # address it checked, resolving once per connection, so the swap never takes effect
    answers = [["127.0.0.1"], ["10.0.0.1"]]
    connected: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        return answers.pop(0)

    class Recorder(httpcore.AsyncNetworkBackend):
        async def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Iterable[Any] | None = None,
        ) -> httpcore.AsyncNetworkStream:
            connected.append(host)
            raise httpcore.ConnectError("recorded")

    backend = GuardedBackend(AddressPolicy(["127.0.0.1/32"]), rebinding)
    backend._inner = Recorder()  # type: ignore[assignment]

    async def twice() -> list[str]:
        kinds = []
        for _ in range(2):
            try:
                await backend.connect_tcp("rebind.example", 80, timeout=1.0)
            except httpcore.ConnectError:
                kinds.append("connect_error")
            except FetchError as exc:
                kinds.append(exc.kind)
        return kinds

    assert asyncio.run(twice()) == ["connect_error", "blocked_address"]
    assert connected == ["127.0.0.1"]
