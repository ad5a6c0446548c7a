"""Fetcher.poll and fetch_article against respx / httpx.MockTransport (no sockets)."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
import subprocess
import sys
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from monitor.errors import FetchError, ParseError
from monitor.fetch.client import Fetcher, PollResult, Validators
from monitor.fetch.source_file import Selectors, SourceSpec
from monitor.settings import HttpSettings
from tests.conftest import ROOT

PUBLIC = "93.184.216.34"
FEED_URL = "http://feeds.example.com/markets.rss"
RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>M</title><link>http://feeds.example.com/</link>'
    b"<ttl>60</ttl><item><title>One</title><link>/a/1</link><guid>g1</guid>"
    b"<description>Body one.</description></item>"
    b"<item><title>Two</title><link>/a/2</link><guid>g2</guid>"
    b"<description>Body two.</description></item>"
    b"</channel></rss>"
)
NO_VALIDATORS = Validators()
PAGE = b"""<html><head><title>Full {n}</title></head><body><article><h1>Full {n}</h1>
<p>The full article {n} says Alibaba will spend $53 billion.</p></article></body></html>"""


async def resolve(host: str, port: int) -> list[str]:
    return {"internal.example": ["10.0.0.8"]}.get(host, [PUBLIC])


def settings(**overrides: Any) -> HttpSettings:
    return HttpSettings(jitter=0, max_body_bytes=64 * 1024, **overrides)


def run_poll(
    router: respx.MockRouter,
    source: SourceSpec,
    validators: Validators = NO_VALIDATORS,
    http: HttpSettings | None = None,
    **kw: Any,
) -> PollResult:
    async def go() -> PollResult:
        async with Fetcher(
            http or settings(),
            transport=httpx.MockTransport(router.async_handler),
            resolver=resolve,
        ) as fetcher:
            return await fetcher.poll(source, validators, **kw)

    return asyncio.run(go())


def feed_source(url: str = FEED_URL, **kw: Any) -> SourceSpec:
    return SourceSpec(name="markets", url=url, kind=kw.pop("kind", "rss"), **kw)


def test_first_poll_returns_articles_validators_and_ttl() -> None:
    router = respx.MockRouter()
    route = router.get(FEED_URL).mock(
        return_value=httpx.Response(
            200,
            content=RSS,
            headers={"ETag": '"v1"', "Last-Modified": "Wed, 31 Dec 2025 10:00:00 GMT"},
        )
    )
    result = run_poll(router, feed_source())
    assert not result.not_modified and [a.guid for a in result.articles] == ["g1", "g2"]
    assert result.articles[0].url == "http://feeds.example.com/a/1"
    assert result.validators == Validators(
        etag='"v1"',
        last_modified="Wed, 31 Dec 2025 10:00:00 GMT",
        content_hash="sha256:" + hashlib.sha256(RSS).hexdigest(),
    )
    assert result.min_interval_s == 3600.0
    sent = route.calls.last.request.headers
    assert sent["user-agent"].startswith("monitor/")
    assert "if-none-match" not in sent


def test_validators_are_sent_and_304_is_success_keeping_them() -> None:
    router = respx.MockRouter()
    route = router.get(FEED_URL).mock(return_value=httpx.Response(304))
    old = Validators(
        etag='"v1"', last_modified="Wed, 31 Dec 2025 10:00:00 GMT", content_hash="sha256:x"
    )
    result = run_poll(router, feed_source(), old)
    assert result.not_modified and result.articles == () and result.validators == old
    sent = route.calls.last.request.headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == "Wed, 31 Dec 2025 10:00:00 GMT"


def test_validators_that_cannot_be_sent_back_are_not_kept_nor_sent() -> None:
    """One byte outside ASCII in an ETag or Last-Modified was kept, and every later poll
    failed building its request ("blocked_address: a redirect to an invalid host name"):
    such a validator is not kept, one stored before is not sent, and the poll goes ahead
    unconditionally."""
    router = respx.MockRouter()
    route = router.get(FEED_URL).mock(
        return_value=httpx.Response(
            200,
            content=RSS,
            headers=[(b"ETag", b'"v\xe2\x82\xac1"'), (b"Last-Modified", b"Mon, 01 D\xe9c 2025")],
        )
    )
    result = run_poll(router, feed_source())
    assert result.validators == Validators(content_hash="sha256:" + hashlib.sha256(RSS).hexdigest())
    stored = Validators(etag='"v\u20ac1"', last_modified="Mon, 01 D\xe9c 2025\r\n")
    result = run_poll(router, feed_source(), stored)
    assert [a.guid for a in result.articles] == ["g1", "g2"]
    sent = route.calls.last.request.headers
    assert "if-none-match" not in sent and "if-modified-since" not in sent
    assert result.validators.etag is None and result.validators.last_modified is None
    # a sendable validator beside an unsendable one is still sent
    run_poll(router, feed_source(), replace(stored, last_modified="Mon, 01 Dec 2025"))
    sent = route.calls.last.request.headers
    assert "if-none-match" not in sent and sent["if-modified-since"] == "Mon, 01 Dec 2025"


def test_a_request_header_that_cannot_be_sent_is_not_called_a_bad_redirect() -> None:
    router = respx.MockRouter(assert_all_called=False)
    router.get(FEED_URL).mock(return_value=httpx.Response(200, content=RSS))

    async def go() -> None:
        async with Fetcher(
            settings(), transport=httpx.MockTransport(router.async_handler), resolver=resolve
        ) as fetcher:
            await fetcher.get(FEED_URL, {"If-None-Match": '"v\u20ac1"'})

    with pytest.raises(FetchError) as info:
        asyncio.run(go())
    assert info.value.kind == "bad_request_header" and "redirect" not in str(info.value)


def test_a_304_to_a_request_without_validators_is_an_error() -> None:
    """A server answering 304 when nothing was asked conditionally was taken for "the
    feed is unchanged" at every poll: the source never gave anything and was never
    failing."""
    router = respx.MockRouter()
    router.get(FEED_URL).mock(return_value=httpx.Response(304))
    with pytest.raises(FetchError) as info:
        run_poll(router, feed_source(), Validators())
    assert info.value.kind == "unexpected_not_modified"


def test_unchanged_body_is_not_parsed_again() -> None:
    # a server with stale validators sends 200 with the same bytes; the body here is not
    # even a feed, so a parse would raise: the hash short-circuits it
    body = b"<html>same as before</html>"
    router = respx.MockRouter()
    router.get(FEED_URL).mock(return_value=httpx.Response(200, content=body))
    old = Validators(content_hash="sha256:" + hashlib.sha256(body).hexdigest())
    result = run_poll(router, feed_source(), old)
    assert result.not_modified and result.articles == ()


def test_expires_zero_drops_validators_but_keeps_the_hash() -> None:
    router = respx.MockRouter()
    router.get(FEED_URL).mock(
        return_value=httpx.Response(200, content=RSS, headers={"ETag": '"v9"', "Expires": "0"})
    )
    result = run_poll(router, feed_source())
    assert result.validators.etag is None and result.validators.content_hash


def test_cache_control_max_age_is_a_floor_on_the_interval() -> None:
    router = respx.MockRouter()
    router.get(FEED_URL).mock(
        return_value=httpx.Response(
            200, content=RSS, headers={"Cache-Control": "public, max-age=7200"}
        )
    )
    assert run_poll(router, feed_source()).min_interval_s == 7200.0


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        (429, {"Retry-After": "120"}, 120.0),
        (503, {"Retry-After": "30"}, 30.0),
        (500, {}, None),
        (404, {}, None),
        (410, {}, None),
    ],
)
def test_http_errors_are_typed(
    status: int, headers: dict[str, str], retry_after: float | None
) -> None:
    router = respx.MockRouter()
    router.get(FEED_URL).mock(return_value=httpx.Response(status, content=b"x", headers=headers))
    with pytest.raises(FetchError) as info:
        run_poll(router, feed_source())
    assert info.value.kind == "http_status" and info.value.status == status
    assert info.value.retry_after == retry_after
    assert ("consider removing" in str(info.value)) == (status == 410)


def test_retry_after_as_http_date() -> None:
    router = respx.MockRouter()
    router.get(FEED_URL).mock(
        return_value=httpx.Response(429, headers={"Retry-After": "Fri, 01 Jan 2100 00:00:00 GMT"})
    )
    with pytest.raises(FetchError) as info:
        run_poll(router, feed_source())
    assert info.value.retry_after is not None and info.value.retry_after > 86400 * 365


def test_bot_challenge_is_its_own_kind() -> None:
    router = respx.MockRouter()
    router.get(FEED_URL).mock(
        return_value=httpx.Response(
            403, content=b"<title>Just a moment...</title>", headers={"cf-mitigated": "challenge"}
        )
    )
    with pytest.raises(FetchError) as info:
        run_poll(router, feed_source())
    assert info.value.kind == "challenge"


def test_html_page_for_a_feed_is_not_a_feed_and_empty_200_is_empty_body() -> None:
    router = respx.MockRouter()
    router.get(FEED_URL).mock(
        return_value=httpx.Response(200, content=b"<!doctype html><html><body>Sorry</body></html>")
    )
    with pytest.raises(ParseError) as info:
        run_poll(router, feed_source())
    assert info.value.kind == "not_a_feed"
    router = respx.MockRouter()
    router.get(FEED_URL).mock(return_value=httpx.Response(200, content=b""))
    with pytest.raises(ParseError) as info:
        run_poll(router, feed_source())
    assert info.value.kind == "empty_body"


def test_redirects_are_followed_by_hand_with_each_hop_checked() -> None:
    router = respx.MockRouter()
    router.get(FEED_URL).mock(return_value=httpx.Response(301, headers={"Location": "/moved.rss"}))
    router.get("http://feeds.example.com/moved.rss").mock(
        return_value=httpx.Response(200, content=RSS)
    )
    assert len(run_poll(router, feed_source()).articles) == 2

    for target, kind in [
        ("http://169.254.169.254/latest/meta-data/", "blocked_address"),
        ("http://internal.example/admin", "blocked_address"),  # DNS answer is private
        ("file:///etc/passwd", "blocked_scheme"),
        ("gopher://feeds.example.com/", "blocked_scheme"),
        ("http://127.0.0.1:8888\\@example.com/", "blocked_address"),
    ]:
        router = respx.MockRouter(assert_all_called=False)
        router.get(FEED_URL).mock(return_value=httpx.Response(302, headers={"Location": target}))
        with pytest.raises(FetchError) as info:
            run_poll(router, feed_source())
        assert info.value.kind == kind, target


def test_redirect_loop_stops_at_five() -> None:
    router = respx.MockRouter()
    route = router.get(FEED_URL).mock(
        return_value=httpx.Response(302, headers={"Location": FEED_URL})
    )
    with pytest.raises(FetchError) as info:
        run_poll(router, feed_source())
    assert info.value.kind == "too_many_redirects"
    assert route.call_count == 6  # the request and five redirects


def test_gzip_body_is_decoded_and_a_bomb_stops_at_the_cap() -> None:
    router = respx.MockRouter()
    router.get(FEED_URL).mock(
        return_value=httpx.Response(
            200, content=gzip.compress(RSS), headers={"Content-Encoding": "gzip"}
        )
    )
    assert len(run_poll(router, feed_source()).articles) == 2
    bomb = gzip.compress(bytes(8 * 1024 * 1024))
    router = respx.MockRouter()
    router.get(FEED_URL).mock(
        return_value=httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip"})
    )
    with pytest.raises(FetchError) as info:
        run_poll(router, feed_source())
    assert info.value.kind == "too_large"


def test_unknown_content_encoding_is_refused() -> None:
    router = respx.MockRouter()
    router.get(FEED_URL).mock(
        return_value=httpx.Response(200, content=b"xx", headers={"Content-Encoding": "br"})
    )
    with pytest.raises(FetchError) as info:
        run_poll(router, feed_source())
    assert info.value.kind == "bad_encoding"


def page_router(listing: bytes | None = None, page: bytes = PAGE) -> respx.MockRouter:
    router = respx.MockRouter(assert_all_called=False)
    for n in (1, 2, 3):
        router.get(f"http://feeds.example.com/a/{n}").mock(
            return_value=httpx.Response(200, content=page.replace(b"{n}", str(n).encode()))
        )
    if listing is not None:
        router.get("http://feeds.example.com/news").mock(
            return_value=httpx.Response(200, content=listing)
        )
    return router


def listing_source(kind: str = "html", **kw: Any) -> SourceSpec:
    """The listing page of page_router's site, its links and article bodies selected."""
    return SourceSpec(
        name="site",
        url="http://feeds.example.com/news",
        kind=kind,
        selectors=Selectors(items="a.h", body="article"),
        **kw,
    )


