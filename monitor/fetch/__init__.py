"""Fetching: RSS/Atom feeds and HTML sources, safely (issue 3).

The pipeline uses :class:`Fetcher` (``client.py``), :func:`load_sources`
(``source_file.py``), :func:`read_local` (``local.py``) and the pure scheduling helpers in
``policy.py``.
"""

from typing import TYPE_CHECKING

from monitor.lazy import exports

if TYPE_CHECKING:
    from monitor.fetch.client import Fetcher, PollResult, Validators
    from monitor.fetch.local import read_local
    from monitor.fetch.policy import is_stale, next_poll_delay
    from monitor.fetch.source_file import Selectors, SourceSpec, load_sources

# Loaded on first use: a command that reads only the scheduling helpers (``monitor
# health``) does not import httpx and feedparser.
_WHERE = {
    "Fetcher": "client",
    "PollResult": "client",
    "Validators": "client",
    "read_local": "local",
    "is_stale": "policy",
    "next_poll_delay": "policy",
    "Selectors": "source_file",
    "SourceSpec": "source_file",
    "load_sources": "source_file",
}


__getattr__ = exports(__name__, _WHERE)

__all__ = [
    "Fetcher",
    "PollResult",
    "Selectors",
    "SourceSpec",
    "Validators",
    "is_stale",
    "load_sources",
    "next_poll_delay",
    "read_local",
]
