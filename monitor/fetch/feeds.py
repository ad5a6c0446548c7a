"""RSS and Atom bodies to clean articles; feedparser wrapped so nothing it raises escapes.

What feedparser gets wrong for a monitor (DESIGN.md section 7, RELIABILITY.md P1-P7):
it can raise instead of setting ``bozo``; it takes an empty body or an HTML error page
for an empty feed ("0 new items" hides an outage); it leaves markup in titles. Here:

* empty body -> ``ParseError(kind="empty_body")``; HTML or any non-feed -> ``not_a_feed``;
  an exception inside feedparser -> ``parser_crash``;
* encoding overrides and wrong content types are warnings, not failures;
* a truncated or malformed feed keeps the entries that parsed, drops the one cut off,
  and is flagged ``partial`` (the store must not treat missing items as deleted);
* entry keys: GUID, else link, else a stable hash of title, date and content; a GUID
  repeated in one feed keys its later copies by ``guid|link`` so no item is lost;
* dates: the raw string is always kept; unparseable dates give ``published_at=None``
  (the store sorts by first seen); future dates are kept as given (the store clamps).
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import feedparser

from monitor.errors import ParseError
from monitor.fetch.clean import (
    CleanText,
    clean_plain_text,
    drop_leading_title,
    first_sentence,
    safe_str,
)
from monitor.fetch.fastfeed import parse_simple
from monitor.fetch.markup import clean_html, html_text
from monitor.fetch.pages import absolute_http, canonical_url, parse_date, stable_key
from monitor.values import FetchedArticle

_BENIGN_BOZO = frozenset(
    {"CharacterEncodingOverride", "NonXMLContentType", "CharacterEncodingUnknown"}
)
_TRUNCATED = ("no element found", "unclosed token")
_FEED_ROOT = re.compile(rb"<(?:rss|feed|rdf:RDF|RDF)[\s>]", re.IGNORECASE)
# an XHTML page starts with an XML prolog (and maybe other processing instructions) too:
# taken for a feed, kind: auto failed it as not_a_feed. What comes before the root element
# is skipped by _past_prolog, in one pass: as a repeated group of lazy patterns, a run of
# "<??>" or "<!---->" made the match exponential (24 of them: 2 s).
_HTML_ROOT = re.compile(rb"<(?:!doctype\s+html|html|head|body)[\s>]", re.I)
_PROLOG_PARTS = ((b"<!--", b"-->"), (b"<?", b"?>"))


def _past_prolog(head: bytes) -> int:
    """Where the first element (or doctype) of ``head`` starts: after blanks, comments
    and processing instructions."""
    at = 0
    while True:
        while at < len(head) and head[at] in b" \t\r\n":
            at += 1
        for opening, closing in _PROLOG_PARTS:
            if head.startswith(opening, at):
                end = head.find(closing, at + len(opening))
                if end == -1:
                    return at
                at = end + len(closing)
                break
        else:
            return at


def _is_html(head: bytes) -> bool:
    return _HTML_ROOT.match(head, _past_prolog(head)) is not None


_CHAR_REF = re.compile(rb"&(?:amp;)?#(?:[xX]([0-9a-fA-F]{1,16})|([0-9]{1,20}));")
_ENTITY_DECL = re.compile(rb"<!ENTITY[^>]*>", re.IGNORECASE)
# the pieces of "<!DOCTYPE[^[>]*[.*?]\s*>", searched one after the other (_drop_subset):
# as one pattern, each "<!DOCTYPE" of a body without "]>" rescanned it to the end
_DOCTYPE_OPEN = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_SUBSET_OPEN = re.compile(rb"[\[>]")
_SUBSET_CLOSE = re.compile(rb"\]\s*>")
_TTL_MAX_MIN = 7 * 24 * 60  # a <ttl> of years is a typo, not a polling plan


class ParserCrash(ParseError):
    """feedparser raised; ``payload`` keeps the body's first 64 KiB for triage (P2)."""

    PAYLOAD_BYTES = 65536

    def __init__(self, message: str, *, url: str, payload: bytes) -> None:
        super().__init__("parser_crash", message, url=url)
        self.payload = payload[: self.PAYLOAD_BYTES]


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    articles: tuple[FetchedArticle, ...]
    warnings: tuple[str, ...] = ()
    partial: bool = False
    ttl_s: float | None = None  # the feed's <ttl> (RSS 2.0: minutes) in seconds
    title: str | None = None
    version: str = ""


