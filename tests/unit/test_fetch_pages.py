"""HTML pages: encodings, canonical URLs, listings, article extraction."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.errors import ParseError
from monitor.fetch.pages import (
    canonical_url,
    decode_html,
    extract_article,
    extract_listing,
    parse_date,
    parse_html,
)
from monitor.fetch.source_file import Selectors


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (
            "HTTP://News.Example.COM:80/a?utm_source=x&utm_medium=y&id=3#comments",
            "http://news.example.com/a?id=3",
        ),
        ("https://news.example.com:443", "https://news.example.com/"),
        ("https://news.example.com:8443/a?fbclid=1&gclid=2", "https://news.example.com:8443/a"),
        ("https://news.example.com/a?b=2&a=1", "https://news.example.com/a?b=2&a=1"),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


def test_encoding_from_header_bom_and_meta() -> None:
    text = "Café – “quoted”"
    assert (
        decode_html(text.encode("cp1252"), {"Content-Type": "text/html; charset=windows-1252"})
        == text
    )
    assert decode_html(b"\xef\xbb\xbf" + text.encode(), {}) == text
    assert (
        decode_html(text.encode("utf-16"), {"content-type": "text/html; charset=latin-1"}) == text
    )
    late_meta = b"<html><head><script>" + b" " * 3000 + b'</script><meta charset="windows-1252">'
    assert decode_html(late_meta + text.encode("cp1252"), {}).endswith(text)
    # declared utf-8 but written in latin-1: still readable, never an exception
    assert (
        decode_html("Café".encode("latin-1"), {"content-type": "text/html; charset=utf-8"})
        == "Café"
    )
    # iso-8859-1 is read as windows-1252, as browsers do (smart quotes survive)
    assert (
        decode_html("“x”".encode("cp1252"), {"content-type": "text/html; charset=iso-8859-1"})
        == "“x”"
    )


LISTING = b"""<html><head><base href="https://site.example/news/"></head><body>
<div class="list"><div class="card"><a href="one.html?utm_campaign=z">One</a></div>
<div class="card"><h2><a href="/news/two.html#top">Two</a></h2></div>
<div class="card"><a href="javascript:void(0)">Bad</a></div>
<div class="card"><a href="https://site.example/news/one.html">Dup</a></div>
<div class="card">no link</div></div></body></html>"""


def test_listing_links_resolved_canonical_and_unique() -> None:
    items = extract_listing(LISTING, {}, "https://site.example/", Selectors(items="div.card"))
    assert [i.url for i in items] == [
        "https://site.example/news/one.html",
        "https://site.example/news/two.html",
    ]
    assert [i.title for i in items] == ["One", "Two"]


TEASERS = b"""<html><head><title>Markets</title></head><body>
<div class="teaser"><a href="#" class="bookmark">save</a> <a href="/story/1">Capex</a></div>
<div class="teaser"><a href="javascript:void(0)">share</a> <a href="/story/2">Cloud</a></div>
<div class="teaser"><a href="">x</a><a href=" #top">top</a>
  <a href="/markets?utm_source=m#c">all</a></div>