LISTING = b"""<html><body><ul><li><a class="h" href="/a/1?utm_source=x">One</a></li>
<li><a class="h" href="/a/2">Two</a></li>
<li><a class="h" href="/a/3#c">Three</a></li></ul></body></html>"""


def test_html_listing_fetches_only_unseen_articles() -> None:
    router = page_router(LISTING)
    source = listing_source()
    result = run_poll(router, source, seen={"http://feeds.example.com/a/2"})
    assert [a.guid for a in result.articles] == [
        "http://feeds.example.com/a/1",
        "http://feeds.example.com/a/3",
    ]
    assert result.articles[0].text == "The full article 1 says Alibaba will spend $53 billion."
    assert result.articles[0].title == "Full 1"
    assert not router.routes[1].called  # /a/2 was seen


def test_pages_fetched_are_said_at_the_address_they_were_fetched_at() -> None:
    """An article's url is its page's canonical link, which may name another site:
    `sources check` fetched its sample page there, and checked another site's layout."""
    page = PAGE.replace(
        b"<head>", b'<head><link rel="canonical" href="https://elsewhere.test/{n}">'
    )
    listing = listing_source(fetch_full=True)
    feed = feed_source(fetch_full=True)
    router = page_router(LISTING, page)
    router.get(FEED_URL).mock(return_value=httpx.Response(200, content=RSS))
    for source, fetched in ((listing, ("1", "3")), (feed, ("1",))):
        result = run_poll(router, source, seen={"g2", "http://feeds.example.com/a/2"})
        assert result.pages == tuple(f"http://feeds.example.com/a/{n}" for n in fetched)
        assert {a.url for a in result.articles if not a.summary_only} == {
            f"https://elsewhere.test/{n}" for n in fetched
        }
    assert run_poll(router, feed_source()).pages == ()  # no page fetched


