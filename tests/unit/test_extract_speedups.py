"""The extractor's shortcuts (issue 5, point 8) give the answers of the plain way.

Each shortcut is checked against the straightforward computation it replaces, on
the real articles and on random texts made of the characters that decide it.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import random

import pytest

from monitor.extract import extract
from monitor.extract.extractor import _lower
from monitor.extract.metrics import (
    _CLAUSE_BREAK,
    STRONG_BREAK,
    PhraseHit,
    clause_breaks,
    find_phrases,
    fold_ok,
    strong_break,
)
from monitor.extract.number_context import _QOQ, _has_qoq
from monitor.extract.quantities import Quantity, find_quantities
from monitor.extract.sentences import (
    _PLAIN_SCAN,
    _SCAN,
    Pieces,
    iter_cuts,
    safe_start,
    sentence_cuts,
    split_sentences,
)
from monitor.extract.terms import _word_end, find_terms, find_topics
from monitor.extract.vocab import (
    CompiledVocabulary,
    compile_vocabulary,
    phrase_key,
    required_prefix,
)
from monitor.values import TopicDef, Vocabulary
from tests.unit.extract_gold import GOLD, SHARED_SEEDS, demo_documents, load_vocabulary

VOCAB = load_vocabulary()

_SENTENCE_ATOMS = (
    ".", "!", "?", "\n", "\n\n", " \n \n ", "\t", " ", " ", " ", "a", "The", "U.S", "Inc",
    "vs", "e.g", "A", "(", ")", "[3]", "]", '"', "'", "”", "’", "“", "3", "4.5", "2025", ",",
    ";", ":", "-", "•", "\xa0", "²", "İ", "Alibaba", "word", "\r", "...",
)  # fmt: skip
_BREAK_ATOMS = (
    ",", ";", ":", "—", "–", "-", " - ", " -", "- ", " ", "\n", "\t", "\xa0", "while", "While",
    "WHILE", "whereas", "but", "But", "although", "and", "And", ", and", ",  and", "x", "_",
    "a", "b", "w", "1", "İ", "K", "Σ", "É", "bUt", "whİle", "ALTHOUGH", "Ⅰ", "ß", "ı", "ſ",
)  # fmt: skip


def _texts() -> list[str]:
    texts = [c.text for c in GOLD] + [body for _, body in demo_documents()]
    if SHARED_SEEDS.is_dir():
        texts += [p.read_text(encoding="utf-8") for p in sorted(SHARED_SEEDS.glob("*.txt"))]
    rng = random.Random(8)
    for _ in range(400):
        texts.append("".join(rng.choice(_SENTENCE_ATOMS) for _ in range(rng.randrange(60))))
    return texts


def _plain_sentence_index(starts: list[int], pos: int) -> int | None:
    """The last of the whole text's sentences to start at or before ``pos``."""
    idx = bisect.bisect_right(starts, pos) - 1
    return idx if idx >= 0 else None


@pytest.mark.parametrize("order", ["forward", "shuffled"])
def test_sentences_found_on_demand_are_those_of_the_whole_text(order: str) -> None:
    rng = random.Random(3)
    for text in _texts():
        whole = split_sentences(text)
        starts = [s.start for s in whole]
        pieces = Pieces(text)
        positions = list(range(len(text)))
        if order == "shuffled":
            rng.shuffle(positions)
        for pos in positions:
            idx = _plain_sentence_index(starts, pos)
            piece = pieces.sentence_at(pos)
            if idx is None:
                assert piece is None, (text, pos)
                continue
            assert piece is not None, (text, pos)
            assert pieces.sentence(piece) == whole[idx], (text, pos)
        first = pieces.first()
        if whole:
            assert first is not None and pieces.sentence(first) == whole[0]
        else:
            assert first is None


def test_a_scan_from_a_safe_start_finds_the_whole_text_cuts_after_it() -> None:
    rng = random.Random(4)
    for text in _texts():
        cuts = sentence_cuts(text)
        for _ in range(5):
            lo = safe_start(text, rng.randrange(len(text) + 1))
            assert lo == 0 or text[lo - 1].isalpha()
            assert list(iter_cuts(text, lo)) == [c for c in cuts if c >= lo], (text, lo)


def test_split_sentences_is_built_from_the_cuts() -> None:
    for text in _texts():
        sentences = split_sentences(text)
        bounds = [0, *sentence_cuts(text), len(text)]
        pieces = [text[a:b].strip() for a, b in itertools.pairwise(bounds)]
        assert [s.text for s in sentences] == [p for p in pieces if p]
        for s in sentences:
            assert text[s.start : s.end] == s.text


