"""The fetcher against a real local server that misbehaves on purpose (RELIABILITY.md F1-F11)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import time
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from monitor.errors import FetchError, ParseError
from monitor.fetch.client import Fetcher, PollResult, Validators
from monitor.fetch.source_file import Selectors, SourceSpec
from monitor.settings import HttpSettings
from tests.integration.badserver import BadServer, Request, _send, _static, article_page

T = TypeVar("T")
LOOPBACK = ["127.0.0.1/32"]


def http(**overrides: Any) -> HttpSettings:
    base: dict[str, Any] = {
        "allow_networks": LOOPBACK,
        "jitter": 0.0,
        "total_timeout": 2.0,
        "max_body_bytes": 1024 * 1024,
        "connect_timeout": 1.0,
        "read_timeout": 5.0,
    }
    base.update(overrides)
    return HttpSettings(**base)


def with_server(
    body: Callable[[BadServer, Fetcher], Awaitable[T]], settings: HttpSettings | None = None
) -> T:
    async def go() -> T:
        async with BadServer() as server, Fetcher(settings or http()) as fetcher:
            return await body(server, fetcher)

    return asyncio.run(go())


def source(server: BadServer, path: str, **kw: Any) -> SourceSpec:
    return SourceSpec(name=path.strip("/").replace("/", "-") or "root", url=server.url(path), **kw)


def poll_error(path: str, settings: HttpSettings | None = None, **kw: Any) -> FetchError:
    async def body(server: BadServer, fetcher: Fetcher) -> FetchError:
        with pytest.raises(FetchError) as info:
            await fetcher.poll(source(server, path, **kw), Validators())
        return info.value

    return with_server(body, settings)


def test_conditional_get_round_trip() -> None:
    async def body(server: BadServer, fetcher: Fetcher) -> tuple[PollResult, PollResult]:
        first = await fetcher.poll(source(server, "/feed.xml"), Validators())
        second = await fetcher.poll(source(server, "/feed.xml"), first.validators)
        sent = server.hits("/feed.xml")[-1].headers
        assert sent["if-none-match"] == '"v1"' and "if-modified-since" in sent
        assert sent["user-agent"].startswith("monitor/")
        return first, second

    first, second = with_server(body)
    assert len(first.articles) == 3 and first.validators.etag == '"v1"'
    assert first.articles[0].title == "item 0"  # the <img onerror> in the title is gone
    assert first.articles[0].url.endswith("/articles/item-0.html")
    assert second.not_modified and second.articles == () and second.validators == first.validators


def test_slow_trickle_is_cut_at_the_total_deadline() -> None:
    started = time.monotonic()
    error = poll_error("/trickle", http(total_timeout=1.5))
    elapsed = time.monotonic() - started
    assert error.kind == "timeout_total"
    assert elapsed < 4.0  # the read timeout (5 s) never fired: bytes kept coming


def test_one_slow_feed_does_not_hold_up_ten_normal_ones() -> None:
    async def body(server: BadServer, fetcher: Fetcher) -> list[object]:
        sources = [source(server, "/trickle")] + [
            SourceSpec(name=f"f{i}", url=server.url(f"/feed.xml?n={i}")) for i in range(10)
        ]
        started = time.monotonic()
        tasks = [asyncio.create_task(fetcher.poll(s, Validators())) for s in sources]
        done_normal = await asyncio.gather(*tasks[1:])
        normal_time = time.monotonic() - started
        slow = await asyncio.gather(tasks[0], return_exceptions=True)
        assert normal_time < 1.0, normal_time
        return [*done_normal, *slow]

    results = with_server(body, http(total_timeout=1.5, per_host=32))
    assert all(isinstance(r, PollResult) and len(r.articles) == 3 for r in results[:10])
    assert isinstance(results[10], FetchError) and results[10].kind == "timeout_total"


@pytest.mark.parametrize("path", ["/bomb", "/deflate-bomb"])
def test_compression_bomb_stops_at_the_cap_with_bounded_memory(path: str) -> None:
    cap = 1024 * 1024

    async def body(server: BadServer, fetcher: Fetcher) -> tuple[FetchError, int]:
        server.bomb_bytes = 200 * 1024 * 1024
        await fetcher.get(server.url("/feed.xml"))  # warm up the connection pool
        tracemalloc.start()
        try:
            with pytest.raises(FetchError) as info:
                await fetcher.poll(source(server, path), Validators())
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        return info.value, peak

    # the server builds the bomb before the measurement starts
    from tests.integration.badserver import _compressed_zeros

    _compressed_zeros(200 * 1024 * 1024, "gzip" if path == "/bomb" else "deflate")
    error, peak = with_server(body, http(max_body_bytes=cap))
    assert error.kind == "too_large"
    # 200 MiB of zeros never materialised: the pieces up to the cap, one step more, and
    # the connection's buffers (one decompress call making the whole cap held it twice)
    assert peak < 2 * cap, peak


def test_declared_oversize_body_is_refused_before_reading() -> None:
    assert poll_error("/big").kind == "too_large"


def test_identity_body_over_the_cap_without_content_length() -> None:
    async def endless(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nConnection: close\r\n\r\n")
        for _ in range(64):
            writer.write(b"<" * 65536)
            await writer.drain()
        return False

    async def body(server: BadServer, fetcher: Fetcher) -> FetchError:
        server.route("/endless", endless)
        with pytest.raises(FetchError) as info:
            await fetcher.poll(source(server, "/endless"), Validators())
        return info.value

    assert with_server(body).kind == "too_large"


def test_lying_content_length_long_is_clean_and_not_smuggled() -> None:
    async def body(server: BadServer, fetcher: Fetcher) -> tuple[Exception, PollResult]:
        with pytest.raises(ParseError) as info:
            await fetcher.poll(source(server, "/lying-long"), Validators())
        # the next request must get a real response, not the bytes that followed the lie
        after = await fetcher.poll(source(server, "/feed.xml"), Validators())
        return info.value, after

    error, after = with_server(body)
    assert isinstance(error, ParseError) and error.kind == "parse"
    assert len(after.articles) == 3


def test_lying_content_length_short_is_a_protocol_error() -> None:
    assert (
        poll_error("/lying-short", http(max_body_bytes=20 * 1024 * 1024)).kind == "protocol_error"
    )


def test_redirect_loop() -> None:
    assert poll_error("/loop").kind == "too_many_redirects"


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/metadata", "blocked_address"),
        ("/to-file", "blocked_scheme"),
        ("/to-ftp", "blocked_scheme"),
        # httpx parses these while building the next request: they escaped as InvalidURL
        ("/to-javascript", "blocked_scheme"),
        ("/to-javascript-shouted", "blocked_scheme"),
        ("/to-data", "blocked_scheme"),
        ("/to-bad-idna", "blocked_address"),  # a host name IDNA cannot decode: UnicodeError
        ("/to-backslash", "blocked_address"),
        # httpx takes any port: connecting raised an OverflowError in a task group
        ("/to-port-99999", "blocked_address"),
    ],
)
def test_redirects_to_forbidden_places(path: str, kind: str) -> None:
    assert poll_error(path).kind == kind


def test_loopback_is_blocked_without_the_allowlist() -> None:
    assert poll_error("/feed.xml", http(allow_networks=[])).kind == "blocked_address"


def test_connect_to_a_closed_port_is_a_connect_error() -> None:
    async def body(server: BadServer, fetcher: Fetcher) -> FetchError:
        import socket

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        with pytest.raises(FetchError) as info:
            await fetcher.poll(
                SourceSpec(name="closed", url=f"http://127.0.0.1:{port}/"), Validators()
            )
        return info.value

    assert with_server(body).kind == "connect_error"


def test_status_codes() -> None:
    error = poll_error("/429")
    assert (error.kind, error.status, error.retry_after) == ("http_status", 429, 120.0)
    error = poll_error("/503-date")
    assert (
        error.status == 503 and error.retry_after is not None and 3500 < error.retry_after <= 3600
    )
    assert poll_error("/500").status == 500
    assert "removing" in str(poll_error("/410"))
    assert poll_error("/challenge").kind == "challenge"


def test_bodies_that_are_not_feeds() -> None:
    assert poll_error("/empty").kind == "empty_body"
    assert poll_error("/html").kind == "not_a_feed"
    assert poll_error("/html", kind="rss").kind == "not_a_feed"
    # sniffed as no feed, a binary body was called an HTML page
    pdf = poll_error("/pdf")
    assert pdf.kind == "not_text" and "a PDF document, not a feed" in str(pdf)
    assert poll_error("/pdf", kind="rss").kind == "not_a_feed"


def test_304_without_stored_validators_is_still_success() -> None:
    async def body(server: BadServer, fetcher: Fetcher) -> PollResult:
        return await fetcher.poll(source(server, "/304"), Validators(etag='"x"'))

    result = with_server(body)
    assert result.not_modified and result.validators.etag == '"x"'


def test_truncated_xml_keeps_complete_items_and_is_partial() -> None:
    async def body(server: BadServer, fetcher: Fetcher) -> PollResult:
        return await fetcher.poll(source(server, "/truncated"), Validators())

    result = with_server(body)
    assert result.partial and 1 <= len(result.articles) < 5
    assert all(a.guid.startswith("item-") for a in result.articles)


def test_gzip_feed_ttl_and_max_age() -> None:
    async def body(server: BadServer, fetcher: Fetcher) -> list[PollResult]:
        return [
            await fetcher.poll(source(server, p), Validators())
            for p in ("/gzip-feed", "/feed-ttl.xml", "/maxage", "/expires0")
        ]

    gz, ttl, maxage, expires0 = with_server(body)
    assert len(gz.articles) == 4
    assert ttl.min_interval_s == 3600.0 and maxage.min_interval_s == 7200.0
    assert expires0.validators.etag is None and expires0.validators.content_hash


def test_html_listing_and_articles_over_the_wire() -> None:
    async def body(server: BadServer, fetcher: Fetcher) -> PollResult:
        spec = source(
            server,
            "/site/index.html",
            kind="html",
            selectors=Selectors(items="a.headline", body="article"),
        )
        return await fetcher.poll(spec, Validators())

    result = with_server(body)
    assert [a.url.rsplit("/", 1)[1] for a in result.articles] == ["one.html", "two.html"]
    one = result.articles[0]
    assert one.title == "Headline one" and one.ai_generated and one.agent_name == "Harrison Brooks"
    assert (
        one.text == "Alibaba is investing $53 billion over three years in AI.\n\n"
        "Alibaba Cloud holds 36% of China's cloud market."
    )
    assert "Newsletter" not in one.text and "comment" not in one.text.lower()


def test_binary_pages_served_as_html_are_refused_and_utf16_text_is_read() -> None:
    """A PDF, or binary data behind a UTF-16 byte-order mark, served as text/html was
    stored as an article of mojibake (its "words" indexed, facts extracted from it); a
    page really written in UTF-16 is read."""
    compressed = zlib.compress(bytes(range(256)) * 64)  # what a PDF's streams look like
    pages = {
        "item-0": b"\xff\xfe%PDF-1.7\n" + compressed,
        "item-1": b"%PDF-1.7\n1 0 obj << /Filter /FlateDecode >> stream\n" + compressed,
        "item-2": article_page("item-2").decode().encode("utf-16"),
    }

    async def body(server: BadServer, fetcher: Fetcher) -> PollResult:
        for slug, page in pages.items():
            server.route(f"/articles/{slug}.html", _static(page, "text/html"))
        return await fetcher.poll(source(server, "/feed.xml", fetch_full=True), Validators())

    result = with_server(body)
    texts = {a.guid: a.text for a in result.articles}
    # the two binary pages' items keep their feed summary
    assert texts["item-0"] == "Alibaba plans to invest $53 billion over three years (0)."
    assert texts["item-1"] == "Alibaba plans to invest $53 billion over three years (1)."
    assert texts["item-2"].startswith("Alibaba is investing $53 billion")
    refused = [w for w in result.warnings if "not_text" in w]
    assert len(refused) == 2, result.warnings
    assert "item-0.html" in refused[0] and "UTF-16 byte-order mark" in refused[0]
    assert "item-1.html" in refused[1] and "a PDF document, served as text/html" in refused[1]


def test_listing_that_lost_its_items_is_layout_changed() -> None:
    error = poll_error("/empty-listing", kind="html", selectors=Selectors(items="a.headline"))
    assert error.kind == "layout_changed"


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl command not available to make a self-signed certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return str(cert), str(key)


def test_self_signed_certificate_is_a_tls_error(self_signed: tuple[str, str]) -> None:
    cert, key = self_signed
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def go() -> FetchError:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
        port = server.sockets[0].getsockname()[1]
        try:
            async with Fetcher(http()) as fetcher:
                with pytest.raises(FetchError) as info:
                    await fetcher.poll(
                        SourceSpec(name="tls", url=f"https://127.0.0.1:{port}/"), Validators()
                    )
                return info.value
        finally:
            server.close()
            await server.wait_closed()

    error = asyncio.run(go())
    assert error.kind == "tls", error
    assert "CERTIFICATE_VERIFY_FAILED" in str(error)


_ = _send  # re-exported helper used by custom routes in other tests


def test_a_host_that_never_answers_the_handshake_is_a_connect_timeout() -> None:
    # a listening socket whose accept queue is full drops further SYNs: from the client
    # this is a blackhole address, but on loopback (RELIABILITY.md F5)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    address = listener.getsockname()
    fillers = []
    try:
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(address)
            fillers.append(filler)

        async def go() -> FetchError:
            settings = http(connect_timeout=0.5, total_timeout=5.0)
            async with Fetcher(settings) as fetcher:
                with pytest.raises(FetchError) as info:
                    url = f"http://127.0.0.1:{address[1]}/feed.xml"
                    await fetcher.poll(SourceSpec(name="blackhole", url=url), Validators())
                return info.value

        started = time.monotonic()
        error = asyncio.run(go())
        assert error.kind == "connect_timeout", error
        assert time.monotonic() - started < 4.0
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