def test_listing_with_no_items_is_layout_changed() -> None:
    router = page_router(b"<html><body><p>We redesigned!</p></body></html>")
    source = SourceSpec(
        name="site",
        url="http://feeds.example.com/news",
        kind="html",
        selectors=Selectors(items="a.h"),
    )
    with pytest.raises(ParseError) as info:
        run_poll(router, source)
    assert info.value.kind == "layout_changed"


def test_one_failing_article_is_a_warning_all_failing_is_an_error() -> None:
    router = page_router(LISTING)
    router.routes[0].mock(return_value=httpx.Response(500))
    source = SourceSpec(
        name="site",
        url="http://feeds.example.com/news",
        kind="auto",
        selectors=Selectors(items="a.h"),
    )
    old = Validators(etag='"old"')
    result = run_poll(router, source, old)
    assert len(result.articles) == 2 and result.partial and "HTTP 500" in result.warnings[0]
    assert result.validators == old  # the listing is read again next time: /a/1 is retried

    router = respx.MockRouter(assert_all_called=False)
    router.get("http://feeds.example.com/news").mock(
        return_value=httpx.Response(200, content=LISTING)
    )
    router.route().mock(return_value=httpx.Response(404))
    with pytest.raises(FetchError) as info:
        run_poll(router, source)
    assert info.value.status == 404


