"""One article in, its facts, terms and topics out: the order of the extract stage.

Numbers, names, terms and topics are found in one pass each over the whole text and
then bucketed by sentence; cue phrases are looked for only in sentences that hold a
number. Attribution, classification, periods and qualifiers are decided per sentence.
The cost is dominated by that per-number work, not by the scans (see
tests/bench/bench_extract.py).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator

from monitor.extract import context
from monitor.extract.entities import (
    Mention,
    Owner,
    attribute,
    compared_flags,
    find_mentions,
    main_entity,
    subject_of,
)
from monitor.extract.metrics import (
    PhraseHit,
    Slot,
    classify,
    find_phrases,
    fold_ok,
    strong_break,
)
from monitor.extract.quantities import Quantity, find_quantities
from monitor.extract.sentences import Sentence, iter_cuts, safe_start
from monitor.extract.terms import RawHit, find_terms, find_topics
from monitor.extract.vocab import CompiledVocabulary, compile_vocabulary
from monitor.values import Extraction, Fact, TermHit, TopicHit, Vocabulary

INHERITED_PENALTY = 0.05  # a metric taken from a list's head is a little less certain


def extract(text: str, title: str, vocab: Vocabulary, *, regex_timeout: float = 0.05) -> Extraction:
    """Facts, terms and topics of one article. Pure: no I/O, no settings."""
    cv = compile_vocabulary(vocab)
    # Same length and offsets as ``text``: line breaks become spaces so that a name or
    # phrase broken across lines still matches, and case is folded once for phrases.
    folded = text.replace("\n", " ").replace("\r", " ").replace("\t", " ")
    lowered = _lower(folded)
    # Clause breaks are looked for in the lowered text where that finds the same.
    breaks_in = lowered if fold_ok(text) else None
    pieces = _Pieces(text)
    mentions = find_mentions(folded, cv)
    mention_starts = [m.start for m in mentions]
    title_mentions = find_mentions(" ".join(title.split()), cv) if title else []
    main = main_entity(title_mentions, mentions)
    quantities = find_quantities(text)
    term_hits = find_terms(text, cv, regex_timeout)
    topic_hits = find_topics(lowered, cv)
    # The sentence of every place that needs one, looked up in text order so that one
    # scan forward serves them all.
    places = {q.start for q in quantities}
    places.update(h.start for h in term_hits)
    places.update(h.start for h in topic_hits)
    where = {pos: pieces.sentence_at(pos) for pos in sorted(places)}

    # The quantities of each sentence, in order.
    by_sentence: dict[tuple[int, int], list[Quantity]] = {}
    for q in quantities:
        piece = where[q.start]
        if piece is not None:
            by_sentence.setdefault(piece, []).append(q)

    facts: list[Fact] = []
    for piece, qs in by_sentence.items():
        sentence = pieces.sentence(piece)
        assert sentence is not None
        # Cue phrases matter only beside numbers: scan the sentences that have some.
        phrases = find_phrases(lowered, sentence.start, sentence.end, cv)
        sentence_mentions = _in_piece(mentions, mention_starts, piece)
        facts.extend(
            _sentence_facts(
                text, lowered, sentence, qs, sentence_mentions, phrases, main, cv, breaks_in
            )
        )

    terms = [
        TermHit(h.key, h.text, *_evidence(text, pieces, where, h, mentions, mention_starts, main))
        for h in term_hits
    ]
    topics = [
        TopicHit(
            h.key,
            text[h.start : h.end],
            *_evidence(text, pieces, where, h, mentions, mention_starts, main),
        )
        for h in topic_hits
    ]
    entities: dict[str, None] = {}
    for m in [*title_mentions, *mentions]:
        entities.setdefault(m.entity, None)
    return Extraction(
        main_entity=main,
        facts=tuple(facts),
        terms=tuple(terms),
        topics=tuple(topics),
        entities=tuple(entities),
    )


def _lower(folded: str) -> str:
    lowered = folded.lower()
    if len(lowered) == len(folded):
        return lowered
    # A few characters grow when lowered ("İ"); keep offsets aligned with the text.
    return "".join(ch.lower()[:1] or ch for ch in folded)


# How far before a number the search for its sentence's start begins; a sentence
# that began earlier makes the search look four times as far back, and so on.
_LOOK_BACK = 200
# A number this close after the end of the last sentence found continues that scan
# rather than starting a new one.
_CONTINUE = 400


class _Pieces:
    """The article's sentences, found only where something was found.

    The cuts of ``sentences.iter_cuts`` divide the text into pieces; a sentence is a
    piece trimmed (a blank piece is none), named here by where its piece starts. An
    article has some fifty sentences of which a dozen hold a number: the cuts are
    looked for only around the places asked about, the rest of the text is skipped
    (issue 5, point 8). The answers are those of a scan of the whole text.
    """

    __slots__ = ("built", "current", "known", "last_cut", "n", "stream", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.current = (0, -1)  # the piece found last: (start, end)
        self.known: list[tuple[int, int]] = []  # every piece found, in order
        self.stream: Iterator[int] | None = None  # the scan that found it, to go on with
        self.last_cut = 0  # the last cut that scan gave (the end of ``current``)
        self.built: dict[int, Sentence | None] = {}

    def piece(self, pos: int) -> tuple[int, int]:
        """(start, end) of the piece holding ``pos``: the last cut at or before it (or
        0) and the first cut after it (or the text's end)."""
        a, b = self.current
        if a <= pos < b:
            return self.current
        k = bisect.bisect_right(self.known, (pos, self.n)) - 1
        if k >= 0 and self.known[k][0] <= pos < self.known[k][1]:
            return self.known[k]  # a term or topic in a sentence with a number
        stream = self.stream
        if stream is not None and self.last_cut <= pos < self.last_cut + _CONTINUE:
            start = self.last_cut
        else:
            start, stream = self._restart(pos)
        end = self.n
        for cut in stream:
            if cut > pos:
                end = cut
                break
            start = cut
        return self._found(start, end, stream, end)

    def _restart(self, pos: int) -> tuple[int, Iterator[int]]:
        """A new scan with a cut at or before ``pos`` (or 0): (that cut, the scan after it)."""
        reach = _LOOK_BACK
        while True:
            lo = safe_start(self.text, max(0, pos - reach))
            stream = iter_cuts(self.text, lo)
            if lo == 0:
                return 0, stream
            first = next(stream, None)
            if first is not None and first <= pos:
                return first, stream
            reach *= 4  # the sentence began further back

    def _found(self, start: int, end: int, stream: Iterator[int], last_cut: int) -> tuple[int, int]:
        self.current = (start, end)
        k = bisect.bisect_left(self.known, self.current)
        if k == len(self.known) or self.known[k] != self.current:
            self.known.insert(k, self.current)
        self.stream = stream if end < self.n else None
        self.last_cut = last_cut
        return self.current

    def sentence_at(self, pos: int) -> tuple[int, int] | None:
        """The piece of the last sentence starting at or before ``pos`` (so the one
        holding it when ``pos`` is visible); None if no sentence starts so early."""
        piece = self.piece(pos)
        if pos < self.n and not self.text[pos].isspace():
            return piece  # a visible character lies in its piece's trimmed sentence
        while True:
            s = self.sentence(piece)
            if s is not None and s.start <= pos:
                return piece
            if piece[0] == 0:
                return None
            piece = self.piece(piece[0] - 1)

    def first(self) -> tuple[int, int] | None:
        """The piece of the first sentence; None if the text is blank."""
        piece = self.piece(0)
        while self.sentence(piece) is None:
            if piece[1] >= self.n:
                return None
            piece = self.piece(piece[1])
        return piece

    def sentence(self, piece: tuple[int, int]) -> Sentence | None:
        begin, end = piece
        if begin in self.built:
            return self.built[begin]
        text = self.text[begin:end]
        body = text.strip()
        s = None
        if body:
            start = begin + text.find(body[0])  # the first visible character
            s = Sentence(start, start + len(body), body)
        self.built[begin] = s
        return s


def _in_piece(items: list[Mention], starts: list[int], piece: tuple[int, int]) -> list[Mention]:
    return items[bisect.bisect_left(starts, piece[0]) : bisect.bisect_left(starts, piece[1])]


def _evidence(
    text: str,
    pieces: _Pieces,
    where: dict[int, tuple[int, int] | None],
    hit: RawHit,
    mentions: list[Mention],
    mention_starts: list[int],
    main: str | None,
) -> tuple[str, tuple[int, int], str | None]:
    piece = where[hit.start]
    if piece is None:
        piece = pieces.first()
        if piece is None:
            return text, (hit.start, hit.end), main
    sentence = pieces.sentence(piece)
    assert sentence is not None
    entity = subject_of(
        text, hit.start, sentence.start, _in_piece(mentions, mention_starts, piece), main
    )
    return sentence.text, (hit.start, hit.end), entity


def _owner_name(text: str, lowered: str | None, owner: Owner, q: Quantity) -> str:
    """The credited name as written, when it is in the number's own clause.

    "Alibaba Cloud's ... revenue increase" gives the number a cloud context; a name
    behind a strong break ("..., and AI-related products ...") does not.
    """
    m = owner.mention
    if m is None:
        return ""
    lo, hi = (m.end, q.start) if m.end <= q.start else (q.end, m.start)
    if strong_break(text, lowered, lo, max(lo, hi)):
        return ""
    return text[m.start : m.end]


_GAP_BREAK = re.compile(r"[,;—(]")


def _split_gap(text: str, a_end: int, b_start: int) -> int:
    """Where the words between two numbers stop describing the first one.

    At the first clause break if there is one ("a 34% surge in Q3 2025, driven by
    triple-digit growth"); else most of the gap goes to the first number, since
    news dates a figure after it ("declined 76% in Q4 2025").
    """
    brk = _GAP_BREAK.search(text, a_end, b_start)
    if brk is not None:
        return brk.start()
    return a_end + ((b_start - a_end) * 7) // 10


# Confidences as stored (rounded to 2 places), by the raw value: a handful of values.
_ROUNDED: dict[float, float] = {}


def _sentence_facts(
    text: str,
    lowered: str,
    sentence: Sentence,
    qs: list[Quantity],
    mentions: list[Mention],
    phrases: list[PhraseHit],
    main: str | None,
    cv: CompiledVocabulary,
    breaks_in: str | None,
) -> list[Fact]:
    """The facts of one sentence. ``breaks_in``: see ``metrics.fold_ok``."""
    s0, s1 = sentence.start, sentence.end
    n = len(qs)
    directions: list[str | None] = []
    slots: list[Slot] = []
    owners_found: list[Owner] = []
    compared = compared_flags(text, s0, mentions)  # once per sentence, not per number
    any_level = any_multiple = False
    for i, q in enumerate(qs):
        direction = None
        unit = klass = q.unit
        if unit == "percent":
            lo = max(s0, qs[i - 1].end if i else s0, q.start - 40)
            hi = min(s1, qs[i + 1].start if i + 1 < n else s1, q.end + 40)
            direction = context.change_direction(text[lo : q.start], text[q.end : hi])
            klass = "change" if direction else "level"
            any_level = any_level or direction is None
        elif unit == "pp":
            lo = max(s0, q.start - 40)
            direction = context.change_direction(text[lo : q.start], text[q.end : q.end + 40])
        elif unit == "multiple":
            any_multiple = True
        directions.append(direction)
        o = attribute(
            text, q.start, q.end, s0, mentions, main,
            parenthesised=q.parenthesised, compared=compared,
        )  # fmt: skip
        owners_found.append(o)
        name = "" if o.mention is None else _owner_name(text, breaks_in, o, q)
        slots.append(Slot(q.start, q.end, klass, name, q.second_currency))
    metrics = classify(text, slots, phrases, cv, breaks_in)
    owners = [
        (o.entity, o.confidence - (INHERITED_PENALTY if inherited else 0.0), metric)
        for o, (metric, inherited) in zip(owners_found, metrics, strict=True)
    ]
    # The second currency of "RMB120 billion ($16.5 billion)" is the same amount: it
    # shares the first one's owner and metric.
    linked = [False] * n  # linked[i]: qs[i] is the second currency of qs[i - 1]
    for i in range(1, n):
        if qs[i].second_currency:
            owners[i] = owners[i - 1]
            linked[i] = True
    # Where the words between two neighbouring numbers change hands (see _split_gap).
    gaps = [_split_gap(text, qs[k].end, qs[k + 1].start) - s0 for k in range(n - 1)]

    low = lowered[s0:s1]
    periods = context.periods_in(low, qs[0].start - s0)
    marks = context.comparison_marks(low)
    scopes = context.scopes_in(low) if any_level else []
    bases = context.bases_in(low) if any_multiple else []
    facts: list[Fact] = []
    for i, q in enumerate(qs):
        entity, raw_confidence, metric = owners[i]
        direction = directions[i]
        rel_s, rel_e = q.start - s0, q.end - s0
        # A linked pair ("$53 billion (RMB 380 billion) over the next three years") is
        # one amount: it owns the stretch around both numbers.
        lo = i - 1 if linked[i] else i
        hi = i + 1 if i + 1 < n and linked[i + 1] else i
        owned = (gaps[lo - 1] if lo else 0, gaps[hi] if hi + 1 < n else s1 - s0)
        span_s, span_e = qs[lo].start - s0, qs[hi].end - s0
        period = context.period_for(low, periods, span_s, span_e, q.unit, owned, marks)
        qualifiers: tuple[tuple[str, str], ...] = ()
        # Sorted pairs: "basis" before "scope".
        if q.unit == "multiple":
            basis = context.basis_for(bases, rel_s, rel_e)
            if basis is not None:
                qualifiers = (("basis", basis),)
        if slots[i].klass == "level":
            scope = context.scope_for(scopes, rel_s, rel_e, owned)
            if scope is not None:
                qualifiers = (*qualifiers, ("scope", scope))
        confidence = _ROUNDED.get(raw_confidence)
        if confidence is None:
            confidence = _ROUNDED.setdefault(raw_confidence, round(raw_confidence, 2))
        if direction == "down":
            value, high = -q.value, None if q.value_high is None else -q.value_high
        else:
            value, high = q.value, q.value_high
        facts.append(
            Fact(
                entity=entity,
                metric=metric,
                value=value,
                unit=q.unit,
                surface=q.surface,
                quote=sentence.text,
                span=(q.start, q.end),
                confidence=confidence,
                currency=q.currency,
                period=period,
                qualifiers=qualifiers,
                approx=q.approx,
                value_high=high,
                alt_value=q.alt_value,
                alt_currency=q.alt_currency,
            )
        )
    return facts
