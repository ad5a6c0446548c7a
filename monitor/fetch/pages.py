"""HTML pages: decoding, listing links, article extraction, canonical URLs (selectolax/Lexbor).

Pure functions over bytes already fetched; :mod:`monitor.fetch.client` does the I/O.
"""

from __future__ import annotations

import codecs
import email.utils
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.errors import ParseError
from monitor.fetch.clean import (
    detect_authorship,
    drop_leading_title,
    first_sentence,
    parse_loose_date,
    safe_str,
)
from monitor.fetch.markup import clean_html, html_text, too_deep
from monitor.fetch.sniff import binary_kind
from monitor.fetch.source_file import Selectors
from monitor.values import FetchedArticle

# ----------------------------------------------------------------------- canonical URLs

# Query parameters that only say how a reader arrived; dropping them makes the same
# article from two sources (or two newsletters) one article.
_TRACKING = re.compile(
    r"^(?:utm_[a-z_]*|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|mc_cid|mc_eid|igshid|"
    r"_hsenc|_hsmi|mkt_tok|oly_anon_id|oly_enc_id|vero_id|spm|__twitter_impression)$",
    re.IGNORECASE,
)


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, drop default ports, tracking parameters and fragment.

    The remaining query is kept byte for byte (no re-encoding), so the URL still works.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    query = parts.query
    if query:
        query = "&".join(
            pair for pair in query.split("&") if pair and not _TRACKING.match(pair.split("=", 1)[0])
        )
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


_DEFAULT_PORTS = {"http": 80, "https": 443}


def absolute_http(href: str | None, base: str) -> str | None:
    """``href`` resolved against ``base`` if the result is http(s); otherwise None."""
    if not href:
        return None
    href = safe_str(href).strip()
    if not href or "\\" in href:
        return None
    try:
        resolved = href if href.startswith(("http://", "https://")) else urljoin(base, href)
        parts = urlsplit(resolved)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return None
    return resolved if ok else None


# --------------------------------------------------------------------------- decoding

_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE
)
# WHATWG Encoding: browsers decode these labels as windows-1252, and pages rely on it
_AS_CP1252 = {"ascii", "latin_1", "iso8859_1", "cp1252"}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def charset_from_headers(headers: Mapping[str, str]) -> str | None:
    content_type = _header(headers, "content-type") or ""
    match = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:\-]+)", content_type, re.IGNORECASE)
    return match.group(1) if match else None


def decode_html(body: bytes, headers: Mapping[str, str]) -> str:
    """Text of an HTML body: BOM, then Content-Type charset, then <meta charset>, then UTF-8.

    The meta tag is searched in the first 64 KiB rather than the spec's 1024 bytes:
    pages with long inline scripts in <head> put it later (RELIABILITY.md P7).
    """
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return safe_str(body.decode(codec, errors="replace"))
    meta = _META_CHARSET.search(body[:65536])
    declared = [
        charset_from_headers(headers),
        meta.group(1).decode("ascii", "replace") if meta else None,
    ]
    for label in declared:
        name = _codec(label)
        if name is None:
            continue
        try:
            return safe_str(body.decode(name))
        except UnicodeDecodeError:
            # a page declaring utf-8 but written in latin-1 is common; fall through
            continue
    try:
        return safe_str(body.decode("utf-8"))
    except UnicodeDecodeError:
        return safe_str(body.decode("cp1252", errors="replace"))


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().lower()).name
    except LookupError:
        return None
    if name.replace("-", "_") in _AS_CP1252:
        return "cp1252"
    if name.startswith("utf_16") or name.startswith("utf-16"):
        # a page that reached us without a UTF-16 BOM is not UTF-16 whatever it says
        return "utf-8"
    return name


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


# ---------------------------------------------------------------------------- listing


@dataclass(frozen=True, slots=True)
class ListingItem:
    url: str  # canonical
    title: str


def parse_html(body: bytes, headers: Mapping[str, str]) -> LexborHTMLParser:
    binary = binary_kind(body)
    if binary is not None:
        served = _header(headers, "content-type")
        served = f", served as {served.split(';')[0].strip()}" if served else ""
        raise ParseError("not_text", f"{binary}{served}, not a page")
    text = decode_html(body, headers)
    deep = too_deep(text)
    if deep is not None:
        raise ParseError("parse", deep)
    try:
        return LexborHTMLParser(text)
    except Exception as exc:  # Lexbor refuses input over its size limit
        raise ParseError("parse", f"HTML could not be parsed: {exc}") from exc


