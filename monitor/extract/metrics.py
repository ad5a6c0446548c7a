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
metric for the number it stands nearest to ("R&D budget" is not capex), if it stands
within EXCLUDE_REACH characters of it. A clause break between a cue and its number
(", while", ";") also makes the cue count as farther away.
"""

from __future__ import annotations

import bisect
import re
from typing import NamedTuple

from monitor.extract.vocab import CompiledVocabulary, phrase_key

MAX_CUE_DISTANCE = 80  # characters between a cue and its number, within a sentence
BETWEEN_PENALTY = 30  # per other number standing between a cue and this number
CLAUSE_PENALTY = 50  # a clause break between a cue and its number ("..., while net profit")
CONTEXT_REACH = 50  # characters between the parts of an "a + b" cue
EXCLUDE_REACH = 40  # characters: an exclude phrase further from every number vetoes nothing
STRONG_BREAK = re.compile(r"[;:—–]|\s-\s|,\s*and\b|\b(?:while|whereas|but|although)\b", re.I)
_CLAUSE_BREAK = re.compile(r"[,;:—–]|\s-\s|\b(?:while|whereas|but|although)\b", re.IGNORECASE)
# The same breaks looked for in the lowered text, case-sensitively, with a pattern
# whose every branch opens with a literal character, so that the engine skips to
# plausible places; a case-insensitive pattern is tried at every character and cost
# a fifth of the classifier's time (issue 5, point 8). A "-" counts only between
# blanks and a word only at a word's start: checked in ``clause_breaks`` and
# ``strong_break``. Lowering keeps every character's class (blank, word), and it
# keeps the words' matches but for "ı" and "ſ", which a case-insensitive "i" and "s"
# also match: a text holding either uses the patterns above (``fold_ok``).
_CLAUSE_LEAD = re.compile(r",|;|:|—|–|-(?=\s)|w(?:hile|hereas)\b|but\b|although\b")
_STRONG_LEAD = re.compile(r";|:|—|–|-(?=\s)|,(?=\s*and\b)|w(?:hile|hereas)\b|but\b|although\b")
_WORD_LEADS = "wba"


def fold_ok(text: str) -> bool:
    """May the breaks of ``text`` be looked for in its lowered copy?"""
    return "ı" not in text and "ſ" not in text


def clause_breaks(text: str, lowered: str | None, lo: int, hi: int) -> list[int]:
    """Where the clause breaks of ``text[lo:hi]`` start, as ``_CLAUSE_BREAK`` finds them.

    ``lowered``: the lowered text when ``fold_ok(text)``, else None.
    """
    if lowered is None:
        return [m.start() for m in _CLAUSE_BREAK.finditer(text, lo, hi)]
    out: list[int] = []
    end = lo  # matches do not overlap: " - - " holds one break
    for m in _CLAUSE_LEAD.finditer(lowered, lo, hi):
        s = m.start()
        c = lowered[s]
        if c == "-":
            s -= 1
            if s < end or not lowered[s].isspace():
                continue
            end = s + 3
        elif c in _WORD_LEADS:
            if s and (lowered[s - 1].isalnum() or lowered[s - 1] == "_"):
                continue  # not at a word's start: "\b" fails
            end = m.end()
        else:
            end = m.end()
        out.append(s)
    return out


def strong_break(text: str, lowered: str | None, lo: int, hi: int) -> bool:
    """Does ``STRONG_BREAK`` match in ``text[lo:hi]``? ``lowered`` as for clause_breaks."""
    if lowered is None:
        return STRONG_BREAK.search(text, lo, hi) is not None
    for m in _STRONG_LEAD.finditer(lowered, lo, hi):
        s = m.start()
        c = lowered[s]
        if c == "-":
            if s - 1 < lo or not lowered[s - 1].isspace():
                continue
        elif c in _WORD_LEADS and s and (lowered[s - 1].isalnum() or lowered[s - 1] == "_"):
            continue
        return True
    return False


_KIND_FOR_CLASS = {
    "money": "money",
    "level": "percent",
    "change": "growth",
    "pp": "growth",
    "growth": "growth",
    "multiple": "multiple",
    "count": "count",
}


class PhraseHit(NamedTuple):
    start: int  # offsets in the article text
    end: int
    phrase: str  # lower-cased vocabulary phrase


class Slot(NamedTuple):
    """A number as the classifier sees it."""

    start: int
    end: int
    klass: str  # money | level | change | pp | growth | multiple | count
    owner_name: str = ""  # the company name credited with it, as written ("Alibaba Cloud")
    joined: bool = False  # the same amount as the previous slot in another currency


def find_phrases(lowered: str, start: int, end: int, cv: CompiledVocabulary) -> list[PhraseHit]:
    """Every cue and exclude phrase in ``lowered[start:end]`` that starts a word,
    phrases inside longer phrases included ("revenue" in "AI-related product revenue").

    Only places that start a word are tried: the one at ``start`` and those right after
    a character that is neither a letter nor a digit, which the engine skips to in C
    (``phrase_after_break_re``; trying the trie at every letter cost a tenth of an
    article, issue 5, point 8). A match inside a word ("cloud revenue" in "xcloud
    revenue") is no phrase and no longer hides the whole word "revenue" after it.
    """
    pattern = cv.phrase_re
    if pattern is None:
        return []
    hits: list[PhraseHit] = []
    # isascii() reads a flag of the string: no scan.
    after_break = cv.phrase_after_break_ascii_re if lowered.isascii() else cv.phrase_after_break_re
    if after_break is None:
        # A phrase ends in a separator: scan every place, keep word starts.
        for m in pattern.finditer(lowered, start, end):
            s = m.start()
            if not (s and lowered[s - 1].isalnum()):
                _add_phrase(hits, s, m.group(), cv)
        return hits
    pos = start
    if start < end and not (start and lowered[start - 1].isalnum()):
        first = pattern.match(lowered, start, end)
        if first is not None:
            _add_phrase(hits, start, first.group(), cv)
            pos = first.end()
    memo = cv.phrase_memo
    for m in after_break.finditer(lowered, pos, end):
        s = m.start() + 1
        matched = lowered[s : m.end()]
        found = memo.get(matched)
        if found is None:
            _add_phrase(hits, s, matched, cv)
            continue
        for phrase, offset in found:
            hits.append(PhraseHit(s + offset, s + offset + len(phrase), phrase))
    return hits


def _add_phrase(hits: list[PhraseHit], s: int, matched: str, cv: CompiledVocabulary) -> None:
    found = cv.phrase_memo.get(matched)
    if found is None:
        # The scan only matches vocabulary phrases with an inflection, so the
        # distinct matched strings are few: each is resolved once per vocabulary.
        key = phrase_key(matched, cv.phrase_closure)
        found = () if key is None else tuple(cv.phrase_closure[key])
        cv.phrase_memo[matched] = found
    for phrase, offset in found:
        hits.append(PhraseHit(s + offset, s + offset + len(phrase), phrase))


def classify(
    text: str,
    slots: list[Slot],
    hits: list[PhraseHit],
    cv: CompiledVocabulary,
    lowered: str | None = None,
) -> list[tuple[str | None, bool]]:
    """(metric id or None, inherited?) for each slot of one sentence, in order.

    ``lowered``: the lowered text when ``fold_ok(text)`` (faster), else None.
    """
    if not hits:
        return [(None, False)] * len(slots)  # no cue, no veto: nothing to decide or inherit
    vetoed = _vetoes(slots, hits, cv)
    kind_cues = cv.kind_cues
    by_phrase: dict[str, list[PhraseHit]] | None = None  # for cues of more parts, if any

    out: list[tuple[str | None, bool]] = []
    last_of_class: dict[str, str | None] = {}
    starts = [sl.start for sl in slots]
    breaks: list[int] | None = None
    for i, slot in enumerate(slots):
        # The best (distance, -cue length, metric): the minimum over every cue and
        # hit of its anchor, so the order they are looked at in does not matter. A
        # cue further than MAX_CUE_DISTANCE could never be taken and is not looked at.
        # One-part cues of an anchor are equally long: of them, the first metric in
        # order that is not vetoed wins.
        best: tuple[int, int, str] | None = None
        veto = vetoed[i]
        kind = _KIND_FOR_CLASS.get(slot.klass)
        if kind is None:
            out.append((None, False))  # points, GW, TFLOPS: no metric kind takes them
            continue
        slot_start, slot_end = slot.start, slot.end
        for h in hits:
            entry = kind_cues.get((h.phrase, kind))
            if entry is None:
                continue
            singles, neg_length, multis = entry
            single: str | None = None
            for metric in singles:
                if metric not in veto:
                    single = metric
                    break
            if single is None and not multis:
                continue
            if h.end <= slot_start:
                lo, hi = h.end, slot_start
            else:
                lo, hi = slot_end, h.start
            raw = hi - lo if hi > lo else 0
            if raw > MAX_CUE_DISTANCE or (best is not None and raw > best[0]):
                continue
            # Other numbers between the cue and this one, and clause breaks there.
            between = bisect.bisect_left(starts, hi) - bisect.bisect_left(starts, lo)
            dist = raw + BETWEEN_PENALTY * between
            if dist > MAX_CUE_DISTANCE:
                continue
            if lo < hi:
                if breaks is None:
                    breaks = clause_breaks(text, lowered, *_reach(hits, slots))
                if bisect.bisect_left(breaks, hi) > bisect.bisect_left(breaks, lo):
                    dist += CLAUSE_PENALTY
                    if dist > MAX_CUE_DISTANCE:
                        continue
            if single is not None:
                cand = (dist, neg_length, single)
                if best is None or cand < best:
                    best = cand
            for cue in multis:
                if cue.metric in veto:
                    continue
                if by_phrase is None:
                    by_phrase = _by_phrase(hits)
                if all(_context_near(text, lowered, p, h, slot, by_phrase) for p in cue.parts[1:]):
                    cand = (dist, -cue.length, cue.metric)
                    if best is None or cand < best:
                        best = cand
        if best is not None:
            out.append((best[2], False))
            last_of_class[slot.klass] = best[2]
            continue
        inherited = last_of_class.get(slot.klass)
        if inherited is not None and inherited not in veto:
            out.append((inherited, True))
        else:
            out.append((None, False))
    return out


def _by_phrase(hits: list[PhraseHit]) -> dict[str, list[PhraseHit]]:
    by_phrase: dict[str, list[PhraseHit]] = {}
    for h in hits:
        group = by_phrase.get(h.phrase)
        if group is None:
            by_phrase[h.phrase] = [h]
        else:
            group.append(h)
    return by_phrase


def _reach(hits: list[PhraseHit], slots: list[Slot]) -> tuple[int, int]:
    """The stretch of the sentence that holds every cue and number."""
    lo, hi = slots[0].start, slots[-1].end
    for h in hits:
        if h.start < lo:
            lo = h.start
        if h.end > hi:
            hi = h.end
    return lo, hi


def _context_near(
    text: str,
    lowered: str | None,
    phrase: str,
    anchor: PhraseHit,
    slot: Slot,
    by_phrase: dict[str, list[PhraseHit]],
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
        if hi - lo <= CONTEXT_REACH and not strong_break(text, lowered, lo, max(lo, hi)):
            return True
    return False


_NO_VETO: frozenset[str] = frozenset()


def _vetoes(
    slots: list[Slot], hits: list[PhraseHit], cv: CompiledVocabulary
) -> list[frozenset[str]]:
    """Metrics each slot may not take: an exclude phrase vetoes for its nearest slot."""
    out = [_NO_VETO] * len(slots)
    if not slots:
        return out
    excludes = cv.excludes
    for h in hits:
        metrics = excludes.get(h.phrase)
        if not metrics:
            continue
        # The first of the nearest slots, as min() over the slots in order would pick.
        nearest, best = 0, -1
        h_start, h_end = h.start, h.end
        for j, slot in enumerate(slots):
            if h_end <= slot.start:
                d = slot.start - h_end
            elif h_start >= slot.end:
                d = h_start - slot.end
            else:
                d = 0
            if best < 0 or d < best:
                nearest, best = j, d
        if best <= EXCLUDE_REACH:
            out[nearest] = out[nearest].union(metrics)
            # "RMB120B ($16.5B) was spent": a veto on either currency holds for both.
            if slots[nearest].joined:
                out[nearest - 1] = out[nearest - 1].union(metrics)
            if nearest + 1 < len(slots) and slots[nearest + 1].joined:
                out[nearest + 1] = out[nearest + 1].union(metrics)
    return out
