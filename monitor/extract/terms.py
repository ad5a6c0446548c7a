"""Term families (analyst regexes, run with a time budget) and topic phrases.

Analyst patterns are compiled with the ``regex`` package and every search gets a
timeout: a pattern with catastrophic backtracking ("(a|aa)+$") is abandoned for that
article with nothing recorded, instead of hanging the daemon (issue 5, point 5).
"""

from __future__ import annotations

from typing import NamedTuple

from monitor.extract.vocab import SUFFIXES, CompiledVocabulary

# Punctuation a pattern may swallow at the end of a sentence: "... Qwen3." -> "Qwen3".
_TRAILING = ".,;:-"


class RawHit(NamedTuple):
    key: str  # term family or topic id
    text: str  # the term or phrase as written
    start: int
    end: int


def find_terms(text: str, cv: CompiledVocabulary, timeout: float) -> list[RawHit]:
    hits: list[RawHit] = []
    for family, pattern in cv.terms:
        found: list[RawHit] = []
        try:
            for m in pattern.finditer(text, timeout=timeout):
                term = m.group().rstrip(_TRAILING)
                if term:
                    found.append(RawHit(family, term, m.start(), m.start() + len(term)))
        except TimeoutError:
            continue  # skip this family for this article; partial results are dropped
        hits.extend(found)
    hits.sort(key=lambda h: h.start)
    return hits


def find_topics(lowered: str, cv: CompiledVocabulary) -> list[RawHit]:
    """Topic phrases in the lowered, whitespace-folded text.

    A handful of phrases: one C-speed substring search each beats any regex here.
    Phrases that open with the same word ("export controls", "export ban") are
    skipped together when that word is not in the text.
    """
    longest: dict[tuple[str, int], int] = {}  # (topic, start) -> end of the longest phrase
    for lead, phrases in cv.topic_leads:
        if lead not in lowered:
            continue
        for phrase in phrases:
            _find_phrase(lowered, phrase, cv.topic_of[phrase], longest)
    hits = [RawHit(t, lowered[at:end], at, end) for (t, at), end in longest.items()]
    hits.sort(key=lambda h: (h.start, h.key))
    return hits


def _find_phrase(
    lowered: str, phrase: str, topics: tuple[str, ...], longest: dict[tuple[str, int], int]
) -> None:
    at = lowered.find(phrase)
    while at != -1:
        end = _word_end(lowered, at + len(phrase))
        if end is not None and (at == 0 or not lowered[at - 1].isalnum()):
            for t in topics:
                longest[(t, at)] = max(end, longest.get((t, at), end))
        at = lowered.find(phrase, at + 1)


def _word_end(lowered: str, end: int) -> int | None:
    """The end of the phrase with its inflection, or None if it stops inside a word."""
    if end == len(lowered) or not lowered[end].isalnum():
        return end
    for suffix in SUFFIXES:
        stop = end + len(suffix)
        if lowered.startswith(suffix, end) and (
            stop == len(lowered) or not lowered[stop].isalnum()
        ):
            return stop
    return None