<div class="teaser"><a href="/markets">Markets</a> <a href="/story/3">Results</a></div>
<a class="teaser" href="#">more</a></body></html>"""


def test_a_listing_item_gives_its_first_link_to_another_page() -> None:
    """The first link of an item was taken whatever it was: a "#" bookmark button made
    the listing page itself an article, and the story behind it was lost, as it was
    behind a javascript: share button."""
    items = extract_listing(TEASERS, {}, "https://site.example/markets", Selectors(items=".teaser"))
    assert [(i.url, i.title) for i in items] == [
        ("https://site.example/story/1", "Capex"),
        ("https://site.example/story/2", "Cloud"),
        ("https://site.example/story/3", "Results"),
    ]


def test_a_listing_that_yields_nothing_is_layout_changed() -> None:
    with pytest.raises(ParseError) as info:
        extract_listing(LISTING, {}, "https://site.example/", Selectors(items="li.story a"))
    assert info.value.kind == "layout_changed"


ARTICLE = b"""<!doctype html><html lang="en-US"><head><meta charset="utf-8">
<title>Site | Fallback</title><meta property="og:title" content="Alibaba bets $53B on AI">
<link rel="canonical" href="/2025/12/alibaba.html?utm_source=tw">
<meta name="author" content="Desk">
<meta property="article:published_time" content="2025-12-06T08:30:00+08:00">
</head><body><nav>Menu</nav><div class="share-bar">Share</div>
<main><article><h1>Alibaba bets $53B on AI</h1><p>Alibaba will invest $53 billion.</p>
<div class="related-stories"><p>Other story</p></div><p>Cloud share is 36%.</p></article></main>
<footer>About us</footer></body></html>"""


def test_article_fields_and_canonical_link() -> None:
    article = extract_article(ARTICLE, {}, "https://site.example/a?id=1", None)
    assert article.url == "https://site.example/2025/12/alibaba.html"
    assert article.guid == article.url
    assert article.title == "Alibaba bets $53B on AI"
    assert article.text == "Alibaba will invest $53 billion.\n\nCloud share is 36%."
    assert article.author == "Desk"
    assert article.published_at == datetime(2025, 12, 6, 0, 30, tzinfo=UTC)
    assert article.language == "en-us"


def test_article_selectors_win_and_a_missing_body_is_layout_changed() -> None:
    sel = Selectors(title="h1", body="article", author="nav")
    article = extract_article(ARTICLE, {}, "https://site.example/a", sel)
    assert article.author == "Menu" and article.title == "Alibaba bets $53B on AI"
    with pytest.raises(ParseError) as info:
        extract_article(ARTICLE, {}, "https://site.example/a", Selectors(body="div.story-body"))
    assert info.value.kind == "layout_changed"


def test_ai_byline_outside_the_body_is_recorded() -> None:
    page = ARTICLE.replace(
        b"<main>",
        b'<div class="byline">Generated by AI Agent<a>Clara Wu</a>Reviewed by<a>Desk</a></div>'
        b"<main>",
    )
    article = extract_article(page, {}, "https://site.example/a", None)
    assert article.ai_generated and article.agent_name == "Clara Wu"


def test_page_without_text_is_empty_body() -> None:
    with pytest.raises(ParseError) as info:
        extract_article(
            b"<html><body><nav>menu</nav></body></html>", {}, "https://s.example/", None
        )
    assert info.value.kind == "empty_body"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Wed, 31 Dec 2025 10:00:00 GMT", datetime(2025, 12, 31, 10, tzinfo=UTC)),
        ("2025-12-06T08:30:00+08:00", datetime(2025, 12, 6, 0, 30, tzinfo=UTC)),
        ("2025-12-06", datetime(2025, 12, 6, tzinfo=UTC)),
        ("Dec.06 2025", datetime(2025, 12, 6, tzinfo=UTC)),
        ("not a date", None),
        ("", None),
    ],
)
def test_parse_date(raw: str, expected: datetime | None) -> None:
    assert parse_date(raw) == expected


def test_html_nested_past_reason_is_refused_before_the_parser_takes_minutes() -> None:
    """Lexbor's time grows with the square of the nesting of block containers: a 1 MB
    file of nested divs held `monitor ingest` in C, deaf to SIGTERM, for minutes. Such a
    page is refused at once; a feed fragment like it gives its words unparsed; a page of
    many containers side by side is parsed as before."""
    from monitor.fetch.markup import MAX_NESTING, clean_html

    deep = b"<html><body>" + b"<div>" * 200_000 + b"Alibaba</body></html>"
    with pytest.raises(ParseError, match="nested 200,000 elements deep"):
        parse_html(deep, {})
    assert clean_html("<div>" * 50_000 + "Alibaba capex").text == "Alibaba capex"
    wide = "<html><body>" + "<div><p>row</p></div>" * (MAX_NESTING * 2) + "</body></html>"
    assert len(parse_html(wide.encode(), {}).css("div")) == MAX_NESTING * 2
    closed = "<div>" * MAX_NESTING + "x" + "</div>" * MAX_NESTING
    assert parse_html(closed.encode(), {}).css_first("div") is not None
    # nothing nests here: headings close each other, and comments and scripts hold no
    # elements ("<\/div>" is text)
    n = MAX_NESTING + 10
    for flat in (
        "<h4>Speaker<p>said" * n,
        "<script>document.write('<div>' + x + '<\\/div>')</script>" * n,
        "<!-- <div class=ad> -->" * n,
    ):
        assert parse_html(f"<html><body>{flat}</body></html>".encode(), {}) is not None
    fragment = "<div>" * n + "<script>var t=1;</script><!-- x -->Acme &amp; Co rose 5%"
    assert clean_html(fragment).text == "Acme & Co rose 5%"


def test_a_canonical_to_the_home_page_is_not_taken_for_an_inner_page() -> None:
    """A template that gives every page the home page as its canonical made every article
    of a listing one url, stored once. An inner page keeps its own address then; a real
    canonical, and the home page's own, are kept."""
    page = (
        '<html><head><link rel="canonical" href="{href}"><title>T</title></head>'
        "<body><h1>T</h1><p>Some text of the article.</p></body></html>"
    )
    inner = "https://site.test/news/42"
    home = extract_article(page.format(href="/").encode(), {}, inner, None)
    assert home.url == inner
    real = extract_article(page.format(href="/news/42-title").encode(), {}, inner, None)
    assert real.url == "https://site.test/news/42-title"
    own = extract_article(page.format(href="/").encode(), {}, "https://site.test/", None)
    assert own.url == "https://site.test/"