def looks_like_feed(body: bytes) -> bool:
    """Content sniffing for ``kind: auto``: a feed root element near the start."""
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if _is_html(head):
        return False
    return bool(_FEED_ROOT.search(head)) or head.startswith(b"<?xml")


def parse_feed(
    body: bytes, headers: Mapping[str, str], url: str, *, fast: bool = True
) -> ParsedFeed:
    """Parse a feed body fetched from ``url``; raise ``ParseError`` with a kind.

    ``fast`` lets plain RSS 2.0 / Atom 1.0 skip feedparser (:mod:`monitor.fetch.fastfeed`);
    the result is the same either way.
    """
    if not body.strip():
        raise ParseError("empty_body", "the server sent an empty body", url=url)
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if _is_html(head) and not _FEED_ROOT.search(body[:65536]):
        raise ParseError("not_a_feed", "the server sent an HTML page, not a feed", url=url)
    response_headers = {k.lower(): v for k, v in headers.items()}
    wide = _wide_to_utf8(body)
    if wide is not None:
        body = wide
        if "content-type" in response_headers:
            response_headers["content-type"] = _CHARSET.sub(
                "charset=utf-8", response_headers["content-type"]
            )
    body = _defuse(body)
    # no content-location: feedparser would then "resolve" RSS guids into URLs, changing
    # the entry keys; links are resolved here instead, against the feed's own URL
    content_location = response_headers.pop("content-location", None)
    simple = parse_simple(body, response_headers) if fast else None
    try:
        parsed = simple or feedparser.parse(
            body,
            response_headers=response_headers,
            # text is extracted by selectolax, so feedparser's HTML sanitizer and
            # relative-URI rewriting would be work thrown away (about 35% of parse time)
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:  # feedparser raises more than it documents
        raise ParserCrash(
            f"feed parser failed: {type(exc).__name__}: {exc}"[:300], url=url, payload=body
        ) from exc
    # Content-Location names the document's own URL (RFC 9110 8.7) and is the base
    location = absolute_http(content_location, url)
    try:
        return _read(parsed, location or url, body)
    except ParseError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError) as exc:
        raise ParseError(
            "parse", f"unreadable feed: {type(exc).__name__}: {exc}"[:300], url=url
        ) from exc


_ENTRY_TAG = re.compile(rb"<(?:[A-Za-z0-9_]+:)?(?:item|entry)[\s>/]")
_ENTRY_CLOSE = re.compile(rb"</(?:[A-Za-z0-9_]+:)?(?:item|entry)\s*>")
_CHANNEL_CLOSE = re.compile(rb"</(?:[A-Za-z0-9_]+:)?(?:channel|feed)\s*>")


_WIDE_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\x00\x00\x00<", "utf-32-be"),  # XML 1.0 appendix F: no BOM, sniff "<"
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?[A-Za-z0-9_.:\-]+[\"']?", re.IGNORECASE)
_PROLOG_ENCODING = re.compile(r"^(<\?xml[^>]*?encoding\s*=\s*)([\"'])[^\"']*\2")


def _wide_to_utf8(body: bytes) -> bytes | None:
    """A UTF-16/32 body re-encoded as UTF-8 (prolog updated), or None if not wide.

    The safety checks below look for ASCII markup bytes, which a UTF-16 body hides: a
    UTF-16 billion-laughs feed took 2.9 s before this step.
    """
    for bom, codec in _WIDE_BOMS:
        if body.startswith(bom):
            text = body.decode(codec, errors="replace").lstrip("\ufeff")
            text = _PROLOG_ENCODING.sub(r"\1\2utf-8\2", text, count=1)
            return text.encode("utf-8")
    return None


def _defuse(body: bytes) -> bytes:
    """Remove what makes feedparser crash or blow up before it sees the body.

    * An internal DTD subset: entity declarations are how billion-laughs bombs work, and
      after expat refuses one feedparser's loose fallback parser expands it anyway
      (5 s, 58 MB measured); no real feed needs to declare entities (RELIABILITY.md P4).
    * Character references outside Unicode (``&#x110000;``, ``&#xFFFFFFFF;``) or to
      surrogates (``&#xD800;``) make feedparser raise (P2); one bad character must not
      lose a whole feed, so they become U+FFFD.
    """
    if b"<!ENTITY" in body or b"<!entity" in body:
        body = _drop_subset(body)
        # a subset _drop_subset could not delimit (a "]" inside a quoted value). Past the
        # last ">" no declaration can end: searched there, every "<!ENTITY" of a hostile
        # tail rescanned the tail to its end (quadratic)
        end = body.rfind(b">") + 1
        body = _ENTITY_DECL.sub(b"", body[:end]) + body[end:]
    if b"&#" in body or b"&amp;#" in body:
        body = _CHAR_REF.sub(_fix_char_ref, body)
    return body