def test_breaks_in_the_lowered_text_are_those_of_the_case_insensitive_patterns() -> None:
    rng = random.Random(5)
    checked = 0
    for _ in range(20000):
        text = "".join(rng.choice(_BREAK_ATOMS) for _ in range(rng.randrange(20)))
        lo = rng.randrange(len(text) + 1)
        hi = rng.randrange(lo, len(text) + 1)
        want = [m.start() for m in _CLAUSE_BREAK.finditer(text, lo, hi)]
        strong = STRONG_BREAK.search(text, lo, hi) is not None
        lowered = _lower(text.replace("\n", " ").replace("\r", " ").replace("\t", " "))
        usable = lowered if fold_ok(text) else None
        assert clause_breaks(text, usable, lo, hi) == want, (text, lo, hi)
        assert strong_break(text, usable, lo, hi) == strong, (text, lo, hi)
        assert clause_breaks(text, None, lo, hi) == want
        checked += usable is not None
    assert checked > 5000  # most random texts take the fast way


def test_dotless_i_and_long_s_keep_the_case_insensitive_patterns() -> None:
    # A case-insensitive "i" matches "ı" and "s" matches "ſ"; their lower case does not.
    assert not fold_ok("whıle") and not fold_ok("whereaſ")
    assert fold_ok("While, whereas")
    facts = extract("Alibaba said its cloud revenue grew 34% whıle profit fell 5%.", "", VOCAB)
    assert [f.value for f in facts.facts] == [34.0, -5.0]


def test_phrase_lookups_are_remembered_without_changing_the_hits() -> None:
    cv = compile_vocabulary(VOCAB)
    text = "its AI-related product revenue and capital expenditures rose; the plan invests"
    lowered = text.lower()
    first = find_phrases(lowered, 0, len(lowered), cv)
    assert cv.phrase_memo  # the matched strings were resolved once ...
    assert find_phrases(lowered, 0, len(lowered), cv) == first  # ... and give the same
    assert {"revenue", "ai-related product revenue", "capital expenditures"} <= {
        h.phrase for h in first
    }


def test_sentences_without_a_cue_take_no_metric() -> None:
    result = extract("It closed at $12.5 and 7% in a calm session.", "Alibaba", VOCAB)
    assert [(f.metric, f.value) for f in result.facts] == [(None, 12.5), (None, 7.0)]


def test_topic_phrases_sharing_a_first_word_are_found_or_skipped_together() -> None:
    vocab = Vocabulary(
        topics=(
            TopicDef("controls", ("export controls", "export ban", "chip ban")),
            TopicDef("trade", ("export ban", "tariffs")),
        )
    )
    cv = compile_vocabulary(vocab)
    assert dict(cv.topic_leads)["export"] == ("export controls", "export ban")
    found = find_topics("a chip ban, then export bans and tariffs", cv)
    assert [(h.key, h.text) for h in found] == [
        ("controls", "chip ban"),
        ("controls", "export bans"),
        ("trade", "export bans"),
        ("trade", "tariffs"),
    ]
    assert find_topics("no trade news today", cv) == []


_PHRASE_ATOMS = (
    "cloud", "revenue", "cloud revenue", "market", "share", "market share", "x", "_", "-",
    "ai-related", "product", "products", "invest", "investing", "pledg", "pledged", " ", " ",
    ",", "(", ")", "/", "é", "2", "net income", "income", "capex", "quarter", "plan", "s",
)  # fmt: skip


def _plain_phrases(lowered: str, start: int, end: int) -> list[tuple[int, str]]:
    """The phrase matches that start a word, leftmost first and not overlapping, found
    by trying the pattern at every place (the definition the fast scan must meet)."""
    cv = compile_vocabulary(VOCAB)
    assert cv.phrase_re is not None
    out: list[tuple[int, str]] = []
    pos = start
    while pos < end:
        m = cv.phrase_re.match(lowered, pos, end)
        if m is not None and not (pos and lowered[pos - 1].isalnum()):
            out.append((pos, m.group()))
            pos = m.end()
        else:
            pos += 1
    return out


def test_phrases_are_found_at_word_starts_as_trying_every_place_finds_them() -> None:
    cv = compile_vocabulary(VOCAB)
    assert cv.phrase_after_break_re is not None
    rng = random.Random(9)
    texts = [_lower(t) for t in _texts()[:80]]
    texts += [
        "".join(rng.choice(_PHRASE_ATOMS) for _ in range(rng.randrange(30))) for _ in range(3000)
    ]
    for lowered in texts:
        lo = rng.randrange(len(lowered) + 1)
        hi = rng.randrange(lo, len(lowered) + 1)
        want = [
            PhraseHit(s + offset, s + offset + len(phrase), phrase)
            for s, matched in _plain_phrases(lowered, lo, hi)
            for phrase, offset in cv.phrase_closure[phrase_key(matched, cv.phrase_closure) or ""]
        ]
        assert find_phrases(lowered, lo, hi, cv) == want, (lowered, lo, hi)


def test_a_phrase_inside_a_word_does_not_hide_the_next_word() -> None:
    # "cloud revenue" matches inside "xcloud revenue" but is no phrase there; the
    # whole word "revenue" after it still is one.
    cv = compile_vocabulary(VOCAB)
    lowered = "the xcloud revenue grew"
    assert [(h.start, h.phrase) for h in find_phrases(lowered, 0, len(lowered), cv)] == [
        (11, "revenue")
    ]


