"""The one way monitor builds an httpx client for the network: guarded, bounded, no env.

Fetching and the Slack and webhook senders share it, so both connect only to addresses
the SSRF guard admits (RELIABILITY.md F7, N11), with every timeout set and no proxy or
netrc picked up from the environment.
"""

from __future__ import annotations

import httpx

from monitor.net.guard import AddressPolicy, GuardedTransport, Resolver
from monitor.settings import HttpSettings


def guarded_client(
    http: HttpSettings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
    connections: int | None = None,
    timeout: httpx.Timeout | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` whose every TCP connection passes the SSRF guard.

    ``transport`` replaces the network (tests); the guard then sees no connection, so
    callers check URLs with :func:`monitor.net.guard.check_url` themselves, as they do
    anyway. ``connections`` bounds the pool (default: ``http.concurrency``); ``timeout``
    defaults to the connect/read/total timeouts of ``http``. Redirects are never
    followed here: a caller that wants them checks each hop (``fetch/http.py``).
    """
    size = connections or http.concurrency
    limits = httpx.Limits(
        max_connections=size + 8, max_keepalive_connections=size, keepalive_expiry=30.0
    )
    policy = AddressPolicy(http.allow_networks)
    return httpx.AsyncClient(
        transport=transport or GuardedTransport(policy, resolver, limits=limits),
        timeout=timeout
        or httpx.Timeout(
            connect=http.connect_timeout,
            read=http.read_timeout,
            write=http.read_timeout,
            pool=http.total_timeout,
        ),
        # only what read_capped decodes: httpx would also offer br or zstd whenever their
        # packages happen to be installed, and such a body would then be refused
        headers={
            "User-Agent": http.user_agent,
            "Accept-Encoding": "gzip, deflate",
            **(headers or {}),
        },
        follow_redirects=False,
        trust_env=False,  # no proxies or netrc from the environment (nothing reads it)
    )