def _drop_subset(body: bytes) -> bytes:
    """``body`` without its first ``<!DOCTYPE ... [ ... ]>`` internal subset, in one pass.

    What the pattern ``<!DOCTYPE[^[>]*[.*?]\\s*>`` removed (its first match), found
    without trying it from every "<!DOCTYPE": every start before the first "[" or ">"
    after one reaches that same character, and once a "[" is reached and no "]>" follows
    it, none follows any later start either.
    """
    start = 0
    while (doctype := _DOCTYPE_OPEN.search(body, start)) is not None:
        opened = _SUBSET_OPEN.search(body, doctype.end())
        if opened is None:
            return body
        if opened.group() == b">":  # a doctype without a subset, and so the ones inside it
            start = opened.end()
            continue
        closed = _SUBSET_CLOSE.search(body, opened.end())
        if closed is None:
            return body
        return body[: doctype.start()] + body[closed.end() :]
    return body


def _fix_char_ref(match: re.Match[bytes]) -> bytes:
    hex_digits, dec_digits = match.group(1), match.group(2)
    value = int(hex_digits, 16) if hex_digits else int(dec_digits)
    if value == 0 or value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
        return match.group(0).split(b"#", 1)[0] + b"#xFFFD;"
    return match.group(0)


def _read(parsed: Any, url: str, body: bytes) -> ParsedFeed:
    version = str(_get(parsed, "version") or "")
    # taken out of the parser's result, so that each raw entry is let go once read: the
    # raw entries and the articles made of them were all held at once (a 38 MB feed's
    # 30,000 items, 43 MB of each)
    entries = list(dict.pop(parsed, "entries", None) or []) if isinstance(parsed, dict) else []
    warnings: list[str] = []
    partial = truncated = False
    bozo = _get(parsed, "bozo_exception") if _get(parsed, "bozo") else None
    if bozo is not None:
        name = type(bozo).__name__
        message = safe_str(str(bozo))[:200]
        if name in _BENIGN_BOZO:
            warnings.append(f"{name}: {message}")
        elif not version and not entries:
            raise ParseError("not_a_feed", f"not a feed ({name}: {message})", url=url)
        else:
            warnings.append(f"malformed feed, kept what parsed ({name}: {message})")
            partial = True
            truncated = any(t in message for t in _TRUNCATED)
            if entries and truncated and len(_ENTRY_CLOSE.findall(body)) < len(entries):
                # the last entry is the one the body was cut inside: its text is incomplete
                entries = entries[:-1]
    if not version and not entries:
        raise ParseError("not_a_feed", "no RSS or Atom feed found in the body", url=url)
    cut_early = truncated and not _CHANNEL_CLOSE.search(body)
    if partial and not entries and (cut_early or _ENTRY_TAG.search(body)):
        # items were (or may have been) in the body but none survived: an error, never
        # "0 new items"
        raise ParseError(
            "parse", f"malformed feed with no readable entry ({warnings[-1]})", url=url
        )

    feed = _get(parsed, "feed") or {}
    base = absolute_http(str(_get(feed, "link") or ""), url) or url
    language = _language(_get(feed, "language"))
    articles: list[FetchedArticle] = []
    counts: dict[str, int] = {}
    entries.reverse()
    while entries:
        article = _article(entries.pop(), url, base, language)
        if article is None:
            continue
        n = counts.get(article.guid, 0)
        counts[article.guid] = n + 1
        if n:
            # same GUID twice in one feed: keep both (RELIABILITY.md S1)
            key = f"{article.guid}|{article.url}"
            if key in counts:
                key = f"{key}|{stable_key(article.title, article.published_raw, article.text)}"
            counts[key] = 1
            article = _with_guid(article, key, url)
        articles.append(article)
    unread = [a.published_raw for a in articles if a.published_raw and a.published_at is None]
    if unread:
        # kept as given (the store sorts them by when first seen); said, so that a feed
        # whose every date is unreadable does not just look undated (RELIABILITY S4)
        first = unread[0] if len(unread[0]) <= 60 else unread[0][:59] + "…"
        warnings.append(
            f"{len(unread)} item(s) with a date that could not be read (the first: {first!r});"
            " kept as given, sorted by when first seen"
        )
    return ParsedFeed(
        articles=tuple(articles),
        warnings=tuple(warnings),
        partial=partial,
        ttl_s=_ttl(_get(feed, "ttl")),
        title=html_text(str(_get(feed, "title") or "")) or None,
        version=version,
    )


