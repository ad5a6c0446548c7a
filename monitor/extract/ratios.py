"""Relative amounts written in words: "half the price", "twice the compute".

Real reports state a comparison as often in words as in figures ("delivers
performance on par with R1 at only half the price"); the figure is the ratio (0.5).
"""

from __future__ import annotations

import re

_RATIO_WORDS = {"half": 0.5, "twice": 2.0}
# What follows a ratio word that makes it a comparison: "half the price", "twice as
# fast", "half of its revenue".
_AFTER = re.compile(r"\s(?:the|of|as|that)\s", re.IGNORECASE)
# Words before "half" that make it a part of a year or a count: "the first half of 2025",
# "one and a half".
_NOT_AFTER = frozenset({"first", "second", "latter", "back", "other", "a", "and", "the"})


def find_ratios(text: str, start: int, stop: int) -> list[tuple[float, int, int]]:
    """(ratio, start, end) for every ratio word in ``text[start:stop]``."""
    out: list[tuple[float, int, int]] = []
    # "alf" finds "half" and "Half", "wice" finds "twice" and "Twice": two scans, not four.
    for tail, value in (("alf", 0.5), ("wice", 2.0)):
        at = text.find(tail, start + 1, stop)
        while at != -1:
            head = at - 1
            end = at + len(tail)
            word = text[head:end].lower()
            if head >= start and word in _RATIO_WORDS and _is_ratio(text, head, end, start):
                out.append((value, head, end))
            at = text.find(tail, end, stop)
    return out


def _is_ratio(text: str, at: int, end: int, floor: int) -> bool:
    if at > floor and text[at - 1].isalnum():
        return False  # "behalf"
    if end < len(text) and (text[end].isalnum() or text[end] == "-"):
        return False  # "halfway", "half-year"
    if _AFTER.match(text, end) is None:
        return False
    before = text[max(floor, at - 12) : at].split()
    return not (before and before[-1].lower().strip(",;:(") in _NOT_AFTER)
