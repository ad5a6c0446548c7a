"""A fast reader for plain, well-formed RSS 2.0 and Atom 1.0, with feedparser as fallback.

feedparser costs about 0.8 ms per item (its SAX handlers are pure Python); a 2,000-feed
cycle of 20 items each spends most of its CPU there (tests/bench/bench_fetch.py). Most
real feeds are plain: well-formed XML, UTF-8, no DTD, no xml:base, no XHTML content. For
those, ElementTree (C expat) builds the same entry fields in about a tenth of the time.

Anything unusual returns None and feedparser reads the body as before, so this path only
has to be right for the simple case. ``test_fetch_fastfeed`` checks that both paths give
the same articles for every corpus file the fast path accepts.

The result mimics the parts of feedparser's result that :mod:`monitor.fetch.feeds` reads
(plain dicts, read with ``dict.get``): ``version``, ``feed`` and ``entries``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from typing import Any, cast

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
DC = "{http://purl.org/dc/elements/1.1/}"
_RSS_VERSIONS = {"2.0": "rss20", "0.91": "rss091u", "0.92": "rss092", "2.0.1": "rss20"}
# features feedparser handles and this reader does not: their presence means fallback
_UNUSUAL = re.compile(
    rb"<!DOCTYPE|<!ENTITY|xml:base|type\s*=\s*[\"']xhtml|<\?xml-stylesheet|"
    rb"[\"']application/xhtml\+xml",
    re.IGNORECASE,
)
# C1 controls (as UTF-8 or as references): feedparser reads them as windows-1252 smart
# quotes and repairs double-encoded UTF-8; that is its job
_C1 = re.compile(rb"\xc2[\x80-\x9f]|&#(?:1[2-5][0-9]|x[89][0-9a-fA-F]);")
_PROLOG = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9_.\-]+)", re.IGNORECASE)
_RSS_ITEM_FIELDS = frozenset(
    {
        "title",
        "link",
        "guid",
        "description",
        "pubDate",
        "author",
        "category",
        "comments",
        "enclosure",
        "source",
        CONTENT_ENCODED,
        f"{DC}creator",
        f"{DC}date",
        f"{DC}subject",
    }
)
_ATOM_ENTRY_FIELDS = frozenset(
    {
        f"{ATOM}{n}"
        for n in (
            "id",
            "title",
            "link",
            "updated",
            "published",
            "summary",
            "content",
            "author",
            "category",
            "contributor",
            "rights",
        )
    }
)


def parse_simple(body: bytes, headers: Mapping[str, str]) -> dict[str, Any] | None:
    """A feedparser-shaped result for a plain RSS 2.0 / Atom 1.0 body, else None."""
    if _UNUSUAL.search(body[:65536]) or b"xml:base" in body or _C1.search(body):
        return None
    prolog = _PROLOG.match(body)
    if prolog and prolog.group(1).lower() not in (b"utf-8", b"utf8", b"us-ascii", b"ascii"):
        return None
    content_type = headers.get("content-type", "")
    charset = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_.\-]+)", content_type, re.I)
    if charset and charset.group(1).lower() not in ("utf-8", "utf8", "us-ascii"):
        return None
    if headers and not re.search(r"xml|rss|atom", content_type, re.I):
        return None  # feedparser warns of a missing or non-XML type (NonXMLContentType)
    try:
        return _Stream(body).read()
    except (ET.ParseError, ValueError, _NotSimple):
        return None


# Bytes handed to expat at a time. The whole body at once had it buffer a copy, and the
# tree of every item was built before the first was read: a 38 MB feed of 30,000 items
# peaked at ~140 MB besides its body. Now each entry is read, then dropped from the
# tree, as the document streams.
CHUNK = 64 * 1024


class _Stream:
    """One body read as a stream of elements: each entry (an RSS item of the first
    channel, an Atom entry of the feed) is made a dict when it ends and then removed from
    the tree; the rest of the tree (the feed's own fields) is kept whole."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
        self.open: list[ET.Element] = []  # the root, then each element inside the last
        self.root: ET.Element | None = None
        self.rss = False  # else Atom
        self.channel: ET.Element | None = None  # RSS: the root's first <channel>
        self.entries: list[dict[str, Any]] = []

    def read(self) -> dict[str, Any] | None:
        for start in range(0, len(self.body), CHUNK):
            self.parser.feed(self.body[start : start + CHUNK])
            if not self._take_events():
                return None
        self.parser.close()
        if not self._take_events() or self.root is None:
            return None
        if self.rss:
            return _rss(self.root, self.channel, self.entries)
        return _atom(self.root, self.entries)

    def _take_events(self) -> bool:
        """False as soon as the body is no simple feed."""
        # only start and end events were asked for: each comes with its element
        events = cast("Iterator[tuple[str, ET.Element]]", self.parser.read_events())
        for event, element in events:
            if event == "start":
                if self.root is None and not self._root(element):
                    return False
                first_channel = self.channel is None and element.tag == "channel"
                if self.rss and len(self.open) == 1 and first_channel:
                    self.channel = element
                self.open.append(element)
                continue
            self.open.pop()
            if self.open and self._is_entry(element):
                entry = _rss_item(element) if self.rss else _atom_entry(element)
                if entry is None:
                    return False
                self.entries.append(entry)
                self.open[-1].remove(element)
        return True

    def _root(self, element: ET.Element) -> bool:
        self.root = element
        self.rss = element.tag == "rss"
        if self.rss:
            # RSS with xml:lang: feedparser's language inheritance rules
            return b"xml:lang" not in self.body and element.get("version", "") in _RSS_VERSIONS
        return element.tag == f"{ATOM}feed"

    def _is_entry(self, element: ET.Element) -> bool:
        if self.rss:
            return element.tag == "item" and self.open[-1] is self.channel
        return element.tag == f"{ATOM}entry" and self.open[-1] is self.root


def _text(element: ET.Element | None) -> str | None:
    if element is None:
        return None
    if len(element):  # child elements: markup feedparser would serialise; not simple
        raise _NotSimple
    return (element.text or "").strip()


class _NotSimple(Exception):
    pass


def _rss(
    root: ET.Element, channel: ET.Element | None, entries: list[dict[str, Any]]
) -> dict[str, Any] | None:
    version = _RSS_VERSIONS.get(root.get("version", ""))
    if version is None or channel is None or root.find("item") is not None:
        return None
    title = _text(channel.find("title"))
    feed = {
        "title": title if title is not None else _text(channel.find(f"{DC}title")),
        "link": _text(channel.find("link")),
        "language": _text(channel.find("language")),
        "ttl": _text(channel.find("ttl")),
    }
    return {"version": version, "feed": feed, "entries": entries, "bozo": False}


def _rss_item(item: ET.Element) -> dict[str, Any] | None:
    tags = [child.tag for child in item]
    once = [tag for tag in tags if tag != "category"]
    if any(tag not in _RSS_ITEM_FIELDS for tag in tags) or len(once) != len(set(once)):
        return None  # unknown or repeated elements: feedparser's rules, not ours
    if any(len(child) for child in item):
        return None  # markup inside an element (an <image> in a <category>, say)
    if item.find("author") is not None:
        return None  # RSS <author> is an email with a name: feedparser's parsing
    entry: dict[str, Any] = {}
    title = _text(item.find("title"))
    if title is not None:
        entry["title"] = title
    link = _text(item.find("link"))
    guid_element = item.find("guid")
    guid = _text(guid_element)
    if guid is not None:
        entry["id"] = guid
        permalink = guid_element.get("isPermaLink", "true") if guid_element is not None else ""
        if link is None and permalink.lower() != "false" and guid:
            entry["guidislink"] = True
            link = guid
    if link is not None:
        entry["link"] = link
    summary = _text(item.find("description"))
    if summary is not None:
        entry["summary"] = summary
    content = _text(item.find(CONTENT_ENCODED))
    if content is not None:
        entry["content"] = [{"value": content}]
    creator = _text(item.find(f"{DC}creator"))
    if creator:
        entry["author"] = creator
    published = _text(item.find("pubDate"))
    if published is not None:
        entry["published"] = published
    updated = _text(item.find(f"{DC}date"))
    if updated is not None:
        entry["updated"] = updated
    return entry


def _atom(root: ET.Element, entries: list[dict[str, Any]]) -> dict[str, Any]:
    feed = {
        "title": _atom_text(root.find(f"{ATOM}title")),
        "link": _alternate(root),
        "language": root.get("{http://www.w3.org/XML/1998/namespace}lang"),
    }
    return {"version": "atom10", "feed": feed, "entries": entries, "bozo": False}


def _atom_text(element: ET.Element | None) -> str | None:
    if element is None:
        return None
    if element.get("type", "text") not in ("text", "html") or element.get("src"):
        raise _NotSimple
    return _text(element)


def _alternate(element: ET.Element) -> str | None:
    links = element.findall(f"{ATOM}link")
    if any(not link.get("href") for link in links):
        raise _NotSimple  # a link given as text: feedparser's leniency
    for link in links:
        if link.get("rel", "alternate") == "alternate":
            return link.get("href", "").strip()
    return None


def _atom_entry(element: ET.Element) -> dict[str, Any] | None:
    tags = [child.tag for child in element]
    if any(tag not in _ATOM_ENTRY_FIELDS for tag in tags):
        return None
    single = [
        t
        for t in tags
        if t not in (f"{ATOM}link", f"{ATOM}category", f"{ATOM}author", f"{ATOM}contributor")
    ]
    if len(single) != len(set(single)) or tags.count(f"{ATOM}author") > 1:
        return None
    entry: dict[str, Any] = {}
    for key, tag in (("id", "id"), ("published", "published"), ("updated", "updated")):
        value = _text(element.find(f"{ATOM}{tag}"))
        if value is not None:
            entry[key] = value
    for key, tag in (("title", "title"), ("summary", "summary")):
        value = _atom_text(element.find(f"{ATOM}{tag}"))
        if value is not None:
            entry[key] = value
    content = _atom_text(element.find(f"{ATOM}content"))
    if content is not None:
        entry["content"] = [{"value": content}]
    link = _alternate(element)
    if link is None and entry.get("id"):
        entry["guidislink"] = True  # as feedparser does: the id stands in for the link
        link = entry["id"]
    if link is not None:
        entry["link"] = link
    author = element.find(f"{ATOM}author")
    if author is not None:
        name = _text(author.find(f"{ATOM}name"))
        email = _text(author.find(f"{ATOM}email"))
        # feedparser's form: "Name (email)" when both are given
        if name and email:
            entry["author"] = f"{name} ({email})"
        elif name or email:
            entry["author"] = name or email
    return entry
