"""Classify each number of a sentence into one of the analysts' metrics.

A number is eligible for a metric when its unit fits the metric's kind:

    money            -> money
    percent, a level -> percent     ("36% market share", "holds 35.8% of ...")
    percent, a change-> growth      ("grew 34%", "a 333% net income jump"), and pp
    growth           -> growth      ("triple-digit growth")
    multiple         -> multiple    ("15x", "P/E of 19.2")
    count            -> count       ("180k models", "10 million downloads")

Among eligible metrics the nearest cue phrase wins (ties go to the longer phrase, so
"AI-related product revenue" beats "revenue"); a cue that has another number between
it and this one counts as farther away, since it more likely describes that number.
A number with no cue close enough takes the metric of the previous number of the same
class in its sentence: list items such as "trailing AWS (30%), Microsoft (20%)" share
the metric of the head "market share remains at 4%". An exclude phrase vetoes its
metric for the number it stands nearest to ("R&D budget" is not capex).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from monitor.extract.vocab import CompiledVocabulary, phrase_key

MAX_CUE_DISTANCE = 80  # characters between a cue and its number, within a sentence
BETWEEN_PENALTY = 30  # per other number standing between a cue and this number
CLAUSE_PENALTY = 50  # a clause break between a cue and its number ("..., while net profit")
CONTEXT_REACH = 50  # characters between the parts of an "a + b" cue
EXCLUDE_REACH = 40  # characters: an exclude phrase further from every number vetoes nothing
STRONG_BREAK = re.compile(r"[;:—–]|\s-\s|,\s*and\b|\b(?:while|whereas|but|although)\b", re.I)
_CLAUSE_BREAK = re.compile(r"[,;:—–]|\s-\s|\b(?:while|whereas|but|although)\b", re.IGNORECASE)

_KIND_FOR_CLASS = {
    "money": "money",
    "level": "percent",
    "change": "growth",
    "pp": "growth",
    "growth": "growth",
    "multiple": "multiple",
    "count": "count",
}


@dataclass(frozen=True, slots=True)
class PhraseHit:
    start: int  # offsets in the article text
    end: int
    phrase: str  # lower-cased vocabulary phrase


@dataclass(frozen=True, slots=True)
class Slot:
    """A number as the classifier sees it."""

    start: int
    end: int
    klass: str  # money | level | change | pp | growth | multiple | count
    owner_name: str = ""  # the company name credited with it, as written ("Alibaba Cloud")
    joined: bool = False  # the same amount as the previous slot in another currency


def find_phrases(lowered: str, start: int, end: int, cv: CompiledVocabulary) -> list[PhraseHit]:
    """Every cue and exclude phrase in ``lowered[start:end]``, phrases inside longer
    phrases included ("revenue" in "AI-related product revenue")."""
    if cv.phrase_re is None:
        return []
    hits: list[PhraseHit] = []
    for m in cv.phrase_re.finditer(lowered, start, end):
        s = m.start()
        if s and lowered[s - 1].isalnum():
            continue
        key = phrase_key(m.group(), cv.phrase_closure)
        if key is None:
            continue
        for phrase, offset in cv.phrase_closure[key]:
            hits.append(PhraseHit(s + offset, s + offset + len(phrase), phrase))
    return hits


def classify(
    text: str, slots: list[Slot], hits: list[PhraseHit], cv: CompiledVocabulary
) -> list[tuple[str | None, bool]]:
    """(metric id or None, inherited?) for each slot of one sentence, in order."""
    present = {h.phrase for h in hits}
    vetoed = _vetoes(slots, hits, cv)
    by_phrase: dict[str, list[PhraseHit]] = {}
    for h in hits:
        by_phrase.setdefault(h.phrase, []).append(h)

    active = [
        cue
        for anchor in by_phrase
        for cue in cv.cues_by_anchor.get(anchor, ())
        if all(p in present or _any_in_names(p, slots) for p in cue.parts[1:])
    ]
    out: list[tuple[str | None, bool]] = []
    last_of_class: dict[str, str | None] = {}
    if active:
        starts = [sl.start for sl in slots]
        lo_all = min(min(h.start for h in hits), slots[0].start)
        hi_all = max(max(h.end for h in hits), slots[-1].end)
        breaks = [m.start() for m in _CLAUSE_BREAK.finditer(text, lo_all, hi_all)]
    for i, slot in enumerate(slots):
        kind = _KIND_FOR_CLASS[slot.klass]
        best: tuple[int, int, str] | None = None  # (distance, -cue length, metric)
        for cue in active:
            if cv.metrics[cue.metric].kind != kind or cue.metric in vetoed[i]:
                continue
            for h in by_phrase[cue.parts[0]]:
                raw = _distance(slot, h)
                if raw > MAX_CUE_DISTANCE:
                    continue
                if not all(_context_near(text, p, h, slot, by_phrase) for p in cue.parts[1:]):
                    continue
                lo, hi = (h.end, slot.start) if h.end <= slot.start else (slot.end, h.start)
                # Other numbers between the cue and this one, and clause breaks there.
                between = bisect.bisect_left(starts, hi) - bisect.bisect_left(starts, lo)
                between -= 1 if lo <= slot.start < hi else 0
                dist = raw + BETWEEN_PENALTY * between
                if lo < hi and bisect.bisect_left(breaks, hi) > bisect.bisect_left(breaks, lo):
                    dist += CLAUSE_PENALTY
                cand = (dist, -cue.length, cue.metric)
                if best is None or cand < best:
                    best = cand
        if best is not None and best[0] <= MAX_CUE_DISTANCE:
            out.append((best[2], False))
            last_of_class[slot.klass] = best[2]
            continue
        inherited = last_of_class.get(slot.klass)
        if inherited is not None and inherited not in vetoed[i]:
            out.append((inherited, True))
        else:
            out.append((None, False))
    return out


def _any_in_names(phrase: str, slots: list[Slot]) -> bool:
    return any(phrase in s.owner_name.lower() for s in slots)


def _context_near(
    text: str, phrase: str, anchor: PhraseHit, slot: Slot, by_phrase: dict[str, list[PhraseHit]]
) -> bool:
    """Is the context part of an "a + b" cue close to its anchor, in the same clause?

    "Alibaba Cloud's ... revenue increase" counts through the name credited with the
    number; "Cloud revenue advanced 34%, and AI-related products extended their
    streak of triple-digit revenue growth" does not give the second number a cloud
    context: a strong break (", and", ";", "while") stands between.
    """
    if phrase in slot.owner_name.lower():
        return True
    for h in by_phrase.get(phrase, ()):
        lo, hi = (h.end, anchor.start) if h.end <= anchor.start else (anchor.end, h.start)
        if hi - lo <= CONTEXT_REACH and not STRONG_BREAK.search(text, lo, max(lo, hi)):
            return True
    return False


def _distance(slot: Slot, h: PhraseHit) -> int:
    if h.end <= slot.start:
        return slot.start - h.end
    if h.start >= slot.end:
        return h.start - slot.end
    return 0


def _vetoes(slots: list[Slot], hits: list[PhraseHit], cv: CompiledVocabulary) -> list[set[str]]:
    """Metrics each slot may not take: an exclude phrase vetoes for its nearest slot."""
    out: list[set[str]] = [set() for _ in slots]
    if not slots:
        return out
    for h in hits:
        metrics = cv.excludes.get(h.phrase)
        if not metrics:
            continue
        nearest = min(range(len(slots)), key=lambda j: _distance(slots[j], h))
        if _distance(slots[nearest], h) <= EXCLUDE_REACH:
            out[nearest].update(metrics)
            # "RMB120B ($16.5B) was spent": a veto on either currency holds for both.
            if slots[nearest].joined:
                out[nearest - 1].update(metrics)
            if nearest + 1 < len(slots) and slots[nearest + 1].joined:
                out[nearest + 1].update(metrics)
    return out
