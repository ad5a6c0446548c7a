"""Alert severities, lowest first, and comparisons between them.

The names are the rule files' (``rules/schema.py`` ``SEVERITIES``); notify may not import
rules (independent stages), so the tuple is repeated here and a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")
_RANK: dict[str, int] = {name: i for i, name in enumerate(SEVERITIES)}


def rank(severity: str) -> int:
    """0 for info up to 4 for critical; an unknown name ranks as medium."""
    return _RANK.get(severity, _RANK["medium"])


def at_least(severity: str, floor: str | None) -> bool:
    """True when ``severity`` is at or above ``floor`` (always, when there is no floor)."""
    return floor is None or rank(severity) >= rank(floor)


def highest(severities: Iterable[str]) -> Severity | None:
    """The highest of ``severities``, None when there are none."""
    best: Severity | None = None
    for s in severities:
        if best is None or rank(s) > rank(best):
            best = SEVERITIES[rank(s)]
    return best
