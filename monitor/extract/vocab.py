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

from monitor.values import MetricDef, Vocabulary

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
    entity_re: re.Pattern[str] | None  # run on the whitespace-folded text
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
    entity_re = _trie_pattern(entity_of, inflect=False, tail=r"(?![A-Za-z0-9])")

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


# A pattern's opening literal: after an optional "\b", a run of letters, digits and
# "-" ("\bQwen[0-9]", "\bGPT-[0-9]"), outside any group or class.
_OPENING_LITERAL = re.compile(r"(?:\\b)?([A-Za-z0-9-]+)")
# Inline flags ("(?i)", "(?i:...)", "(?V1)") may change what a literal matches.
_INLINE_FLAGS = re.compile(r"\(\?(?!P)[a-zA-Z^-]")


def required_prefix(pattern: str) -> str:
    """A literal that opens every match of the analyst ``pattern``, or "" if none is sure.

    Most term families name a brand ("\\bQwen[0-9]..."): a text without the brand
    cannot match, and a substring search says so far faster than running the
    pattern (issue 5, point 8). Conservative: flags, a top-level "|" or anything
    unusual give "" (no shortcut).
    """
    m = _OPENING_LITERAL.match(pattern)
    if m is None or _INLINE_FLAGS.search(pattern) or _top_level_bar(pattern):
        return ""
    literal = m.group(1)
    if pattern[m.end() : m.end() + 1] in ("?", "*", "+", "{"):
        literal = literal[:-1]  # the quantifier applies to the last character only
    return literal


# What may open a branch before its literal: a word boundary, or a negative lookbehind
# without groups ("(?<![A-Za-z0-9-])o[1-9]"), which takes no characters.
_SKIPPABLE = re.compile(r"(?:\\b|\(\?<?![^()]*\))+")
# A small class of plain characters or one range: "[Ss]", "['’]", "[1-9]".
_SMALL_CLASS = re.compile(r"\[((?:[A-Za-z0-9'’ -](?!-[A-Za-z0-9]))+|[0-9]-[0-9])\]")
_MAX_LITERALS = 12


# Backreferences and inline flags tie the alternatives of a pattern together.
_UNSPLITTABLE = re.compile(r"\\[1-9]|\(\?P=|\(\?[a-zA-Z]+\)")
# A gate costs a scan of the text per literal: more than a few, or one character,
# cost more than running the pattern, which scans the text once anyway.
_MAX_GATES = 4


def term_branches(pattern: str) -> list[str]:
    """A family's pattern as its top-level alternatives, each searched on its own.

    The ``regex`` engine tries a pattern that opens with an alternation at every
    character; each alternative alone opens with a literal it can skip to, which is
    several times faster. Where two alternatives match overlapping text, the first
    listed wins (``find_terms``), as it would inside one pattern.
    """
    if _UNSPLITTABLE.search(pattern):
        return [pattern]
    branches = _top_level_branches(pattern)
    return branches if all(branches) else [pattern]


