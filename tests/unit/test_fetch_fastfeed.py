"""The fast RSS/Atom reader gives exactly what the feedparser path gives, or declines."""

from __future__ import annotations

import re
import tracemalloc
from pathlib import Path

import pytest

from monitor.errors import ParseError
from monitor.fetch import fastfeed
from monitor.fetch.fastfeed import parse_simple
from monitor.fetch.feeds import ParsedFeed, parse_feed

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpora" / "feedparser"
URL = "http://corpus.example.org/feed/"
HEADER = re.compile(r"^Header:\s*([A-Za-z0-9-]+):\s*(.*?)\s*$", re.MULTILINE)
PLAIN = (
    b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
    b'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>T</title>'
    b"<item><title>A</title><link>http://x.example/a</link><guid>a</guid>"
    b"<dc:creator>Clara Voss</dc:creator><pubDate>Tue, 02 Dec 2025 08:15:00 GMT</pubDate>"
    b"<description>&lt;p&gt;Body.&lt;/p&gt;</description></item></channel></rss>"
)


def outcome(data: bytes, headers: dict[str, str], *, fast: bool) -> ParsedFeed | str:
    try:
        return parse_feed(data, headers, URL, fast=fast)
    except ParseError as exc:
        return f"error:{exc.kind}"


def test_every_accepted_corpus_file_matches_the_feedparser_path() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"feedparser corpus not found at {CORPUS}")
    files = sorted(CORPUS.rglob("*.xml")) + sorted((ROOT / "seeds" / "feeds").glob("*"))
    accepted = 0
    mismatched = []
    for path in files:
        data = path.read_bytes()
        headers = {m.group(1): m.group(2) for m in HEADER.finditer(data[:4096].decode("latin-1"))}
        if parse_simple(data, {k.lower(): v for k, v in headers.items()}) is None:
            continue
        accepted += 1
        if outcome(data, headers, fast=True) != outcome(data, headers, fast=False):
            mismatched.append(path.name)
    assert mismatched == []
    assert accepted > 500  # the fast path does take the ordinary feeds


def test_plain_feed_is_taken_and_read_like_feedparser() -> None:
    assert parse_simple(PLAIN, {"content-type": "application/rss+xml"}) is not None
    fast = parse_feed(PLAIN, {"Content-Type": "application/rss+xml"}, URL)
    slow = parse_feed(PLAIN, {"Content-Type": "application/rss+xml"}, URL, fast=False)
    assert fast == slow
    (article,) = fast.articles
    assert (article.guid, article.author, article.text) == ("a", "Clara Voss", "Body.")


@pytest.mark.parametrize(
    ("change", "headers"),
    [
        ((b"<rss", b'<!DOCTYPE rss [<!ENTITY x "y">]><rss'), {}),
        ((b"<channel>", b'<channel xml:base="http://x.example/">'), {}),
        ((b'encoding="UTF-8"', b'encoding="iso-8859-1"'), {}),
        ((b"Body.", b"don&#146;t"), {}),  # C1 reference: feedparser's cp1252 repair
        ((b"<title>A</title>", b"<title>A</title><media:x xmlns:media='urn:m'/>"), {}),
        ((b"<title>A</title>", b"<title>A</title><title>B</title>"), {}),
        ((b"<link>http://x.example/a</link>", b""), {"content-type": "text/plain"}),
        ((b"</rss>", b"</rss"), {}),  # not well-formed
    ],
)
def test_unusual_feeds_are_left_to_feedparser(
    change: tuple[bytes, bytes], headers: dict[str, str]
) -> None:
    assert parse_simple(PLAIN.replace(*change), headers) is None


def test_a_large_feed_is_read_an_entry_at_a_time() -> None:
    """A 38 MB feed of 30,000 items peaked at ~140 MB besides its body: the tree of every
    item was built before the first was read, then every raw entry was held beside the
    articles made of them. Each entry is read, then let go, as the body streams."""
    item = (
        b"<item><title>Item %d</title><link>http://x.example/%d</link><guid>g%d</guid>"
        b"<description>&lt;p&gt;"
        + b"Revenue rose 12%% in the quarter, the company said. " * 20
        + b"&lt;/p&gt;</description></item>"
    )
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        + b"".join(item % (n, n, n) for n in range(2000))
        + b"</channel></rss>"
    )
    tracemalloc.start()
    try:
        feed = parse_feed(body, {"content-type": "application/rss+xml"}, URL)
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(feed.articles) == 2000 and feed.articles[-1].guid == "g1999"
    assert peak < 1.8 * kept, (peak, kept)  # 2.4 to 3.1 times before


def test_where_the_body_is_cut_into_chunks_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    bodies = [PLAIN] + [p.read_bytes() for p in sorted((ROOT / "seeds" / "feeds").glob("*"))]
    headers = {"content-type": "application/rss+xml"}
    whole = [parse_simple(body, headers) for body in bodies]
    assert all(whole)
    monkeypatch.setattr(fastfeed, "CHUNK", 5)
    assert [parse_simple(body, headers) for body in bodies] == whole