def document_base(tree: LexborHTMLParser, page_url: str) -> str:
    base = tree.css_first("base[href]")
    if base is not None:
        resolved = absolute_http(base.attributes.get("href"), page_url)
        if resolved:
            return resolved
    return page_url


def extract_listing(
    body: bytes, headers: Mapping[str, str], page_url: str, selectors: Selectors
) -> list[ListingItem]:
    """Item links of a listing page, canonical and in page order, without repeats.

    An item's link is its first usable one: an item whose first link was "#" (a
    bookmark button) or javascript: (a share button) lost its story, and a "#" link made
    the listing page itself an article.

    Zero items is ``ParseError(kind="layout_changed")``: a listing that suddenly yields
    nothing means the page changed, and silence would hide it (issue 3, point 4).
    """
    if not selectors.items:
        raise ParseError("layout_changed", "no items selector for this listing", url=page_url)
    tree = parse_html(body, headers)
    base = document_base(tree, page_url)
    itself = canonical_url(page_url)
    items: list[ListingItem] = []
    seen: set[str] = set()
    for node in tree.css(selectors.items):
        links = [node] if node.tag == "a" and "href" in node.attributes else node.css("a[href]")
        found = next(
            (
                (url, link)
                for link in links
                if (url := _story_link(link.attributes.get("href"), base, itself)) is not None
            ),
            None,
        )
        if found is None or found[0] in seen:
            continue
        url, link = found
        seen.add(url)
        items.append(ListingItem(url=url, title=html_text(link.text(separator=" "))))
    if not items:
        raise ParseError(
            "layout_changed",
            f"listing selector {selectors.items!r} matched no links",
            url=page_url,
        )
    return items


def _story_link(href: str | None, base: str, itself: str) -> str | None:
    """The canonical address a listing link leads to, or None when it leads to no other
    page: empty, not http(s) (javascript:), only a fragment, or the listing itself."""
    if href is None or safe_str(href).strip().startswith("#"):
        return None
    resolved = absolute_http(href, base)
    if resolved is None:
        return None
    url = canonical_url(resolved)
    return None if url == itself else url


# ---------------------------------------------------------------------------- article


def extract_article(
    body: bytes,
    headers: Mapping[str, str],
    page_url: str,
    selectors: Selectors | None,
    *,
    guid: str | None = None,
) -> FetchedArticle:
    """One article page as a clean :class:`FetchedArticle`."""
    tree = parse_html(body, headers)
    base = document_base(tree, page_url)
    url = canonical_url(_canonical_link(tree, base, page_url) or page_url)
    sel = selectors or Selectors()

    title = _first_text(tree, sel.title) if sel.title else None
    title = title or _meta(tree, "og:title", "twitter:title") or _first_text(tree, "h1")
    title = title or _first_text(tree, "title")
    author = _first_text(tree, sel.author) if sel.author else None
    author = author or _meta(tree, "author", "article:author") or _first_text(tree, "[rel=author]")
    published_raw = _date_raw(tree, sel.date)

    # authorship marks sit in header and author-card elements outside the body node
    page = tree.body or tree.root
    ai_marked, agent = detect_authorship(page.text(separator=" ")) if page else (False, None)
    body_node = _body_node(tree, sel.body, page_url)
    cleaned = clean_html(body_node)
    if ai_marked and not cleaned.ai_generated:
        cleaned = replace(
            cleaned,
            ai_generated=True,
            agent_name=cleaned.agent_name or agent,
            author=cleaned.author or agent,
        )
    if cleaned.ai_generated and cleaned.agent_name is None and author:
        cleaned = replace(cleaned, agent_name=author)
    published_raw = published_raw or cleaned.published_raw
    published_at = parse_date(published_raw) if published_raw else None
    text = cleaned.text
    if title:
        text = drop_leading_title(text, title)
    if not title:
        title = first_sentence(text) if text else url
    if not text:
        raise ParseError("empty_body", "article page has no text", url=page_url)
    return FetchedArticle(
        url=url,
        guid=guid or url,
        title=title,
        text=text,
        author=author or cleaned.author,
        published_at=published_at,
        published_raw=published_raw,
        ai_generated=cleaned.ai_generated,
        agent_name=cleaned.agent_name,
        language=_language(tree),
    )