def test_fetch_full_replaces_summaries_of_new_items_only() -> None:
    router = page_router()
    router.get(FEED_URL).mock(return_value=httpx.Response(200, content=RSS))
    result = run_poll(router, feed_source(fetch_full=True), seen={"g2"})
    one, two = result.articles
    assert one.guid == "g1" and one.title == "One" and not one.summary_only
    assert one.text == "The full article 1 says Alibaba will spend $53 billion."
    assert two.text == "Body two." and two.summary_only
    assert not router.routes[1].called


def test_fetch_full_retries_a_page_that_failed_at_the_next_poll() -> None:
    """A page that failed once (503) was never fetched again: its summary was stored,
    so it was in `seen`, and the feed's new validators made the next poll a 304. Its
    item now waits for its page, and the old validators make the next poll read the
    feed again; a page that will not come (404) still keeps its summary."""
    router = page_router()
    router.get(FEED_URL).mock(
        return_value=httpx.Response(200, content=_dated(RSS, hours=1), headers={"ETag": '"v2"'})
    )
    page_one = router.routes[0]
    page_one.side_effect = [
        httpx.Response(503),
        httpx.Response(200, content=PAGE.replace(b"{n}", b"1")),
    ]
    old = Validators(etag='"v1"', content_hash="sha256:old")
    first = run_poll(router, feed_source(fetch_full=True), old)
    assert [a.guid for a in first.articles] == ["g2"] and not first.articles[0].summary_only
    assert first.validators == old and first.partial
    assert "retried next poll" in first.warnings[-1]

    second = run_poll(router, feed_source(fetch_full=True), old, seen={"g2"})
    assert page_one.call_count == 2 and router.routes[1].call_count == 1
    assert [(a.guid, a.summary_only) for a in second.articles] == [("g1", False), ("g2", True)]
    assert second.validators.etag == '"v2"' and not second.partial

    page_one.side_effect = None
    page_one.mock(return_value=httpx.Response(404))
    gone = run_poll(router, feed_source(fetch_full=True), old, seen={"g2"})
    assert [(a.guid, a.summary_only) for a in gone.articles] == [("g1", True), ("g2", True)]
    assert gone.validators.etag == '"v2"' and "kept the summary" in gone.warnings[-1]

    # a page that fails for good (a 500 at every poll) held its item out for ever: past
    # FULL_RETRY from its publication, or with no date, the summary is kept
    page_one.mock(return_value=httpx.Response(500))
    for body in (_dated(RSS, hours=7), RSS):
        router.get(FEED_URL).mock(return_value=httpx.Response(200, content=body))
        late = run_poll(router, feed_source(fetch_full=True), old, seen={"g2"})
        assert [(a.guid, a.summary_only) for a in late.articles] == [("g1", True), ("g2", True)]
        assert "kept the summary" in late.warnings[-1]


