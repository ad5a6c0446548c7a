"""One article in, its facts, terms and topics out: the order of the extract stage.

Every matcher runs once over the whole text (numbers, names, cue phrases, terms,
topics); the results are then bucketed by sentence, which is where attribution and
classification happen. That keeps an 800-word article well under a millisecond of
regex work.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TypeVar

from monitor.extract import context
from monitor.extract.entities import (
    Mention,
    Owner,
    attribute,
    find_mentions,
    main_entity,
    subject_of,
)
from monitor.extract.metrics import STRONG_BREAK, PhraseHit, Slot, classify, find_phrases
from monitor.extract.quantities import Quantity, find_quantities
from monitor.extract.sentences import Sentence, split_sentences
from monitor.extract.terms import RawHit, find_terms, find_topics
from monitor.extract.vocab import CompiledVocabulary, compile_vocabulary
from monitor.values import Extraction, Fact, TermHit, TopicHit, Vocabulary

INHERITED_PENALTY = 0.05  # a metric taken from a list's head is a little less certain

_T = TypeVar("_T", Quantity, Mention, PhraseHit, RawHit)


@dataclass(frozen=True, slots=True)
class _Owner:
    entity: str | None
    confidence: float
    metric: str | None
    inherited: bool


def extract(text: str, title: str, vocab: Vocabulary, *, regex_timeout: float = 0.05) -> Extraction:
    """Facts, terms and topics of one article. Pure: no I/O, no settings."""
    cv = compile_vocabulary(vocab)
    # Same length and offsets as ``text``: line breaks become spaces so that a name or
    # phrase broken across lines still matches, and case is folded once for phrases.
    folded = text.replace("\n", " ").replace("\r", " ").replace("\t", " ")
    lowered = _lower(folded)
    sentences = split_sentences(text)
    starts = [s.start for s in sentences]
    mentions = find_mentions(folded, cv)
    main = main_entity(title, mentions, cv)
    quantities = find_quantities(text)

    by_sentence_q = _bucket(quantities, starts)
    by_sentence_m = _bucket(mentions, starts)

    facts: list[Fact] = []
    for idx, qs in sorted(by_sentence_q.items()):
        sentence = sentences[idx]
        # Cue phrases matter only beside numbers: scan the sentences that have some.
        phrases = find_phrases(lowered, sentence.start, sentence.end, cv)
        facts.extend(
            _sentence_facts(
                text, lowered, sentence, qs, by_sentence_m.get(idx, []), phrases, main, cv
            )
        )

    terms = [
        TermHit(h.key, h.text, *_evidence(text, sentences, starts, h, by_sentence_m, main))
        for h in find_terms(text, cv, regex_timeout)
    ]
    topics = [
        TopicHit(
            h.key, text[h.start : h.end], *_evidence(text, sentences, starts, h, by_sentence_m, main)
        )
        for h in find_topics(lowered, cv)
    ]
    entities: dict[str, None] = {}
    title_mentions = find_mentions(" ".join(title.split()), cv) if title else []
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


def _bucket(items: list[_T], starts: list[int]) -> dict[int, list[_T]]:
    out: dict[int, list[_T]] = {}
    for item in items:
        idx = bisect.bisect_right(starts, item.start) - 1
        if idx >= 0:
            out.setdefault(idx, []).append(item)
    return out


def _evidence(
    text: str,
    sentences: list[Sentence],
    starts: list[int],
    hit: RawHit,
    by_sentence_m: dict[int, list[Mention]],
    main: str | None,
) -> tuple[str, tuple[int, int], str | None]:
    idx = max(0, bisect.bisect_right(starts, hit.start) - 1)
    if not sentences:
        return text, (hit.start, hit.end), main
    sentence = sentences[idx]
    entity = subject_of(text, hit.start, sentence.start, by_sentence_m.get(idx, []), main)
    return sentence.text, (hit.start, hit.end), entity


def _owner_name(text: str, owner: Owner, q: Quantity) -> str:
    """The credited name as written, when it is in the number's own clause.

    "Alibaba Cloud's ... revenue increase" gives the number a cloud context; a name
    behind a strong break ("..., and AI-related products ...") does not.
    """
    m = owner.mention
    if m is None:
        return ""
    lo, hi = (m.end, q.start) if m.end <= q.start else (q.end, m.start)
    if STRONG_BREAK.search(text, lo, max(lo, hi)):
        return ""
    return text[m.start : m.end]


def _split_gap(text: str, a_end: int, b_start: int) -> int:
    """Where the words between two numbers stop describing the first one.

    At the first clause break if there is one ("a 34% surge in Q3 2025, driven by
    triple-digit growth"); else most of the gap goes to the first number, since
    news dates a figure after it ("declined 76% in Q4 2025").
    """
    gap = text[a_end:b_start]
    for i, ch in enumerate(gap):
        if ch in ",;—(":
            return a_end + i
    return a_end + (len(gap) * 7) // 10


def _sentence_facts(
    text: str,
    lowered: str,
    sentence: Sentence,
    qs: list[Quantity],
    mentions: list[Mention],
    phrases: list[PhraseHit],
    main: str | None,
    cv: CompiledVocabulary,
) -> list[Fact]:
    s0, s1 = sentence.start, sentence.end
    directions: list[str | None] = []
    slots: list[Slot] = []
    for i, q in enumerate(qs):
        direction = None
        klass = q.unit
        if q.unit == "percent":
            lo = max(s0, qs[i - 1].end if i else s0, q.start - 40)
            hi = min(s1, qs[i + 1].start if i + 1 < len(qs) else s1, q.end + 40)
            direction = context.change_direction(text[lo : q.start], text[q.end : hi])
            klass = "change" if direction else "level"
        elif q.unit == "pp":
            lo = max(s0, q.start - 40)
            direction = context.change_direction(text[lo : q.start], text[q.end : q.end + 40])
        directions.append(direction)
        slots.append(Slot(q.start, q.end, klass))
    owners_found = [
        attribute(text, q.start, q.end, s0, mentions, main, parenthesised=q.parenthesised)
        for q in qs
    ]
    slots = [
        Slot(sl.start, sl.end, sl.klass, _owner_name(text, o, q), q.second_currency)
        for sl, o, q in zip(slots, owners_found, qs, strict=True)
    ]
    metrics = classify(text, slots, phrases, cv)
    owners = [
        _Owner(o.entity, o.confidence, metric, inherited)
        for o, (metric, inherited) in zip(owners_found, metrics, strict=True)
    ]
    # The second currency of "RMB120 billion ($16.5 billion)" is the same amount: it
    # shares the first one's owner and metric.
    linked = [False] * len(qs)  # linked[i]: qs[i] is the second currency of qs[i - 1]
    for i in range(1, len(qs)):
        if qs[i].second_currency:
            owners[i] = owners[i - 1]
            linked[i] = True

    low = lowered[s0:s1]
    periods = context.periods_in(low, qs[0].start - s0)
    facts: list[Fact] = []
    for i, (q, owner, direction) in enumerate(zip(qs, owners, directions, strict=True)):
        rel_s, rel_e = q.start - s0, q.end - s0
        # A linked pair ("$53 billion (RMB 380 billion) over the next three years") is
        # one amount: it owns the stretch around both numbers.
        lo = i - 1 if linked[i] else i
        hi = i + 1 if i + 1 < len(qs) and linked[i + 1] else i
        owned = (
            _split_gap(text, qs[lo - 1].end, qs[lo].start) - s0 if lo else 0,
            _split_gap(text, qs[hi].end, qs[hi + 1].start) - s0 if hi + 1 < len(qs) else s1 - s0,
        )
        span_s, span_e = qs[lo].start - s0, qs[hi].end - s0
        period = context.period_for(low, periods, span_s, span_e, q.unit, owned)
        qualifiers: list[tuple[str, str]] = []
        if slots[i].klass == "level":
            scope = context.scope_for(low, rel_s, rel_e, owned)
            if scope is not None:
                qualifiers.append(("scope", scope))
        if q.unit == "multiple":
            basis = context.basis_for(low, rel_s, rel_e)
            if basis is not None:
                qualifiers.append(("basis", basis))
        sign = -1.0 if direction == "down" else 1.0
        confidence = owner.confidence - (INHERITED_PENALTY if owner.inherited else 0.0)
        facts.append(
            Fact(
                entity=owner.entity,
                metric=owner.metric,
                value=sign * q.value,
                unit=q.unit,
                surface=q.surface,
                quote=sentence.text,
                span=(q.start, q.end),
                confidence=round(confidence, 2),
                currency=q.currency,
                period=period,
                qualifiers=tuple(sorted(qualifiers)),
                approx=q.approx,
                value_high=None if q.value_high is None else sign * q.value_high,
                alt_value=q.alt_value,
                alt_currency=q.alt_currency,
            )
        )
    return facts
