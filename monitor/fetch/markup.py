"""HTML to clean article text: widget removal by class and tag, then the text rules.

Lexbor (selectolax) parses; elements that are never article text (scripts, navigation,
forms) and widgets marked by class or id (newsletter, comments, Aime, podcast, author
bio, share bars) are removed; the rest is flattened to one block per paragraph-like
element and handed to :func:`monitor.fetch.clean.clean_blocks`, the rules every input
shares. Authorship marks are read from the whole page first, because the byline and the
author bio usually sit in the widgets that are removed.
"""

from __future__ import annotations

import html as html_lib
import itertools
import re
from dataclasses import replace

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.fetch.clean import (
    CleanText,
    clean_blocks,
    clean_plain_text,
    detect_authorship,
    safe_str,
)

# Lexbor's time grows with the square of the depth of nested block containers (each start
# tag looks down the stack of open elements): 10,000 levels parse in 0.07 s, 20,000 in
# 0.5 s, 80,000 (a 1 MB file) in 16 s, held in C where no signal or time limit reaches it.
# No page nests its containers past a few dozen. (Headings are not counted: the next one
# closes an open one.)
MAX_NESTING = 10_000
_CONTAINER_TAG = re.compile(
    r"<(/?)(?:div|section|article|aside|nav|header|footer|main|blockquote|ul|ol|dl|menu|dir"
    r"|form|fieldset|figure|figcaption|details|summary|center|address|hgroup|dialog|search"
    r"|pre|listing)[\s/>]",  # read in lowered text: several times faster than IGNORECASE
)
# What holds no elements: comments, and the raw text of scripts and styles ("<\/div>")
_NOT_MARKUP = re.compile(
    r"<!--.*?(?:-->|$)|<(script|style|textarea|title)\b.*?(?:</\1\s*>|$)",
    re.IGNORECASE | re.DOTALL,
)
_NOT_MARKUP_LOWERED = re.compile(_NOT_MARKUP.pattern, re.DOTALL)


def nesting(html: str) -> int:
    """How deep ``html`` nests its block containers (an upper bound: an unclosed one
    counts as open). Cheap when the text has few tags at all."""
    if html.count("<") <= MAX_NESTING:
        return 0  # not enough tags to be too deep: not worth a scan
    tags = _CONTAINER_TAG.findall(_NOT_MARKUP_LOWERED.sub(" ", html.lower()))
    # +1 an opening tag, -1 a closing one; a closing tag with nothing open is ignored
    steps = [-1 if closing else 1 for closing in tags]
    depths = itertools.accumulate(steps, lambda d, s: d + s if d + s > 0 else 0)
    return max(depths, default=0)


def too_deep(html: str) -> str | None:
    """Why ``html`` is not to be parsed, or None."""
    depth = nesting(html)
    if depth <= MAX_NESTING:
        return None
    return f"HTML nested {depth:,} elements deep, over {MAX_NESTING:,}: not parsed"


_TAG = re.compile(r"<[^>]*>")


def clean_html(html: str | LexborNode, *, find_title: bool = False) -> CleanText:
    """Clean an HTML page, fragment (a feed entry's content) or element, in place."""
    widgets = True
    if isinstance(html, str):
        if "<" not in html and "&" not in html:  # plain text: no parse needed
            return clean_plain_text(html, find_title=find_title)
        # most feed fragments are bare <p>s: skip the widget queries when nothing could match
        if too_deep(html) is not None:  # a hostile fragment: its words, without a parse
            words = html_lib.unescape(_TAG.sub(" ", _NOT_MARKUP.sub(" ", html)))
            return clean_plain_text(words, find_title=find_title)
        lowered = html.lower()
        widgets = any(hint in lowered for hint in _WIDGET_HINTS)
        marked = "Agent" in html
        tree = LexborHTMLParser(html)
        root = tree.body or tree.root
    else:
        root = html
        marked = True
    if root is None:
        return CleanText(text="")
    markers = detect_authorship(root.text(separator=" ")) if marked else (False, None)
    if widgets:
        strip_chrome(root)
    cleaned = clean_blocks(html_blocks(root), find_title=find_title)
    if markers[0] and not cleaned.ai_generated:
        return replace(
            cleaned,
            ai_generated=True,
            agent_name=cleaned.agent_name or markers[1],
            author=cleaned.author or markers[1],
        )
    return cleaned


