"""The analysts' vocabulary compiled once into matchers.

Compiling every alias, cue phrase and term pattern costs far more than running them,
so a ``Vocabulary`` (a frozen, hashable value) is compiled once and cached; the
daemon reloads rules rarely and passes the same value for every article.

Phrase syntax understood here, documented for analysts in ``rules/vocabulary.yaml``:

* entity names are matched case-sensitively as whole words ("AWS", not "laws");
* cue, exclude and topic phrases are matched case-insensitively as whole words, and a
  phrase's last word may carry an inflection ("invest" finds "invests", "investing",
  "investment", "invested");
* a cue written ``revenue + cloud`` needs the first part (the anchor, whose distance
  to the number counts) and the others near it in the same clause, or in the
  company name credited with the number ("Alibaba Cloud's ... revenue").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import regex

from monitor.extract import org_cues
from monitor.extract.term_gates import gate_literals, required_prefix, term_branches
from monitor.values import MetricDef, Vocabulary

__all__ = ["CompiledVocabulary", "compile_vocabulary", "phrase_key", "required_prefix"]

# Inflections a phrase's last word may carry: invest -> investing, commit -> committed.
SUFFIXES = ("ments", "ment", "ting", "ing", "ted", "es", "ed", "s", "d")
_INFLECTION = "(?:" + "|".join(SUFFIXES) + ")?"


class Cue(NamedTuple):
    metric: str
    kind: str  # the metric's kind
    parts: tuple[str, ...]  # lower-cased phrases; parts[0] is the anchor
    length: int  # how specific the cue is: ties between cues go to the longer one


@dataclass(frozen=True, slots=True)
class CompiledVocabulary:
    vocab: Vocabulary
    # Run on the whitespace-folded text: the entity names, and the company cue words
    # of ``org_cues`` (not in ``entity_of``).
    entity_re: re.Pattern[str] | None
    entity_of: dict[str, str]  # name as written -> entity id
    phrase_re: re.Pattern[str] | None  # every cue part and exclude phrase, on lowered text
    # ``phrase_re`` behind one character that is not a letter or digit: the engine
    # skips to such characters in C instead of trying the trie at every letter. None
    # when a phrase ends in such a character (the next match could not have it).
    phrase_after_break_re: re.Pattern[str] | None
    # The same for an ASCII text, lowered: there "neither a letter nor a digit" is a
    # plain class, which the engine tests faster than the Unicode one.
    phrase_after_break_ascii_re: re.Pattern[str] | None
    phrase_closure: dict[str, tuple[tuple[str, int], ...]]  # phrase -> (phrase inside, offset)
    cues: tuple[Cue, ...]
    # anchor phrase -> per metric kind: (the metrics of its one-part cues, sorted; their
    # length, the anchor's; its cues of more parts)
    anchor_cues: dict[str, tuple[tuple[str, tuple[str, ...], int, tuple[Cue, ...]], ...]]
    # The same by (anchor phrase, kind): (one-part metrics, -length, cues of more parts)
    kind_cues: dict[tuple[str, str], tuple[tuple[str, ...], int, tuple[Cue, ...]]]
    excludes: dict[str, tuple[str, ...]]  # lower-cased phrase -> metric ids it vetoes
    metrics: dict[str, MetricDef]
    # (family id, one top-level alternative of its pattern, compiled; literals one of
    # which every text it matches in holds, or () to run it on every text)
    terms: tuple[tuple[str, regex.Pattern[str], tuple[str, ...]], ...]
    # Every gate literal of ``terms`` in one trie, searched in one scan per article; a
    # found literal stands for every gate literal inside it (``gate_inside``).
    gate_re: re.Pattern[str] | None
    gate_inside: dict[str, tuple[str, ...]]
    topic_re: re.Pattern[str] | None  # on lowered text
    topic_of: dict[str, tuple[str, ...]]  # lower-cased phrase -> topic ids
    # (a first word, the topic phrases that open with it): the word is looked for first
    topic_leads: tuple[tuple[str, tuple[str, ...]], ...]
    # A matched cue or exclude string -> (phrase, offset) for it and every phrase inside
    # it; filled as the scan meets them (their number is bounded by the vocabulary).
    phrase_memo: dict[str, tuple[tuple[str, int], ...]]


_last: list[CompiledVocabulary] = []  # the most recent result, matched by identity


def compile_vocabulary(vocab: Vocabulary) -> CompiledVocabulary:
    """The compiled form of ``vocab``, cached.

    The daemon passes the same object for every article: an identity check avoids
    even hashing the whole vocabulary (a measurable share of a short article).
    """
    if _last and _last[0].vocab is vocab:
        return _last[0]
    compiled = _compile(vocab)
    _last[:] = [compiled]
    return compiled


@functools.lru_cache(maxsize=8)
def _compile(vocab: Vocabulary) -> CompiledVocabulary:
    entity_of: dict[str, str] = {}
    for ent in vocab.entities:
        for name in ent.names:
            # The first definition of a name wins; the rule loader reports duplicates.
            entity_of.setdefault(" ".join(name.split()), ent.id)
    # The company cues of organisations.py are found in the same scan as the names.
    cue_words = {w: "" for w in org_cues.SUFFIXES if w not in entity_of}
    entity_re = _trie_pattern({**entity_of, **cue_words}, inflect=False, tail=r"(?![A-Za-z0-9])")

    cues: list[Cue] = []
    excludes: dict[str, list[str]] = {}
    for metric in vocab.metrics:
        for cue in metric.cues:
            parts = tuple(_norm(p) for p in cue.split(" + ") if p.strip())
            if parts:
                length = sum(map(len, parts)) + len(parts) - 1
                cues.append(Cue(metric.id, metric.kind, parts, length))
        for phrase in metric.exclude:
            excludes.setdefault(_norm(phrase), []).append(metric.id)
    phrases = {p for c in cues for p in c.parts} | set(excludes)
    phrase_re = _trie_pattern(phrases, inflect=True, tail=r"(?![a-z0-9])")
    phrase_after_break_re = phrase_after_break_ascii_re = None
    if phrase_re is not None and all(p[-1].isalnum() for p in phrases if p):
        phrase_after_break_re = re.compile(r"[\W_]" + phrase_re.pattern)
        phrase_after_break_ascii_re = re.compile(r"[^a-z0-9]" + phrase_re.pattern)

    topic_of: dict[str, list[str]] = {}
    for topic in vocab.topics:
        for phrase in topic.phrases:
            topic_of.setdefault(_norm(phrase), []).append(topic.id)
    topic_re = _trie_pattern(topic_of, inflect=True, tail=r"(?![a-z0-9])")

    terms: list[tuple[str, regex.Pattern[str], tuple[str, ...]]] = []
    for family in vocab.terms:
        try:
            terms.extend(
                (family.id, regex.compile(branch), gate_literals(branch))
                for branch in term_branches(family.pattern)
            )
        except (regex.error, ValueError, TypeError):
            # The rule loader rejects bad patterns with file:line:col; if one slips
            # through, the family is skipped rather than failing every article.
            continue

    anchor_cues = _anchor_cues(cues)
    gates = {lit for _, _, lits in terms for lit in lits}
    return CompiledVocabulary(
        vocab=vocab,
        entity_re=entity_re,
        entity_of=entity_of,
        phrase_re=phrase_re,
        phrase_after_break_re=phrase_after_break_re,
        phrase_after_break_ascii_re=phrase_after_break_ascii_re,
        phrase_closure=_closure(phrases),
        cues=tuple(cues),
        anchor_cues=anchor_cues,
        kind_cues={
            (anchor, kind): (singles, -length, multis)
            for anchor, entries in anchor_cues.items()
            for kind, singles, length, multis in entries
        },
        excludes={k: tuple(v) for k, v in excludes.items()},
        metrics={m.id: m for m in vocab.metrics},
        terms=tuple(terms),
        gate_re=_trie_pattern(gates, inflect=False, tail=""),
        gate_inside={g: tuple(h for h in gates if h in g) for g in gates},
        topic_re=topic_re,
        topic_of={k: tuple(v) for k, v in topic_of.items()},
        topic_leads=_leads(topic_of),
        phrase_memo={},
    )


def _norm(phrase: str) -> str:
    return " ".join(phrase.lower().split())


def _leads(phrases: Iterable[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    grouped: dict[str, list[str]] = {}
    for phrase in phrases:
        # Every phrase holds its first word: a text without that word holds none of
        # the phrases. ("" for an empty phrase, which every text holds.)
        grouped.setdefault(phrase.split(" ")[0], []).append(phrase)
    return tuple((lead, tuple(group)) for lead, group in grouped.items())


def _anchor_cues(
    cues: list[Cue],
) -> dict[str, tuple[tuple[str, tuple[str, ...], int, tuple[Cue, ...]], ...]]:
    grouped: dict[str, dict[str, tuple[set[str], list[Cue]]]] = {}
    for cue in cues:
        singles, multis = grouped.setdefault(cue.parts[0], {}).setdefault(cue.kind, (set(), []))
        if len(cue.parts) == 1:
            singles.add(cue.metric)
        else:
            multis.append(cue)
    return {
        anchor: tuple(
            (kind, tuple(sorted(singles)), len(anchor), tuple(multis))
            for kind, (singles, multis) in kinds.items()
        )
        for anchor, kinds in grouped.items()
    }


_END = ""  # trie key: a phrase ends here
_END_E = "\x00"  # trie key: a phrase ends here once its silent "e" was dropped


def _trie_pattern(phrases: Iterable[str], *, inflect: bool, tail: str) -> re.Pattern[str] | None:
    """One regex for many phrases, shaped as a character trie.

    A flat alternation makes the engine try every phrase at every character; a trie
    whose branches start with literal characters lets it skip to plausible starts
    and decide each character once. The start of a word is checked by the caller
    (a lookbehind here would disable that skipping).
    """
    trie: dict[str, Any] = {}
    for phrase in phrases:
        if not phrase:
            continue
        _insert(trie, phrase, _END)
        last = phrase.split()[-1]
        if inflect and len(last) > 3 and last.endswith("e"):
            _insert(trie, phrase[:-1], _END_E)  # "pledge" finds "pledging", "pledged"
    if not trie:
        return None
    return re.compile(_emit(trie, inflect) + tail)


def _insert(trie: dict[str, Any], phrase: str, end: str) -> None:
    node = trie
    for ch in phrase:
        node = node.setdefault(ch, {})
    node[end] = True


def _emit(node: dict[str, Any], inflect: bool) -> str:
    alts = [
        re.escape(ch) + _emit(child, inflect)
        for ch, child in sorted(node.items())
        if len(ch) == 1 and ch != _END_E
    ]
    if _END_E in node:
        alts.append("(?:ing|ed)")
    if _END in node:
        alts.append(_INFLECTION if inflect else "")
    if len(alts) == 1:
        return alts[0]
    return "(?:" + "|".join(alts) + ")"


def phrase_key(matched: str, table: Mapping[str, object]) -> str | None:
    """The table phrase a match stands for: whitespace folded, inflection removed."""
    key = " ".join(matched.lower().split())
    if key in table:
        return key
    for suffix in SUFFIXES:
        if key.endswith(suffix):
            stem = key[: -len(suffix)]
            if stem in table:
                return stem
            if stem + "e" in table:
                return stem + "e"
    return None


def _closure(phrases: set[str]) -> dict[str, tuple[tuple[str, int], ...]]:
    """For each phrase, every phrase found inside it at word boundaries, with its offset.

    The scan reports one match per place, the longest: "AI-related product revenue"
    hides "revenue" and "net income jump" hides "net income". This table gives them
    back (the phrase itself is included at offset 0).
    """
    out: dict[str, tuple[tuple[str, int], ...]] = {}
    for p in phrases:
        hits: list[tuple[str, int]] = []
        for q in phrases:
            at = p.find(q)
            while at != -1:
                if (at == 0 or not p[at - 1].isalnum()) and _ends_word(p[at + len(q) :]):
                    hits.append((q, at))
                at = p.find(q, at + 1)
        out[p] = tuple(hits)
    return out


def _ends_word(rest: str) -> bool:
    if not rest or not rest[0].isalnum():
        return True
    return any(
        rest.startswith(sfx) and (len(rest) == len(sfx) or not rest[len(sfx)].isalnum())
        for sfx in SUFFIXES
    )
