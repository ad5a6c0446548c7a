"""Load-time checks of analyst regular expressions (RELIABILITY.md R3).

Patterns are compiled with the ``regex`` package, whose ``timeout=`` bounds a match in
time. At load we also run each pattern against inputs shaped to trigger catastrophic
backtracking, so a pattern like ``(a+)+$`` is refused with its location instead of
stalling extraction for every article later.
"""

from __future__ import annotations

import regex

PROBE_TIMEOUT_S = 0.05
PROBE_LENGTH = 3000


def _probes(pattern: str) -> list[str]:
    # Literal characters of the pattern, repeated, then a character no pattern is likely to
    # expect: the classic shape that makes nested quantifiers try every split.
    letters = sorted({c for c in pattern if c.isalnum()})[:12]
    seeds = [*letters, "a", "1", " ", "a ", "a1", "-a"]
    return [seed * (PROBE_LENGTH // len(seed)) + "\x00!" for seed in seeds]


def check_pattern(pattern: str) -> str | None:
    """Why ``pattern`` is unusable, or None when it is fine."""
    try:
        compiled = regex.compile(pattern)
    except regex.error as exc:
        return f"invalid regular expression: {exc}"
    try:
        if compiled.search("", timeout=PROBE_TIMEOUT_S) is not None:
            return "the pattern matches the empty string, so it would match every article"
        for probe in _probes(pattern):
            compiled.search(probe, timeout=PROBE_TIMEOUT_S)
    except TimeoutError:
        return (
            "the pattern is unbounded: it takes too long on a long input (catastrophic "
            "backtracking, e.g. nested quantifiers like (a+)+); rewrite it"
        )
    return None