def gate_literals(branch: str) -> tuple[str, ...]:
    """The literals worth checking before running ``branch``: () to always run it.

    From the opening of the branch or from a lookbehind in it ("...(?<=DeepSeek's )R1"
    needs "DeepSeek"), whichever gives the longest literals.
    """
    candidates = [required_literals(branch)]
    depth = 0
    i = 0
    while i < len(branch):
        c = branch[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            j = branch.find("]", i + 2)
            i = len(branch) if j == -1 else j + 1
            continue
        if c == "(":
            if depth == 0 and branch.startswith("(?<=", i):
                end = _group_end(branch, i)
                if end is not None:
                    candidates.append(required_literals(branch[i + 4 : end]))
            depth += 1
        elif c == ")":
            depth -= 1
        i += 1
    usable = [c for c in candidates if c and len(c) <= _MAX_GATES and min(map(len, c)) >= 2]
    if not usable:
        return ()
    return max(usable, key=lambda c: (min(map(len, c)), -len(c)))


def required_literals(pattern: str) -> tuple[str, ...]:
    """Literals such that every text ``pattern`` matches in holds one of them; () if unsure.

    Generalises :func:`required_prefix` to alternations, small leading classes and
    lookbehinds: "\\bDeep[Ss]eek-R1|..." needs "DeepSeek" or "Deepseek"; "(?<=\\bBaidu's )X1"
    needs "Baidu"; "(?<![a-z])o[1-9]" needs one of "o1" ... "o9". A text holding none of
    them cannot match, and a substring search says so far faster than the pattern.
    """
    if _INLINE_FLAGS.search(pattern) and not pattern.startswith("(?<"):
        return ()
    out: list[str] = []
    for branch in _top_level_branches(pattern):
        found = _branch_literals(branch)
        if not found:
            return ()
        out.extend(found)
    unique = tuple(dict.fromkeys(out))
    return unique if len(unique) <= _MAX_LITERALS else ()


def _branch_literals(branch: str) -> tuple[str, ...]:
    """Literals one of which every match of ``branch`` (no top-level "|") contains."""
    if branch.startswith("(?<="):
        # A positive lookbehind: what it needs is in the text, just before the match.
        end = _group_end(branch, 0)
        return required_literals(branch[4:end]) if end is not None else ()
    heads = [""]
    at = 0
    while at < len(branch):
        skip = _SKIPPABLE.match(branch, at)
        if skip is not None and skip.end() > at:
            if heads != [""]:
                break
            at = skip.end()
            continue
        if branch.startswith("(?:", at):
            end = _group_end(branch, at)
            if end is None or heads != [""]:
                break
            if branch[end + 1 : end + 2] in ("?", "*") or branch.startswith("{0", end + 1):
                at = end + 1 + (1 if branch[end + 1] in "?*" else branch.index("}", end) - end)
                continue  # optional: what follows it is still in every match
            return required_literals(branch[at + 3 : end])
        cls = _SMALL_CLASS.match(branch, at)
        if cls is not None and min(map(len, heads)) >= 3:
            break  # long enough to be rare: more searches would cost more than they save
        if cls is not None:
            body = cls.group(1)
            chars = (
                [chr(c) for c in range(ord(body[0]), ord(body[2]) + 1)]
                if (len(body) == 3 and body[1] == "-")
                else list(dict.fromkeys(body))
            )
            if len(heads) * len(chars) > _MAX_LITERALS or branch[cls.end() : cls.end() + 1] in (
                "?",
                "*",
                "{",
            ):
                break
            heads = [h + c for h in heads for c in chars]
            at = cls.end()
            continue
        lit = _OPENING_LITERAL.match(branch, at)
        if lit is None or not lit.group(1) or lit.start(1) != at:
            break
        word = lit.group(1)
        if branch[lit.end() : lit.end() + 1] in ("?", "*", "{"):
            heads = [h + word[:-1] for h in heads]
            break
        heads = [h + word for h in heads]
        at = lit.end()
    return tuple(h for h in heads if h) if all(heads) else ()


def _group_end(pattern: str, start: int) -> int | None:
    """The index of the ")" closing the group opened at ``pattern[start]``."""
    depth = 0
    i = start
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            j = pattern.find("]", i + 2)
            if j == -1:
                return None
            i = j + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def _top_level_branches(pattern: str) -> list[str]:
    """``pattern`` split at its top-level "|" (the whole pattern when there is none)."""
    if not _top_level_bar(pattern):
        return [pattern]
    parts: list[str] = []
    depth = 0
    last = i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append(pattern[last:i])
            last = i + 1
        i += 1
    parts.append(pattern[last:])
    return parts


def _top_level_bar(pattern: str) -> bool:
    """Does ``pattern`` hold an alternation outside every group (or is it unclear)?"""
    depth = 0
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            # Skip the class: a "]" right after "[" or "[^" is a member, not its end.
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                if pattern[j] == "[":
                    return True  # a nested set (V1 syntax): do not guess
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth <= 0:
            return True
        i += 1
    return False


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