def _dated(rss: bytes, *, hours: float) -> bytes:
    """``rss`` with its first item published ``hours`` ago."""
    at = datetime.now(UTC) - timedelta(hours=hours)
    stamp = at.strftime("%a, %d %b %Y %H:%M:%S GMT").encode()
    return rss.replace(b"<guid>g1</guid>", b"<guid>g1</guid><pubDate>" + stamp + b"</pubDate>", 1)


def test_auto_kind_sniffs_feeds() -> None:
    router = respx.MockRouter()
    router.get(FEED_URL).mock(return_value=httpx.Response(200, content=RSS))
    assert len(run_poll(router, feed_source(kind="auto")).articles) == 2


def test_auto_kind_reads_an_xhtml_listing_as_a_listing() -> None:
    xhtml = (
        b'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML'
        b' 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
        b'<html xmlns="http://www.w3.org/1999/xhtml">' + LISTING.removeprefix(b"<html>")
    )
    router = page_router(xhtml)
    source = listing_source("auto")
    result = run_poll(router, source)
    assert [a.guid for a in result.articles] == [
        f"http://feeds.example.com/a/{n}" for n in (1, 2, 3)
    ]


def test_concurrency_limits_global_and_per_host() -> None:
    in_flight: dict[str, int] = {}
    peak: dict[str, int] = {}
    total = [0, 0]

    async def handler(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        in_flight[host] = in_flight.get(host, 0) + 1
        total[0] += 1
        peak[host] = max(peak.get(host, 0), in_flight[host])
        total[1] = max(total[1], total[0])
        await asyncio.sleep(0.01)
        in_flight[host] -= 1
        total[0] -= 1
        return httpx.Response(200, content=RSS)

    sources = [feed_source(f"http://h{i % 4}.example.com/feed{i}.rss") for i in range(24)]

    async def go() -> list[PollResult]:
        http = HttpSettings(jitter=0.001, concurrency=3, per_host=2)
        async with Fetcher(
            http, transport=httpx.MockTransport(handler), resolver=resolve
        ) as fetcher:
            return await asyncio.gather(*(fetcher.poll(s, Validators()) for s in sources))

    results = asyncio.run(go())
    assert all(len(r.articles) == 2 for r in results)
    assert max(peak.values()) <= 2 and total[1] <= 3
    assert total[1] >= 2  # it did run requests in parallel


def test_fetch_article_direct() -> None:
    router = page_router()

    async def go() -> Any:
        async with Fetcher(
            settings(), transport=httpx.MockTransport(router.async_handler), resolver=resolve
        ) as f:
            return await f.fetch_article("http://feeds.example.com/a/3", None)

    article = asyncio.run(go())
    assert article.url == "http://feeds.example.com/a/3" and article.title == "Full 3"


Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


def test_read_capped_refuses_a_truncated_gzip_stream() -> None:
    from monitor.net.body import read_capped

    class Chunks(httpx.AsyncByteStream):
        def __init__(self, data: bytes) -> None:
            self.data = data

        async def __aiter__(self):  # type: ignore[no-untyped-def]
            for i in range(0, len(self.data), 7):
                yield self.data[i : i + 7]

    whole = gzip.compress(RSS)

    async def read(data: bytes) -> bytes:
        response = httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=Chunks(data))
        return await read_capped(response, 1 << 20, FEED_URL)

    assert asyncio.run(read(whole)) == RSS  # streamed in 7-byte pieces, decoded whole
    with pytest.raises(FetchError) as info:
        asyncio.run(read(whole[: len(whole) // 2]))
    assert info.value.kind == "bad_encoding"


class _Chunked(httpx.AsyncByteStream):
    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        for piece in self.pieces:
            yield piece


def _read_in(pieces: list[bytes], encoding: str, cap: int) -> bytes:
    from monitor.net.body import read_capped

    async def read() -> bytes:
        headers = {"Content-Encoding": encoding}
        response = httpx.Response(200, headers=headers, stream=_Chunked(pieces))
        return await read_capped(response, cap, FEED_URL)

    return asyncio.run(read())


_MEMBERS = """
import asyncio, gzip, sys
import httpx
from monitor.errors import FetchError
from monitor.net.body import read_capped

class Chunked(httpx.AsyncByteStream):
    def __init__(self, data): self.data = data
    async def __aiter__(self): yield self.data

def read(data, cap):
    response = httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=Chunked(data))
    try:
        return asyncio.run(read_capped(response, cap, "http://x.test/")) == EXPECTED[data]
    except FetchError as exc:
        return exc.kind

first, second = bytes(70_000), b"<rss/>"
body = gzip.compress(first) + gzip.compress(second)
padded = gzip.compress(first) + b"\\r\\n"
EXPECTED = {body: first + second, padded: first}
print(read(body, 1 << 20), read(padded, 1 << 20), read(body, len(first)))
"""


def test_concatenated_gzip_members_after_a_long_one_decode_as_one_body() -> None:
    """A member whose output filled a decompress call (over 64 KiB) followed by another:
    the input past its end was fed again to the finished member for ever, freezing the
    event loop (no await in the loop, so no deadline could fire) while its memory grew.
    Trailing padding after the last member is ignored. In a process of its own, ended
    after 30 s: a loop for ever must fail the test, not hang the suite."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", _MEMBERS], env=env, capture_output=True, text=True, timeout=30
    )
    assert out.stdout.split() == ["True", "True", "too_large"], out.stderr


def test_padding_after_a_gzip_body_is_bounded() -> None:
    """Padding after the last member was fed to the finished member, which kept all of it
    (and was copied whole at every chunk): a server could stream zeros after a valid body
    for ever, unbounded in memory and uncounted by the cap."""
    from monitor.net.body import PADDING_MAX

    body = gzip.compress(RSS)
    assert _read_in([body, *[b"\0" * 1000] * 10], "gzip", 1 << 20) == RSS
    assert _read_in([body, b"\r\n", gzip.compress(b"<x/>")], "gzip", 1 << 20) == RSS + b"<x/>"
    zeros = b"\0" * 16384
    with pytest.raises(FetchError) as info:
        _read_in([body, *[zeros] * (PADDING_MAX // len(zeros) + 1)], "gzip", 1 << 30)
    assert info.value.kind == "bad_encoding" and "padding" in str(info.value)
    with pytest.raises(FetchError):  # not padding, not a member: corrupt, as before
        _read_in([body, b"garbage"], "gzip", 1 << 20)
    # padding spread between empty members is counted over the whole body ...
    empty = gzip.compress(b"")
    spread = [body, *[zeros + empty] * (PADDING_MAX // len(zeros) + 1)]
    with pytest.raises(FetchError) as info:
        _read_in(spread, "gzip", 1 << 30)
    assert "padding" in str(info.value)
    # ... and empty members alone, which the cap never counts, stop past what any body
    # of the cap could be compressed to
    with pytest.raises(FetchError) as info:
        _read_in([body, *[empty * 1000] * 100], "gzip", 1 << 16)
    assert info.value.kind == "bad_encoding" and "compressed bytes" in str(info.value)


def test_a_compressed_body_larger_than_its_text_is_read_and_an_oversize_one_too_large() -> None:
    """Bounding the compressed input must refuse no body of the cap (one gzip member per
    record is larger than its text) and must not turn an oversize body, arriving in one
    chunk, into bad_encoding."""
    records = [f"<item>{n}</item>".encode() for n in range(5000)]
    text = b"".join(records)
    members = b"".join(gzip.compress(r) for r in records)
    assert len(members) > len(text)
    assert _read_in([members], "gzip", len(text)) == text
    noise = os.urandom(200_000)  # does not compress: its gzip is larger than the cap
    with pytest.raises(FetchError) as info:
        _read_in([gzip.compress(noise)], "gzip", 64 * 1024)
    assert info.value.kind == "too_large"


def test_raw_deflate_is_read_even_when_its_first_piece_is_one_byte() -> None:
    """A server sending raw deflate for "deflate": zlib took a first piece of one byte
    without complaint and failed on the next, and the retry as raw deflate lost that
    byte (bad_encoding)."""
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    raw = packer.compress(RSS) + packer.flush()
    assert _read_in([raw[:1], raw[1:]], "deflate", 1 << 20) == RSS
    assert _read_in([raw], "deflate", 1 << 20) == RSS
    assert _read_in([zlib.compress(RSS)], "deflate", 1 << 20) == RSS  # zlib-wrapped


def test_only_the_encodings_read_capped_decodes_are_offered(tmp_path: Path) -> None:
    """httpx offers br (or zstd) as soon as a brotli (or zstandard) package can be
    imported, and read_capped refuses such bodies as bad_encoding: with one installed by
    some other dependency, every feed served compressed so would fail. Asked of a fresh
    interpreter in which a `brotli` module can be imported."""
    (tmp_path / "brotli.py").write_text("def decompress(data): return data\n", encoding="utf-8")
    script = (
        "from monitor.net.client import guarded_client\n"
        "from monitor.settings import HttpSettings\n"
        "import httpx._decoders as d\n"
        "print('br' in d.SUPPORTED_DECODERS)\n"
        "print(guarded_client(HttpSettings()).headers['accept-encoding'])\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[:2] == ["True", "gzip, deflate"], out


def test_a_poll_fetches_at_most_its_share_of_pages_and_leaves_the_rest_for_the_next() -> None:
    """A listing's new links were all fetched at once and held until the last came: 30
    pages of 4 MB held 284 MB, and hundreds of slow links made one poll hours long."""
    from monitor.fetch.client import PAGES_PER_POLL

    n = PAGES_PER_POLL + 7
    links = "".join(f'<li><a class="h" href="/p/{i}">Story {i}</a></li>' for i in range(n))
    router = respx.MockRouter(assert_all_called=False)
    router.get("http://feeds.example.com/news").mock(
        return_value=httpx.Response(
            200, content=f"<html><body><ul>{links}</ul></body></html>".encode(),
            headers={"ETag": '"new"'},
        )
    )  # fmt: skip
    router.get(url__regex=r"http://feeds\.example\.com/p/\d+").mock(
        side_effect=lambda request: httpx.Response(
            200, content=PAGE.replace(b"{n}", request.url.path.rsplit("/", 1)[1].encode())
        )
    )
    source = listing_source()
    old = Validators(etag='"old"')
    first = run_poll(router, source, old)
    assert len(first.articles) == PAGES_PER_POLL and not first.partial
    assert first.validators == old  # the listing is read again: the rest are fetched then
    assert "7 more new page(s)" in first.warnings[0]
    second = run_poll(router, source, old, seen={a.guid for a in first.articles})
    assert len(second.articles) == 7 and second.warnings == ()
    assert second.validators.etag == '"new"'
    # a fetch_full feed's new items alike: the rest are left out, for the next poll
    items = "".join(
        f"<item><title>S{i}</title><link>/p/{i}</link><guid>g{i}</guid>"
        f"<description>Summary {i}.</description></item>"
        for i in range(n)
    )
    router.get(FEED_URL).mock(
        return_value=httpx.Response(
            200, content=f'<rss version="2.0"><channel><title>M</title>{items}</channel></rss>'
            .encode(), headers={"ETag": '"new"'},
        )
    )  # fmt: skip
    full = run_poll(router, feed_source(fetch_full=True), old)
    assert len(full.articles) == PAGES_PER_POLL and full.validators == old
    assert not any(a.summary_only for a in full.articles)
    rest = run_poll(router, feed_source(fetch_full=True), old, seen={a.guid for a in full.articles})
    assert [a.guid for a in rest.articles if a.guid not in {b.guid for b in full.articles}] == [
        f"g{i}" for i in range(PAGES_PER_POLL, n)
    ]
    assert rest.validators.etag == '"new"'
