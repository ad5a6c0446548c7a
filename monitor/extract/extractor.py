"""One article in, its facts, terms and topics out: the order of the extract stage.

Numbers, names, terms and topics are found in one pass each over the whole text;
sentence boundaries are found only around them (``Pieces``), and cue phrases are
looked for only in sentences that hold a number. Attribution, classification, periods
and qualifiers are decided per sentence. The cost is dominated by that per-number
work, not by the scans (see tests/bench/bench_extract.py).
"""

from __future__ import annotations

import bisect
import re

from monitor.extract import number_context
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
from monitor.extract.organisations import find_organisations, organisation_mentions
from monitor.extract.quantities import Quantity, find_quantities
from monitor.extract.respectively import pair_respectively
from monitor.extract.sentences import Pieces, Sentence
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
    pieces = Pieces(text)
    cues: list[tuple[int, int]] = []
    mentions = find_mentions(folded, cv, cues)
    # Companies outside the vocabulary, so that their figures are not given to the
    # article's main company (issue 13).
    organisations, org_names = find_organisations(folded, mentions, cues)
    if organisations:
        mentions = sorted([*mentions, *organisations])
    mention_starts = [m.start for m in mentions]
    title_folded = " ".join(title.split())
    title_mentions = find_mentions(title_folded, cv) if title else []
    if org_names and title:
        title_mentions.extend(organisation_mentions(title_folded, org_names))
    main = main_entity(title_mentions, mentions)
    quantities = find_quantities(text)
    skipped: list[str] = []
    term_hits = find_terms(text, cv, regex_timeout, skipped)
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
        if len(qs) > 1:
            qs = _without_prior(text, piece[0], qs)
        parts = [(sentence, qs)] if len(qs) <= MAX_SENTENCE_FIGURES else _parts(text, sentence, qs)
        for part, part_qs in parts:
            # Cue phrases matter only beside numbers: scan the sentences that have some.
            phrases = find_phrases(lowered, part.start, part.end, cv)
            in_part = (part.start, part.end) if part is not sentence else piece
            sentence_mentions = _in_piece(mentions, mention_starts, in_part)
            facts.extend(
                _sentence_facts(
                    text, lowered, part, part_qs, sentence_mentions, phrases, main, cv, breaks_in
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
    in_title: dict[str, None] = {}
    for m in sorted(title_mentions, key=lambda m: m.start):
        in_title.setdefault(m.entity, None)
    # How the article names the company its headline is about ("Advanced Micro Devices",
    # "AMD"): the story level leaves these words out of its comparison of wording.
    lead = next(iter(in_title), main)
    lead_names: dict[str, None] = {}
    for m in title_mentions:
        if m.entity == lead:
            lead_names.setdefault(title_folded[m.start : m.end], None)
    for m in mentions:
        if m.entity == lead:
            lead_names.setdefault(folded[m.start : m.end], None)
    entities: dict[str, None] = {}
    for m in [*title_mentions, *mentions]:
        entities.setdefault(m.entity, None)
    return Extraction(
        main_entity=main,
        facts=tuple(facts),
        terms=tuple(terms),
        topics=tuple(topics),
        entities=tuple(entities),
        organisations=tuple(org_names.items()),
        title_entities=tuple(in_title),
        company_names=tuple(lead_names),
        skipped_terms=tuple(skipped),
    )


# A "sentence" with more figures than this is no sentence (a table flattened into text, a
# page without full stops): it is read in stretches of this many figures, each the
# evidence of its own. Reading one whole costs the square of its figures (each figure
# against each cue phrase): 200 KB of it took 16 s.
MAX_SENTENCE_FIGURES = 40


def _parts(
    text: str, sentence: Sentence, qs: list[Quantity]
) -> list[tuple[Sentence, list[Quantity]]]:
    """``sentence`` cut between its figures into stretches of ``MAX_SENTENCE_FIGURES``."""
    out = []
    start = sentence.start
    for at in range(0, len(qs), MAX_SENTENCE_FIGURES):
        group = qs[at : at + MAX_SENTENCE_FIGURES]
        rest = at + MAX_SENTENCE_FIGURES
        end = qs[rest].start if rest < len(qs) else sentence.end
        body = text[start:end].strip()
        lead = text.find(body[0], start) if body else start
        out.append((Sentence(lead, lead + len(body), body), group))
        start = group[-1].end
    return out


def _lower(folded: str) -> str:
    lowered = folded.lower()
    if len(lowered) == len(folded):
        return lowered
    # A few characters grow when lowered ("İ"); keep offsets aligned with the text.
    return "".join(ch.lower()[:1] or ch for ch in folded)


def _in_piece(items: list[Mention], starts: list[int], piece: tuple[int, int]) -> list[Mention]:
    return items[bisect.bisect_left(starts, piece[0]) : bisect.bisect_left(starts, piece[1])]


def _evidence(
    text: str,
    pieces: Pieces,
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

    At the first clause break if there is one ("a 34% rise in Q3 2025, on the back of
    triple-digit growth"); else most of the gap goes to the first number, since
    news dates a figure after it ("declined 76% in Q4 2025").
    """
    brk = _GAP_BREAK.search(text, a_end, b_start)
    if brk is not None:
        return brk.start()
    return a_end + ((b_start - a_end) * 7) // 10


# Confidences as stored (rounded to 2 places), by the raw value: a handful of values.
_ROUNDED: dict[float, float] = {}


# "slipped to 34% from 36%", "115 billion yuan, up from the 100 billion yuan it planned":
# right after the figure, the value it changed from; "rose from $40 billion to $45
# billion": after a change word, the value it changed from, then the new one. Not any
# "from" before a number ("aside from the $5 billion buyback", "proceeds from the $2
# billion bond sale"), nor a lone "slipped from $8 billion", which gives no new value.
_AFTER_NEW = re.compile(
    r"[\s,]*(?:(?:up|down)\s+)?from\s+(?:(?:the|a|an|about|around|roughly|some|nearly)\s+)?",
    re.IGNORECASE,
)
_CHANGED_FROM = re.compile(
    r"\b(?:rose|risen|rises|rising|fell|fallen|falls|falling|slipped|slid|dropped|declined"
    r"|grew|grown|climbed|jumped|increased|decreased|raised|lifted|cut|lowered|narrowed"
    r"|widened|expanded|shrank|surged|plunged|edged|went|moved|changed)"
    r"\s+(?:\w+\s+)?from\s+(?:(?:the|a|an|about|around|roughly|some|nearly)\s+)?$",
    re.IGNORECASE,
)
_THEN_TO = re.compile(r"\s+to\s+(?:(?:a|an|about|around|roughly|some|nearly)\s+)?", re.IGNORECASE)
_PRIOR_REACH = 40  # characters before a number


def _without_prior(text: str, start: int, qs: list[Quantity]) -> list[Quantity]:
    """The sentence's quantities without the values a figure changed from, where the
    sentence gives the value it changed to (of the same unit and currency): stored as
    facts, a market share "from 36%" was a second, current share of 36% in the series and
    in what changed."""
    gone: set[int] = set()
    for i, q in enumerate(qs):
        if text.find("from", max(start, q.start - _PRIOR_REACH), q.start) == -1:
            continue
        same = (q.unit, q.currency)
        before = qs[i - 1] if i else None
        after = qs[i + 1] if i + 1 < len(qs) else None
        if (
            before is not None
            and (before.unit, before.currency) == same
            and _AFTER_NEW.fullmatch(text, before.end, q.start)
        ) or (
            after is not None
            and (after.unit, after.currency) == same
            and _CHANGED_FROM.search(text, max(start, q.start - _PRIOR_REACH), q.start)
            and _THEN_TO.fullmatch(text, q.end, after.start)
        ):
            gone.add(i)
    return [q for i, q in enumerate(qs) if i not in gone] if gone else qs


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
    s0, s1, quote = sentence
    n = len(qs)
    directions: list[str | None] = [None] * n
    slots: list[Slot] = []
    owners_found: list[Owner] = []
    if mentions and any(q.unit == "count" for q in qs):
        # "10,000 Nvidia A100 chips": a name inside a figure describes it; it owns
        # neither that figure nor the next ones.
        mentions = [m for m in mentions if not any(q.start < m.start < q.end for q in qs)]
    compared = compared_flags(text, s0, mentions) if mentions else []  # once per sentence
    any_level = any_multiple = False
    prev_end = s0
    previous: tuple[int, Owner] | None = None
    for i, q in enumerate(qs):
        start, end, unit = q.start, q.end, q.unit
        klass = unit
        if unit == "percent":
            lo = max(prev_end, start - 40)  # prev_end >= s0
            hi = min(s1, qs[i + 1].start if i + 1 < n else s1, end + 40)
            direction = number_context.change_direction(text[lo:start], text[end:hi])
            directions[i] = direction
            if direction:
                klass = "change"
            else:
                klass = "level"
                any_level = True
        elif unit == "pp":
            lo = max(s0, start - 40)
            directions[i] = number_context.change_direction(text[lo:start], text[end : end + 40])
        elif unit == "multiple":
            any_multiple = True
        prev_end = end
        o = attribute(text, start, end, s0, mentions, main, q.parenthesised, compared, previous)
        owners_found.append(o)
        if not q.second_currency:
            previous = (end, o)
        name = "" if o.mention is None else _owner_name(text, breaks_in, o, q)
        slots.append(Slot(start, end, klass, name, q.second_currency))
    owners_found = pair_respectively(text, (s0, s1), qs, mentions, owners_found)
    metrics = classify(text, slots, phrases, cv, breaks_in)
    # Where the words between two neighbouring numbers change hands (see _split_gap).
    gaps = [_split_gap(text, qs[k].end, qs[k + 1].start) - s0 for k in range(n - 1)]

    low = lowered[s0:s1]
    periods = number_context.periods_in(low, qs[0].start - s0)
    marks = number_context.comparison_marks(low)
    dated = bool(periods) or marks[0] or marks[1]  # else every period is None
    scopes = number_context.scopes_in(low) if any_level else []
    bases = number_context.bases_in(low) if any_multiple else []
    facts: list[Fact] = []
    owner: tuple[str | None, float, str | None] = (None, 0.0, None)
    for i, q in enumerate(qs):
        linked = q.second_currency and i > 0
        if linked:
            # The second currency of "RMB120 billion ($16.5 billion)" is the same
            # amount: it shares the first one's owner and metric.
            entity, raw_confidence, metric = owner
        else:
            o = owners_found[i]
            metric, inherited = metrics[i]
            entity = o.entity
            raw_confidence = o.confidence - (INHERITED_PENALTY if inherited else 0.0)
            owner = (entity, raw_confidence, metric)
        start, end, unit = q.start, q.end, q.unit
        rel_s, rel_e = start - s0, end - s0
        level = slots[i].klass == "level"
        period = None
        owned = (0, 0)
        if dated or level:
            # A linked pair ("$53 billion (RMB 380 billion) across three years") is
            # one amount: it owns the stretch around both numbers.
            lo = i - 1 if linked else i
            hi = i + 1 if i + 1 < n and qs[i + 1].second_currency else i
            owned = (gaps[lo - 1] if lo else 0, gaps[hi] if hi + 1 < n else s1 - s0)
            if dated:
                span_s, span_e = qs[lo].start - s0, qs[hi].end - s0
                period = number_context.period_for(low, periods, span_s, span_e, unit, owned, marks)
        qualifiers: tuple[tuple[str, str], ...] = ()
        # Sorted pairs: "basis" before "scope".
        if unit == "multiple":
            basis = number_context.basis_for(bases, rel_s, rel_e)
            if basis is not None:
                qualifiers = (("basis", basis),)
        if level:
            scope = number_context.scope_for(scopes, rel_s, rel_e, owned)
            if scope is not None:
                qualifiers = (*qualifiers, ("scope", scope))
        confidence = _ROUNDED.get(raw_confidence)
        if confidence is None:
            confidence = _ROUNDED.setdefault(raw_confidence, round(raw_confidence, 2))
        value, high = q.value, q.value_high
        if directions[i] == "down":
            # "fell 0%": 0, not -0.0
            value, high = -value or 0.0, None if high is None else -high or 0.0
        fact = Fact(
            entity, metric, value, unit, q.surface, quote, (start, end), confidence,
            q.currency, period, qualifiers, q.approx, high, q.alt_value, q.alt_currency,
        )  # fmt: skip
        facts.append(fact)
    return facts
