"""Entity mentions, the article's main entity, and who a number belongs to.

Attribution follows how financial prose names the owner of a figure, most
specific first (issue 5, "Entities and attribution"):

1. ``AWS (30%)``, ``Amazon Web Services (AWS, 29%)``: a number in parentheses belongs
   to the name just before the bracket or inside it. A bracketed number with no name
   there is a comparison whose company name was stripped ("lags behind (20%)"): it is
   credited to nobody rather than to the article's subject.
2. ``Amazon's 35x``, ``Huawei Cloud captures 13.1%``: the nearest name before the number
   in its sentence.
   A name on the far side of a comparison ("rivals like Baidu's Ernie and
   ByteDance's Doubao") owns only a number right after it.
3. ``its 4% share``, ``It holds 36%``, ``The stock trades at 18x``: the article's main
   entity, with a little less confidence.
4. ``With a 36% share of China's cloud market, Alibaba is ...``: the name that opens
   the main clause after the number (not one on the far side of a comparison, and not
   one with a figure of its own in between).
5. ``is investing $53B`` (the subject was a stripped ticker link): the article's main
   entity, with lower confidence.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import NamedTuple

from monitor.extract.vocab import CompiledVocabulary

# Words that put the name after them on the far side of a comparison, checked on
# the last word or two before the name ("lower than Amazon's", "vs. Microsoft").
_COMPARISON_WORDS = frozenset(
    {"than", "vs", "vs.", "versus", "trailing", "behind", "like", "against", "rival",
     "rivals", "over", "beyond", "including", "to", "with"}
)  # fmt: skip
_COMPARISON_PAIRS = frozenset({("compared", "to"), ("compared", "with"), ("ahead", "of"),
                               ("such", "as")})  # fmt: skip
# "its 4% share", "It holds 36%", "The stock trades at 18x", "the Hangzhou-based
# company has earmarked ...": a subject word among the last few words before the
# number means the company the article is about.
_SUBJECT_WORDS = frozenset(
    {"its", "their", "it", "company", "company's", "group", "group's", "firm", "firm's",
     "giant", "giant's", "stock", "shares", "stock's"}
)  # fmt: skip
_PRONOUN_AFTER = re.compile(
    r"^[^.;:]{0,40}?,\s+(?:the\s(?:company|group|firm)|it)\b", re.IGNORECASE
)  # "At 18x forward earnings (end of 2025), the group trades below ..."
_POSSESSIVE_GAP = re.compile(r"^(?:['’]s)?\s*$")
_LIST_GAP = re.compile(r"^(?:['’]s)?[^.;:()]{0,40}?(?:,|\band\b|\bor\b)\s*$")
# A digit between a number and a later name: that name introduces its own figure.
_QUANTITY_HINT = re.compile(r"\d")
_SUBJECT_GAP = re.compile(r",\s*(?:the\s)?$")
_NEAR_AFTER = 15  # characters: "18x P/E for Alibaba"
_COMPARED_REACH = 25  # characters: "than Amazon's 35x" is 3
# What may stand between a compared name and a number it still owns: its possessive,
# a product name or two, a relative clause about it ("than Moonshot's Kimi K2, which
# packs 1 trillion"), or "at" / "with" ("trailing AWS at 30%"). Any other word
# means the number belongs to the sentence's own subject ("as good as DeepSeek R1
# for just half the price" is the subject's price).
_COMPARED_GAP = re.compile(
    r"^(?:['’]s)?(?:[\s-]+[A-Z0-9][\w.-]*){0,2}"
    r"(?:,?\s+(?:which|that|who)\s+(?:[a-z]+\s+){0,3}|\s+(?:at|with|of)\s+|\s*[:=]\s*|\s+)?$"
)
# A number that continues the previous one ("671 billion parameters, with 37 billion
# active"; "(of which 37 billion ...)") shares its owner.
_CONTINUES = re.compile(
    r"[^.;:\d]{0,40}?(?:,\s*|\s+|\()(?:with|of\s+which|including|and)\s+"
    r"(?:about|around|roughly|nearly|over|some|just|only)?\s*"
)
# A name after the number that owns it: "the 8% decline for Nvidia", "the 235 billion
# parameters in Alibaba's Qwen3 model" (a short noun phrase, then "for" or "in").
_OWNER_AFTER = re.compile(r"^\s(?:[a-z][a-z-]*\s){0,2}(?:for|in)\s(?:the\s)?$")
# "... erased from the value of Nvidia stock": the name of the stock owns the figure.
_STOCK_AFTER = re.compile(r"(?:['’]s)?\s(?:stock|shares|share\sprice|market\svalue)\b")
_STOCK_GAP = re.compile(r"^\s(?:[a-z][a-z-]*\s){0,5}(?:of|in)\s$")
# "60% of Nvidia's H100": a share of another company's figure names the base, not
# the owner.
_REFERENCE_AFTER = re.compile(r"^\s*of\s(?:the\s)?$")
_AFTER_REACH = 45  # characters between a number and a name after it that owns it
# A bracket right after one of these words stands for a stripped company name:
# "lags behind (20%)". Any other bracket describes what precedes it.
_STRIPPED_BEFORE = re.compile(
    r"(?:than|vs\.?|versus|trailing|behind|like|against|rivals?|over|including|ahead\s+of"
    r"|compared\s+(?:to|with)|such\s+as)\s*\(?\s*$",
    re.IGNORECASE,
)

# The main entity: named in the title, named first, named most (issue 5).
TITLE_WEIGHT = 4
FIRST_WEIGHT = 2

# Confidence by how the owner was found; see the module docstring.
CONF_ADJACENT = 0.9
CONF_BEFORE = 0.85
CONF_AFTER = 0.75
CONF_PRONOUN = 0.7
CONF_MAIN = 0.55
CONF_NOBODY = 0.3


class Mention(NamedTuple):
    start: int
    end: int
    entity: str


class Owner(NamedTuple):
    entity: str | None
    confidence: float
    mention: Mention | None = None  # the name in the sentence that gave the owner


def find_mentions(
    folded: str, cv: CompiledVocabulary, cues: list[tuple[int, int]] | None = None
) -> list[Mention]:
    """Every entity name in the text (whitespace folded to spaces, same offsets).

    ``cues``, when given, receives the spans of company cue words ("Inc", "Group",
    "Robotics") found by the same scan, for ``organisations``.
    """
    if cv.entity_re is None:
        return []
    out: list[Mention] = []
    entity_of = cv.entity_of
    for m in cv.entity_re.finditer(folded):
        s = m.start()
        if s and folded[s - 1].isalnum():
            continue  # inside a word: "Microsoft" in "XMicrosoft"
        entity = entity_of.get(m.group())
        if entity is not None:
            out.append(Mention(s, m.end(), entity))
        elif cues is not None:
            cues.append((s, m.end()))
    return out


def main_entity(title_mentions: list[Mention], mentions: list[Mention]) -> str | None:
    """The entity the article is about: named in the title, named first, named most.

    ``title_mentions`` are found in the title with its whitespace folded.
    """
    score: Counter[str] = Counter()
    in_title = {m.entity for m in title_mentions}
    for e in in_title:
        score[e] += TITLE_WEIGHT
    if mentions:
        score[mentions[0].entity] += FIRST_WEIGHT
        for m in mentions:
            score[m.entity] += 1
    if not score:
        return None
    first_seen = {m.entity: i for i, m in reversed(list(enumerate(mentions)))}
    # Ties go to the title, then to the earliest mention.
    return min(
        score, key=lambda e: (-score[e], e not in in_title, first_seen.get(e, len(mentions)))
    )


def attribute(
    text: str,
    start: int,
    end: int,
    sentence_start: int,
    sentence_mentions: list[Mention],
    main: str | None,
    parenthesised: bool,
    compared: list[bool] | None = None,
    previous: tuple[int, Owner] | None = None,
) -> Owner:
    """Who the number at ``text[start:end]`` belongs to.

    ``previous``: the end of the sentence's previous number and its owner.
    """
    if compared is None:
        compared = compared_flags(text, sentence_start, sentence_mentions)
    if parenthesised:
        open_at = text.rfind("(", sentence_start, start)
        inside = [m for m in sentence_mentions if open_at < m.start and m.end <= start]
        if inside:
            return Owner(inside[-1].entity, CONF_ADJACENT, inside[-1])
        for m in reversed(sentence_mentions):
            if m.end <= open_at and _POSSESSIVE_GAP.match(text[m.end : open_at]):
                return Owner(m.entity, CONF_ADJACENT, m)
        if _STRIPPED_BEFORE.search(text, max(sentence_start, open_at - 30), open_at + 1):
            return Owner(None, CONF_NOBODY)
        # "LiveCodeBench (64.9 points)", "(of which 37 billion ...)": the bracket
        # describes what precedes it; the usual rules find the owner.
    if previous is not None and previous[1].mention is not None and start - previous[0] < 50:
        prev_end, prev_owner = previous
        if _CONTINUES.fullmatch(text, prev_end, start) is not None and not any(
            prev_end <= m.start < start for m in sentence_mentions
        ):
            return prev_owner
    after: tuple[Mention, bool] | None = None
    looked = False  # for a name after the number: only when a rule needs it
    for k in range(len(sentence_mentions) - 1, -1, -1):
        m = sentence_mentions[k]
        if m.end > start:
            continue
        # "beats rivals like Baidu's Ernie and ByteDance's Doubao ... over 200
        # models": a name on the far side of a comparison owns only a number right
        # after it ("lower than Amazon's 35x").
        if compared[k] and (
            start - m.end > _COMPARED_REACH * 3 or not _COMPARED_GAP.match(text[m.end : start])
        ):
            continue
        if not looked:
            after, looked = _owner_after(text, start, end, sentence_mentions), True
        if after is not None and (after[1] or _has_figure(text, m.end, start)):
            # "With BABA up 42% ..., the 8% decline for Nvidia": the name before has a
            # figure of its own; the name after, joined by "for"/"in", owns this one.
            return Owner(after[0].entity, CONF_AFTER, after[0])
        return Owner(m.entity, CONF_BEFORE, m)
    if not looked:
        after = _owner_after(text, start, end, sentence_mentions)
    if after is not None:
        return Owner(after[0].entity, CONF_AFTER, after[0])
    head = text[max(sentence_start, start - 60) : start]
    tail = text[end : end + 60]
    if main is not None and (
        _subject_before(head)
        # The pattern needs a comma within 41 characters: most numbers have none.
        or (tail.find(",", 0, 41) != -1 and _PRONOUN_AFTER.match(tail) is not None)
    ):
        return Owner(main, CONF_PRONOUN)
    for k, m in enumerate(sentence_mentions):
        if m.start < end or compared[k]:
            continue
        gap = text[end : m.start]
        if _QUANTITY_HINT.search(gap):
            break  # a later name is the owner of the later number, not of this one
        # "With a 36% share of China's cloud market, Alibaba is ...": the name opens
        # the main clause right after the phrase holding the number.
        if _REFERENCE_AFTER.match(gap) and _POSSESSIVE_GAP.match(text[m.end : m.end + 2]):
            break  # "60% of Nvidia's H100": the base of a comparison
        if _SUBJECT_GAP.search(gap) or len(gap) <= _NEAR_AFTER:
            return Owner(m.entity, CONF_AFTER, m)
        break
    if main is not None:
        return Owner(main, CONF_MAIN)
    return Owner(None, CONF_NOBODY)


def _has_figure(text: str, lo: int, hi: int) -> bool:
    return _QUANTITY_HINT.search(text, lo, hi) is not None


def _owner_after(
    text: str, start: int, end: int, mentions: list[Mention]
) -> tuple[Mention, bool] | None:
    """A name after the number that owns it, and whether the evidence is strong.

    "the 8% decline for Nvidia" and "235 billion parameters in Alibaba's Qwen3 model"
    (a short noun phrase, then "for"/"in": weak, it yields to a name before that has
    no figure of its own); "$600bn erased from the value of Nvidia stock" (the stock's
    company: strong).
    """
    for m in mentions:
        if m.start < end:
            continue
        if m.start - end > _AFTER_REACH:
            return None
        gap = text[end : m.start]
        if _has_figure(text, end, m.start) or any(c in gap for c in ",;:()"):
            return None
        if _STOCK_GAP.match(gap) and _STOCK_AFTER.match(text, m.end, m.end + 20):
            return m, True
        if _OWNER_AFTER.match(gap):
            return m, False
        return None
    return None


def _subject_before(head: str) -> bool:
    for w in head.lower().replace("’", "'").split()[-6:]:
        if w.strip(',;:()"') in _SUBJECT_WORDS:
            return True
    return False


def _compared_lead(lead: str, *, opens_sentence: bool = False) -> bool:
    words = lead.lower().split()
    if words and words[-1] == "the":
        words.pop()
    if not words:
        return False
    last = words[-1].strip(",;:(")
    if opens_sentence and last in _RIVAL and set(words[:-1]) <= _RIVAL_LEAD:
        return False  # "Rival CoreWeave has said it expects ...": the sentence's subject
    if last in _COMPARISON_WORDS or last.startswith("outpac"):
        return True
    return len(words) > 1 and (words[-2], last) in _COMPARISON_PAIRS


_RIVAL = frozenset({"rival", "rivals"})
_RIVAL_LEAD = frozenset({"its", "their", "a", "the", "fellow", "smaller", "larger", "bigger"})


def compared_flags(text: str, sentence_start: int, mentions: list[Mention]) -> list[bool]:
    """For each mention: does it sit on the far side of a comparison?

    A name after "than", "vs.", "like", "trailing" is compared; so is a name that
    continues such a list ("like Baidu's Ernie and ByteDance's Doubao").
    """
    out: list[bool] = []
    for k, m in enumerate(mentions):
        lead = text[max(sentence_start, m.start - 30) : m.start]
        flag = _compared_lead(lead, opens_sentence=m.start - 30 <= sentence_start)
        if not flag and k and out[k - 1] and _LIST_GAP.search(text[mentions[k - 1].end : m.start]):
            flag = True
        out.append(flag)
    return out


def subject_of(
    text: str, pos: int, sentence_start: int, sentence_mentions: list[Mention], main: str | None
) -> str | None:
    """The entity a term or topic at ``pos`` concerns: the nearest name before it that
    is not the far side of a comparison, else the article's main entity."""
    compared = compared_flags(text, sentence_start, sentence_mentions)
    for k in range(len(sentence_mentions) - 1, -1, -1):
        m = sentence_mentions[k]
        if m.end > pos:
            continue
        if not compared[k] or _POSSESSIVE_GAP.match(text[m.end : pos]):
            return m.entity  # "OpenAI's GPT-4" belongs to OpenAI even in a comparison
    return main
