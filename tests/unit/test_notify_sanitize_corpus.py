"""Feedparser's 745 sanitizer test feeds, unsanitised, through every digest format
(RELIABILITY.md D1, D2, D4): no active markup, no handler, no script link, no ping."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import feedparser
import pytest

from monitor.notify.digest import build_digest
from monitor.notify.news import (
    AlertNews,
    Claim,
    CompanyNews,
    Conflict,
    DigestNews,
    Evidence,
    FigureChange,
    StoryNews,
)
from monitor.notify.render_html import render_html
from monitor.notify.render_json import render_json
from monitor.notify.render_slack import render_slack
from monitor.notify.render_text import render_text
from tests.conftest import SHARED

CORPUS = SHARED / "corpora" / "feedparser" / "wellformed" / "sanitize"
NOW = datetime(2026, 2, 25, tzinfo=UTC)
FORBIDDEN_TAGS = ("<script", "<iframe", "<object", "<embed", "<meta", "<link", "<style")
# every element the email template itself writes; anything else came from a feed
OUR_TAGS = {"html", "head", "title", "body", "h1", "h2", "h3", "p", "br", "ul", "li", "div"}
OUR_TAGS |= {"span", "strong", "blockquote", "a"}


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))

    handle_startendtag = handle_starttag


def entries_of(path: Path) -> list[dict[str, Any]]:
    """Title, quote and link of each entry (or of the feed), exactly as feedparser gives
    them without its sanitiser: the worst the web can send."""
    parsed = feedparser.parse(str(path), sanitize_html=False, resolve_relative_uris=False)
    feed = parsed.get("feed", {})
    items = list(parsed.get("entries", [])) or [feed]
    out = []
    for entry in items:
        texts = [entry.get("summary"), *(c.get("value") for c in entry.get("content", []))]
        texts += [feed.get("subtitle"), feed.get("rights"), entry.get("title")]
        links = [entry.get("link"), *(ln.get("href") for ln in entry.get("links", []))]
        out.append(
            {
                "title": entry.get("title") or feed.get("title") or path.name,
                "quote": " ".join(t for t in texts if t) or path.name,
                "link": next((ln for ln in links if ln), None),
                "source": feed.get("title") or "feed",
            }
        )
    return out


def digest_of(path: Path) -> DigestNews:
    stories = []
    for i, e in enumerate(entries_of(path)):
        ev = Evidence(e["source"], NOW, quote=e["quote"], url=e["link"])
        other = Evidence(e["title"], NOW, quote=e["title"], url=e["link"])
        stories.append(
            StoryNews(
                story_id=i,
                title=e["title"],
                url=e["link"],
                sources=2,
                ai_generated=1,
                updated_at=NOW,
                new_articles=1,
                changes=(FigureChange(e["title"], e["quote"][:200], ev, e["title"]),),
                conflicts=(Conflict(e["title"], (Claim(e["quote"][:80], ev), Claim("x", other))),),
                alerts=(AlertNews(e["title"], "high", "r", NOW, (ev, other)),),
            )
        )
    return DigestNews(
        title=path.name, generated_at=NOW, companies=(CompanyNews(path.stem, tuple(stories)),)
    )


def check_html(html: str, name: str) -> None:
    lower = html.lower()
    for tag in FORBIDDEN_TAGS:
        assert tag not in lower, (name, tag)
    parser = Elements()
    parser.feed(html)
    for tag, attrs in parser.found:
        assert tag in OUR_TAGS, (name, tag)
        for attr, value in attrs:
            assert not attr.startswith("on"), (name, tag, attr)
            if attr in ("href", "src"):
                target = re.sub(r"[\x00-\x20]", "", value or "").lower()
                assert target.startswith(("http://", "https://")), (name, value)


def check_slack(messages: list[dict[str, Any]], name: str) -> None:
    for m in messages:
        texts = [m["text"]]
        for block in m["blocks"]:
            texts += [block["text"]["text"]] if "text" in block else []
            texts += [e["text"] for e in block.get("elements", [])]
        for text in texts:
            # the only "<" Slack sees opens one of our own http(s) links
            assert not re.search(r"<(?!https?://)", text), (name, text[:300])
            assert "<!" not in text and "<@" not in text and "<#" not in text, name


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"{CORPUS} is absent (../shared not laid out)")
def test_every_sanitizer_feed_renders_inert_in_every_format() -> None:
    files = sorted(CORPUS.glob("*.xml"))
    assert len(files) == 745
    hostile_seen = 0
    for path in files:
        view = build_digest(digest_of(path))
        html = render_html(view)
        check_html(html, path.name)
        check_slack(render_slack(view), path.name)
        text = render_text(view)
        assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f]", text), path.name
        json.dumps(render_json(view))
        hostile_seen += "&lt;script" in html.lower() or "&lt;iframe" in html.lower()
    # the corpus does reach the renderers with its markup intact (escaped, as text)
    assert hostile_seen > 20
