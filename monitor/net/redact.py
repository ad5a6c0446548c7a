"""Credential URLs kept out of logs, error messages and reprs (RELIABILITY.md N4).

A Slack or webhook URL carries its secret in the path: whoever reads it can post. The
senders show :func:`redact_url` (scheme and host) wherever a URL would be named, scrub
exception texts with :func:`scrub`, and register each secret URL with
:func:`hide_in_logs` so that httpx's own request log line (logger ``httpx``, level INFO,
which prints the full URL) names the host only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from urllib.parse import urlsplit

_HIDDEN: set[str] = set()
_LOCK = threading.Lock()
_INSTALLED: list[logging.Filter] = []


def redact_url(url: str) -> str:
    """``https://hooks.slack.com/…``: the scheme and host, never the path or query.
    Never raises: it runs inside error handling and log filters, where a URL with a port
    out of range (``.port`` raises) must not turn one failure into many."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<url>"
    return f"{parts.scheme or 'http'}://{host}{port}/\u2026"


def _path(url: str) -> str:
    """The path of ``url``, also of one urlsplit refuses (an IPv6 host never closed)."""
    try:
        return urlsplit(url).path
    except ValueError:
        _, slash, rest = url.split("//", 1)[-1].partition("/")
        return slash + rest.split("?", 1)[0].split("#", 1)[0]


def _query(url: str) -> str:
    try:
        return urlsplit(url).query
    except ValueError:
        return url.partition("?")[2].split("#", 1)[0]


def _hiding(url: str) -> list[tuple[str, str]]:
    """What to replace for ``url``, and by what: the URL itself; its path with its query,
    and each alone (a client that writes the URL its own way, ``:80`` left out, still
    writes those). A path of one character hides nothing."""
    out = [(url, redact_url(url))]
    path, query = _path(url), _query(url)
    if query:
        out += [(f"{path}?{query}", "/\u2026"), (query, "\u2026")]
    if len(path) > 1:
        out.append((path, "/\u2026"))
    return out


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret URL, its path and its query replaced by a redaction.
    The longest first, across all of them: two URLs of one path differ by their query, and
    hiding one's path first would leave the other's query in the clear."""
    pairs = sorted(
        {pair for secret in secrets if secret for pair in _hiding(secret)},
        key=lambda pair: -len(pair[0]),
    )
    for secret, shown in pairs:
        text = text.replace(secret, shown)
    return text


class _RedactFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        with _LOCK:
            hidden = tuple(_HIDDEN)
        if not hidden:
            return True
        message = record.getMessage()
        scrubbed = scrub(message, hidden)
        if scrubbed != message:
            record.msg = scrubbed
            record.args = ()
        return True


def scrub_hidden(text: str) -> str:
    """``text`` without any URL given to :func:`hide_in_logs` (the webhook URLs in use)."""
    with _LOCK:
        hidden = tuple(_HIDDEN)
    return scrub(text, hidden)


def hide_in_logs(url: str) -> None:
    """Keep ``url`` out of httpx's log records from now on (idempotent)."""
    with _LOCK:
        _HIDDEN.add(url)
        if not _INSTALLED:
            # a filter on the logger itself: it runs before any handler, whoever configures
            # logging; httpx logs every request through this one logger
            f = _RedactFilter()
            logging.getLogger("httpx").addFilter(f)
            _INSTALLED.append(f)
