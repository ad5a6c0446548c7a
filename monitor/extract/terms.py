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


def find_terms(
    text: str, cv: CompiledVocabulary, timeout: float, skipped: list[str] | None = None
) -> list[RawHit]:
    """Model names (term families) in ``text``, in order, one per place; the families whose
    pattern ran past ``timeout`` are added to ``skipped``.

    A pattern with a group named ``term`` names only that part ("its TurboS reasoning
    model" gives "TurboS"). Where two families match overlapping text, the family
    listed first wins, so a brand's own family comes before any catch-all one. A
    company's name is never a model name ("the DeepSeek model").
    """
    hits: list[RawHit] = []
    taken: list[tuple[int, int]] = []
    present: set[str] = set()
    gate_re = cv.gate_re
    if gate_re is not None:
        # One scan for every family's literals, far cheaper than a search per literal.
        # It resumes one character after each find, so a literal starting inside
        # another one's match is still seen.
        g = gate_re.search(text)
        while g is not None:
            present.update(cv.gate_inside[g.group()])
            g = gate_re.search(text, g.start() + 1)
    for family, pattern, literals in cv.terms:
        if literals and not any(lit in present for lit in literals):
            continue  # no match can exist without one of them
        named = "term" in pattern.groupindex
        found: list[RawHit] = []
        try:
            for m in pattern.finditer(text, timeout=timeout):
                start, end = m.span("term") if named else (-1, -1)
                if start < 0:  # no such group, or a branch without it
                    start, end = m.span()
                term = text[start:end].rstrip(_TRAILING)
                if not term or term in cv.entity_of:
                    continue
                end = start + len(term)
                if any(s < end and start < e for s, e in taken):
                    continue
                found.append(RawHit(family, term, start, end))
        except TimeoutError:
            # skip this family for this article; partial results are dropped
            if skipped is not None:
                skipped.append(family)
            continue
        hits.extend(found)
        taken.extend((h.start, h.end) for h in found)
    hits.sort(key=lambda h: h.start)
    return hits


def find_topics(lowered: str, cv: CompiledVocabulary) -> list[RawHit]:
    """Topic phrases in the lowered, whitespace-folded text.

    A handful of phrases, grouped by their first word ("export controls", "export
    ban"): each first word is looked for once (a C substring search), and the
    phrases of its group are compared only where it starts a word. A phrase opens
    with its first word, so this finds every place a search per phrase finds.
    """
    longest: dict[tuple[str, int], int] = {}  # (topic, start) -> end of the longest phrase
    topic_of = cv.topic_of
    for lead, phrases in cv.topic_leads:
        at = lowered.find(lead)
        while at != -1:
            if at == 0 or not lowered[at - 1].isalnum():
                for phrase in phrases:
                    if not lowered.startswith(phrase, at):
                        continue
                    end = _word_end(lowered, at + len(phrase))
                    if end is not None:
                        for t in topic_of[phrase]:
                            longest[(t, at)] = max(end, longest.get((t, at), end))
            at = lowered.find(lead, at + 1)
    hits = [RawHit(t, lowered[at:end], at, end) for (t, at), end in longest.items()]
    hits.sort(key=lambda h: (h.start, h.key))
    return hits


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
