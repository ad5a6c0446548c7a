"""Text from the web made safe to show: one line, no controls, no bad links, escaped.

Titles and quotes come from feeds and pages; they are text, never markup (RELIABILITY.md
D2). The digest builder passes every string through :func:`one_line`, so no renderer sees
a CR, LF or control character (an email header built from a title cannot be split, RFC
5322 section 2.2); :func:`safe_link` keeps http(s) links only (D4); :func:`slack_escape`
escapes the three characters Slack's mrkdwn reserves, so ``<!channel>`` in a title
pings nobody.
"""

from __future__ import annotations

import re
import unicodedata

# C0/C1 controls, and the bidirectional overrides and isolates that can make a line read
# differently from what it holds (CVE-2021-42574, "Trojan Source")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_SPACES = re.compile(r"\s+")


def one_line(text: str | None, limit: int | None = None) -> str:
    """``text`` on one line: every control and line break a space, runs of space one.

    With ``limit``, clipped to that many characters with an ellipsis.
    """
    if not text:
        return ""
    flat = _SPACES.sub(" ", _CONTROLS.sub(" ", text)).strip()
    if limit is not None and len(flat) > limit:
        return flat[: limit - 1].rstrip() + "\u2026"
    return flat


def safe_link(url: str | None) -> str | None:
    """The URL when it is an absolute http(s) URL fit to link; None otherwise.

    ``javascript:``, ``data:``, ``file:`` and relative links are dropped (D4); so is a URL
    with whitespace or a control character, which no real article link needs.
    """
    if not url:
        return None
    text = url.strip()
    scheme, sep, rest = text.partition(":")
    if not sep or scheme.lower() not in ("http", "https") or not rest.startswith("//"):
        return None
    if len(rest) <= 2 or any(unicodedata.category(c)[0] in "CZ" for c in text):
        return None
    return text


def plural(n: int, word: str, many: str | None = None) -> str:
    """``"1 source"``, ``"2 sources"``; ``many`` for irregular plurals (``"stories"``)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def slack_escape(text: str) -> str:
    """Slack mrkdwn's reserved characters escaped (``&``, ``<``, ``>``); nothing else is."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_link(url: str | None, label: str) -> str:
    """``<url|label>`` for an http(s) URL, else the escaped label alone."""
    href = safe_link(url)
    if href is None:
        return slack_escape(label)
    # "|" and ">" would end the link early: percent-encode them (RFC 3986 section 2.1)
    href = slack_escape(href.replace("|", "%7C")).replace("&gt;", "%3E").replace("&lt;", "%3C")
    return f"<{href}|{slack_escape(label)}>"