def test_cuts_decided_by_the_pattern_are_those_the_general_rules_give() -> None:
    rng = random.Random(10)
    atoms = (*_SENTENCE_ATOMS, "etc", "approx", "Sept", "xvs", "est", "abc", "\n\n", "Q", "9")
    texts = _texts() + [
        "".join(rng.choice(atoms) for _ in range(rng.randrange(80))) for _ in range(3000)
    ]
    decided = 0
    for text in texts:
        assert list(iter_cuts(text)) == list(iter_cuts(text, 0, _PLAIN_SCAN)), text
        decided += sum(m.lastgroup in ("stop", "para") for m in _SCAN.finditer(text))
    assert decided > 1000  # the fast branches are exercised


def test_quarter_over_quarter_split_in_two_searches_finds_what_the_pattern_finds() -> None:
    rng = random.Random(11)
    atoms = ("quarter", "-", " ", "over", "on", "qoq", "q/q", "q", "/", "sequential", "sequ", "x")
    for _ in range(5000):
        low = "".join(rng.choice(atoms) for _ in range(rng.randrange(12)))
        lo = rng.randrange(len(low) + 1)
        hi = rng.randrange(lo, len(low) + 1)
        assert _has_qoq(low, lo, hi) == (_QOQ.search(low, lo, hi) is not None), (low, lo, hi)


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [
        (r"\bQwen[0-9][0-9.]*(?:-[A-Z0-9][A-Za-z0-9.]*)*", "Qwen"),
        (r"\bGPT-[0-9][0-9.]*[a-z]?", "GPT-"),
        (r"\bLlama[ -]?[0-9]", "Llama"),
        (r"Qwenx?", "Qwen"),  # the quantifier takes the last letter
        (r"Qwen{0,1}", "Qwe"),
        (r"Qwen|Doubao", ""),  # either brand: no single literal
        (r"(?:Qwen|Doubao)[0-9]", ""),
        (r"(?i)qwen[0-9]", ""),  # flags change what the letters match
        (r"ab[]|]c", "ab"),  # a bar inside a class is no alternation
        (r"ab[|]c|d", ""),
        (r"\d+B", ""),
        (r"", ""),
    ],
)
def test_a_term_pattern_gives_a_literal_only_when_every_match_opens_with_it(
    pattern: str, literal: str
) -> None:
    assert required_prefix(pattern) == literal


def test_term_families_skipped_by_their_literal_find_what_running_them_finds() -> None:
    cv = compile_vocabulary(VOCAB)
    # every shipped alternative has its literals but two that open with one character
    # (a bare "o1", a size "-70B"): scanning for those costs more than running them
    assert sum(not literals for _, _, literals in cv.terms) <= 2
    plain = dataclasses.replace(cv, terms=tuple((f, p, ()) for f, p, _ in cv.terms))
    rng = random.Random(12)
    atoms = ("Qwen3", "Qwen", "-Max", "GPT-4o", "Llama 3", "Gemini 2.5 Pro", "DeepSeek-V3",
             "ERNIE 4.0", "Doubao-1.5-Pro", "Hunyuan", " ", ".", "x", "Qwen2.5-")  # fmt: skip
    texts = _texts() + [
        "".join(rng.choice(atoms) for _ in range(rng.randrange(20))) for _ in range(500)
    ]
    for text in texts:
        assert find_terms(text, cv, 0.05) == find_terms(text, plain, 0.05), text


def _plain_topics(lowered: str, cv: CompiledVocabulary) -> list[tuple[str, str, int, int]]:
    """Every topic phrase searched over the whole text, longest per topic and place."""
    longest: dict[tuple[str, int], int] = {}
    for phrase, topics in cv.topic_of.items():
        at = lowered.find(phrase)
        while at != -1:
            end = _word_end(lowered, at + len(phrase))
            if end is not None and (at == 0 or not lowered[at - 1].isalnum()):
                for t in topics:
                    longest[(t, at)] = max(end, longest.get((t, at), end))
            at = lowered.find(phrase, at + 1)
    return sorted((t, lowered[at:end], at, end) for (t, at), end in longest.items())


def test_topics_found_by_first_word_are_those_every_phrase_search_finds() -> None:
    cv = compile_vocabulary(VOCAB)
    rng = random.Random(13)
    atoms = ("export", " ", "controls", "control", "ban", "bans", "chip", "x", "-", "api",
             "capital", "price", "prices", "token", "entity", "list", "lists", "s",
             "antitrust")  # fmt: skip
    texts = [_lower(t) for t in _texts()]
    texts += ["".join(rng.choice(atoms) for _ in range(rng.randrange(20))) for _ in range(3000)]
    for lowered in texts:
        got = sorted((h.key, h.text, h.start, h.end) for h in find_topics(lowered, cv))
        assert got == _plain_topics(lowered, cv), lowered


def test_quantity_fields_rebuilt_in_place_of_replace_are_the_approximation_and_brackets() -> None:
    # _with_context rebuilds a Quantity by position instead of calling _replace.
    assert Quantity._fields[6] == "approx" and Quantity._fields[10] == "parenthesised"
    q = find_quantities("It spent roughly $5 billion (about 9%) on it.")
    assert [(x.approx, x.parenthesised) for x in q] == [("roughly", False), ("roughly", True)]