def html_text(fragment: str) -> str:
    """A short HTML string (a title, an author) as one line of plain text."""
    if "<" not in fragment and "&" not in fragment:
        return " ".join(safe_str(fragment).split())
    tree = LexborHTMLParser(f"<body>{fragment}</body>")
    root = tree.body
    text = " ".join(html_blocks(root)) if root is not None else ""
    return " ".join(safe_str(text).split())


_DROP_TAGS = (
    "script, style, noscript, template, iframe, object, embed, svg, canvas, form, button, "
    "select, input, textarea, nav, footer, aside, dialog, audio, video, picture, img, head"
)
# class/id/role tokens that mark widgets rather than article text. A name must be a whole
# token or a dash/underscore-separated part of one ("aime-summary", "comments-box") so
# that "commentary", "shareholder" or "claimed" are not taken for widgets.
_CHROME_TOKEN = re.compile(
    r"(?:^|[-_])(?:newsletter|bolet[ií]n|subscribe|subscription|comments?|comentarios?|aime|"
    r"podcast|audio|listen|author-?bio|author-?card|about-the-author|sobre-el-autor|"
    r"disclaimer|avatar|share|sharing|social|related|recommended|advert|ads?|promo|"
    r"breadcrumbs?|cookies?|sidebar|signup|paywall|toolbar|skip-?link|byline|dateline|"
    r"date-line|read-?time)(?:$|[-_])",
    re.IGNORECASE,
)
# substrings whose absence proves there is nothing for strip_chrome to remove (a plain
# substring scan: a case-insensitive regex over every feed fragment cost ~60 us each)
_WIDGET_HINTS = (
    "class=", "class =", " id=", " id =", "role=", "role =", "<script", "<style",
    "<noscript", "<template", "<iframe",
    "<object", "<embed", "<svg", "<canvas", "<form", "<button", "<select", "<input",
    "<textarea", "<nav", "<footer", "<aside", "<dialog", "<audio", "<video", "<picture",
    "<img", "<head",
)  # fmt: skip
_BLOCK_TAGS = frozenset(
    (
        *("p", "div", "section", "article", "main", "header", "h1", "h2", "h3", "h4", "h5"),
        *("h6", "li", "ul", "ol", "dl", "dt", "dd", "blockquote", "pre", "table", "thead"),
        *("tbody", "tfoot", "tr", "td", "th", "br", "hr", "figure", "figcaption", "address"),
        *("summary", "details", "caption", "center", "body", "html", "title"),
    )
)


def strip_chrome(root: LexborNode) -> None:
    """Remove non-content elements and widgets, in place.

    Matches come in document order, where a descendant follows its ancestor; removing
    them in reverse frees every descendant before its ancestor, so no node is freed twice
    (a <script> inside a removed <form>, a share bar inside a comments box).
    """
    for node in reversed(root.css(_DROP_TAGS)):
        node.decompose()
    doomed = []
    for node in root.css("[class], [id], [role]"):
        attrs = node.attributes
        tokens = " ".join(str(attrs.get(k) or "") for k in ("class", "id", "role")).split()
        widget = any(_CHROME_TOKEN.search(token) for token in tokens)
        if widget and node.tag not in ("body", "html", "article", "main"):
            doomed.append(node)
    for node in reversed(doomed):
        node.decompose()


def html_blocks(root: LexborNode) -> list[str]:
    """Flatten an element to text blocks: one per paragraph-like element.

    Walks with an explicit stack, so a page nested 10,000 levels deep cannot exhaust the
    Python recursion limit (RELIABILITY.md P8).
    """
    blocks: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            text = "".join(current).strip()
            if text:
                blocks.append(text)
            current.clear()

    stack: list[tuple[LexborNode, bool]] = [(root, False)]
    while stack:
        node, closing = stack.pop()
        tag = node.tag
        if closing:
            if tag in _BLOCK_TAGS:
                flush()
            continue
        if tag == "-text":
            current.append(node.text_content or "")
            continue
        if tag is None or tag.startswith("-"):  # comments, doctype
            continue
        if tag in _BLOCK_TAGS:
            flush()
        stack.append((node, True))
        children = list(node.iter(include_text=True))
        stack.extend((child, False) for child in reversed(children))
    flush()
    return blocks