def unmatched_selectors(
    body: bytes, headers: Mapping[str, str], selectors: Selectors
) -> list[tuple[str, str]]:
    """The article-page selectors (title, author, date, body) that match nothing on this
    page, as (part, selector): what `sources check` warns of on a sample page
    (RELIABILITY R4). Each part then comes from the page's metadata, or is missing; a
    body selector that matches nothing fails the page."""
    tree = parse_html(body, headers)
    parts = (
        ("title", selectors.title), ("author", selectors.author), ("date", selectors.date),
        ("body", selectors.body),
    )  # fmt: skip
    return [(part, css) for part, css in parts if css and tree.css_first(css) is None]


def _body_node(tree: LexborHTMLParser, selector: str | None, page_url: str) -> LexborNode:
    if selector:
        node = tree.css_first(selector)
        if node is None:
            raise ParseError(
                "layout_changed", f"body selector {selector!r} matched nothing", url=page_url
            )
        return node
    for guess in ("[itemprop=articleBody]", "article", "main", "[role=main]"):
        node = tree.css_first(guess)
        if node is not None and len(node.text(strip=True)) > 200:
            return node
    node = tree.body or tree.root
    if node is None:
        raise ParseError("empty_body", "page has no body", url=page_url)
    return node


def _canonical_link(tree: LexborHTMLParser, base: str, page_url: str) -> str | None:
    """The page's rel=canonical address, unless it is its site's home page while the page
    is not: a template that gives every page the home page as its canonical made every
    article of a listing one url, stored once."""
    for node in tree.css("link[rel][href]"):
        rels = str(node.attributes.get("rel") or "").lower().split()
        if "canonical" in rels:
            found = absolute_http(node.attributes.get("href"), base)
            if found is not None and _is_home(found) and not _is_home(page_url):
                return None
            return found
    return None


def _is_home(url: str) -> bool:
    parts = urlsplit(url)
    return parts.path in ("", "/") and not parts.query


def _first_text(tree: LexborHTMLParser, selector: str) -> str | None:
    node = tree.css_first(selector)
    if node is None:
        return None
    text = html_text(node.text(separator=" "))
    return text or None


def _meta(tree: LexborHTMLParser, *names: str) -> str | None:
    for name in names:
        for attr in ("property", "name", "itemprop"):
            node = tree.css_first(f'meta[{attr}="{name}"][content]')
            if node is not None:
                text = html_text(str(node.attributes.get("content") or ""))
                if text:
                    return text
    return None


def _date_raw(tree: LexborHTMLParser, selector: str | None) -> str | None:
    if selector:
        node = tree.css_first(selector)
        if node is not None:
            value = node.attributes.get("datetime") or node.attributes.get("content")
            return html_text(str(value)) if value else html_text(node.text(separator=" "))
    meta = _meta(tree, "article:published_time", "datePublished", "date", "pubdate")
    if meta:
        return meta
    node = tree.css_first("time[datetime]")
    return html_text(str(node.attributes.get("datetime"))) if node is not None else None


def _language(tree: LexborHTMLParser) -> str | None:
    node = tree.css_first("html[lang]")
    if node is None:
        return None
    lang = str(node.attributes.get("lang") or "").strip().lower()
    return lang[:16] or None


def parse_date(raw: str) -> datetime | None:
    """A timezone-aware UTC datetime from RFC 822/1123, ISO 8601 or a page date line."""
    text = raw.strip()
    if not text:
        return None
    parsed: datetime | None = None
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        parsed = None
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            parsed = parse_loose_date(text)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def stable_key(*parts: str | None) -> str:
    """A short stable hash for entries with neither GUID nor link (RELIABILITY.md S2)."""
    digest = hashlib.sha256("\x1f".join(p or "" for p in parts).encode("utf-8", "replace"))
    return f"sha256:{digest.hexdigest()[:32]}"