def _article(entry: Any, feed_url: str, base: str, language: str | None) -> FetchedArticle | None:
    link = _entry_link(entry, base)
    title_raw = _text(_get(entry, "title"))
    content, summary_only = _content(entry)
    cleaned = _clean(content)
    published_raw = _text(
        _get(entry, "published") or _get(entry, "updated") or _get(entry, "created")
    )
    published_at = _struct_time(_get(entry, "published_parsed") or _get(entry, "updated_parsed"))
    if published_at is None and published_raw:
        published_at = parse_date(published_raw)
    title = html_text(title_raw) if title_raw else ""
    text = drop_leading_title(cleaned.text, title)
    if not title:
        title = first_sentence(text) if text else (link or "")
    guid = _text(_get(entry, "id")).strip()
    if not guid:
        guid = link or stable_key(title, published_raw, text)
    if not (title or text or link):
        return None
    author = html_text(_text(_get(entry, "author"))) or cleaned.author
    agent = cleaned.agent_name or (author if cleaned.ai_generated else None)
    return FetchedArticle(
        url=canonical_url(link) if link else entry_url(feed_url, guid),
        guid=safe_str(guid)[:2000],
        title=title,
        text=text,
        author=author or None,
        published_at=published_at,
        published_raw=safe_str(published_raw)[:200] or None,
        ai_generated=cleaned.ai_generated,
        agent_name=agent,
        language=_language(_get(entry, "language")) or language,
        summary_only=summary_only,
    )


def entry_url(document_url: str, guid: str) -> str:
    """A unique, stable url for an entry with no http(s) link of its own.

    Article urls are unique in the store, so link-less entries must not share one (""
    or the feed's url would make every such entry after the first a silent duplicate).
    The entry's key goes in the fragment, which canonical urls never otherwise have, so
    callers can tell these apart: :func:`has_own_page`.
    """
    return f"{canonical_url(document_url)}#entry={quote(guid, safe='')}"


def has_own_page(url: str) -> bool:
    """False for the urls :func:`entry_url` makes up: there is no page to fetch."""
    return bool(url) and "#entry=" not in url


def _entry_link(entry: Any, base: str) -> str | None:
    guid = _get(entry, "id")
    from_guid = bool(_get(entry, "guidislink"))
    candidates = [] if from_guid else [_get(entry, "link")]
    for link in _get(entry, "links") or []:
        alternate = isinstance(link, Mapping) and link.get("rel", "alternate") == "alternate"
        if alternate and not (from_guid and link.get("href") == guid):
            candidates.append(link.get("href"))
    if from_guid and isinstance(guid, str) and guid.startswith(("http:", "https:")):
        # an RSS guid is a permalink by default (feedparser then copies it into `link`),
        # but only an absolute URL can be one: "item-7" resolved would invent a page
        candidates.append(guid)
    for candidate in candidates:
        if isinstance(candidate, str):
            resolved = absolute_http(candidate, base)
            if resolved:
                return resolved
    return None


def _content(entry: Any) -> tuple[str, bool]:
    best = ""
    for part in _get(entry, "content") or []:
        if isinstance(part, Mapping):
            value = _text(part.get("value"))
            if len(value) > len(best):
                best = value
    if best:
        return best, False
    return _text(_get(entry, "summary") or _get(entry, "description")), True


def _clean(content: str) -> CleanText:
    if not content:
        return clean_plain_text("", find_title=False)
    if "<" in content or "&" in content:  # RSS descriptions are escaped HTML
        return clean_html(content)
    return clean_plain_text(content, find_title=False)


def _with_guid(article: FetchedArticle, guid: str, document_url: str) -> FetchedArticle:
    url = article.url if has_own_page(article.url) else entry_url(document_url, guid)
    return replace(article, guid=guid, url=url)


def _get(mapping: Any, key: str) -> Any:
    """A key of a FeedParserDict without its aliasing (e.g. ``published_parsed`` silently
    falling back to ``updated_parsed`` with a DeprecationWarning)."""
    return dict.get(mapping, key) if isinstance(mapping, dict) else None


def _text(value: Any) -> str:
    return safe_str(value) if isinstance(value, str) else ""


def _struct_time(value: Any) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        # feedparser's *_parsed values are UTC struct_times
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _ttl(value: Any) -> float | None:
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    if minutes <= 0:
        return None
    return float(min(minutes, _TTL_MAX_MIN) * 60)


def _language(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    lang = safe_str(value).strip().lower()[:16]
    return lang or None
