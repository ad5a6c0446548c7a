"""Fetching: RSS/Atom feeds and HTML sources, safely (issue 3).

The pipeline uses :class:`Fetcher` (``client.py``), :func:`load_sources`
(``source_file.py``), :func:`read_local` (``local.py``) and the pure scheduling helpers in
``policy.py``.
"""

from monitor.fetch.client import Fetcher, PollResult, Validators
from monitor.fetch.local import read_local
from monitor.fetch.policy import is_stale, next_poll_delay
from monitor.fetch.source_file import Selectors, SourceSpec, load_sources

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
