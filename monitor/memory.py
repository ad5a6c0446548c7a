"""Handing memory freed by one large piece of work back to the system.

glibc keeps what a process frees in its heap for later use, so a daemon that once parsed
a 38 MB feed (a parse worker) or stored its 30,000 articles (the daemon) stayed that
large for the rest of its life: a parse worker idled at 137 MB after such a feed, 42 MB
before it. ``malloc_trim`` returns the free pages; it costs tens of milliseconds on a
heap of a few hundred MB, so it is called after large work only, never per item.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import sys
from collections.abc import Callable


def give_back() -> None:
    """Return the heap's free pages to the system (glibc); elsewhere, nothing."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    with contextlib.suppress(OSError, AttributeError):
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
        return trim
    return None  # a C library without it (musl)
