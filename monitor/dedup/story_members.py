"""What a story keeps about its members, and the figure keys it is looked up by. Pure.

A story holds the profiles of its newest ``MAX_MEMBERS_PROFILED`` original members (copies
restate their original) and their union, which is what the same-story matcher compares a
new article with; the application stores both with the story and updates them as members
join. A story is also found through its figures: one key per amount (and per amount in a
second currency), looked up within the matcher's tolerance (:func:`figure_spans`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from monitor.dedup import story, story_codec
from monitor.values import Extraction, Fact

MAX_MEMBERS_PROFILED = 30  # newest members whose titles and ledes represent a story
LEDE_CHARS = 800  # enough text for LEDE_WORDS words
# Widest gap at which two amounts can still match (monitor.dedup.figures._close):
# |a - b| <= REL_TOLERANCE * max(a, b) allows b up to a / (1 - REL_TOLERANCE); a little
# more is looked up, the matcher decides.
_REACH = story.REL_TOLERANCE / (1.0 - story.REL_TOLERANCE) + 1e-6
_PERCENT_UNITS = frozenset({"percent", "pp", "growth"})

Members = list[list[Any]]  # [[article id, encoded member profile], ...], newest first
FigureKey = tuple[str, str, float, bool]  # unit, currency or "", value, second currency
Span = tuple[str, str, float, float]  # unit, currency or "", lowest, highest value


def member_profile(
    title: str, text: str, extraction: Extraction, article: story.ArticleProfile | None = None
) -> story.ArticleProfile:
    """The profile this article contributes to its story, with the lede taken from the
    first ``LEDE_CHARS`` characters of its text (what a rebuild from the rows sees).

    ``extraction`` is the one its rows hold; ``article`` (its profile for matching, from
    the same title, text and extraction) is reused where it is the same.
    """
    head = text[:LEDE_CHARS]
    if article is None:
        return story.profile(title, head, extraction)
    if head is text or story.lede(head) == story.lede(text):
        return article
    return dataclasses.replace(article, lede_words=story.content_words(story.lede(head)))


def with_member(members: Members | None, article_id: int, member: story.ArticleProfile) -> Members:
    out = [m for m in members or [] if int(m[0]) != article_id]
    out.append([article_id, story_codec.encode_article(member)])
    out.sort(key=lambda m: -int(m[0]))
    return out[:MAX_MEMBERS_PROFILED]


def merged_members(lists: Iterable[Members | None]) -> Members:
    out = [m for members in lists for m in members or []]
    out.sort(key=lambda m: -int(m[0]))
    return out[:MAX_MEMBERS_PROFILED]


def union(members: Members) -> dict[str, Any]:
    return story_codec.encode_story([story_codec.decode_article(m[1]) for m in members])


def fact_keys(facts: Sequence[Fact]) -> list[FigureKey]:
    """The keys of each figure that can count as evidence."""
    out: list[FigureKey] = []
    for f in facts:
        if story.fact_weight(f) <= 0.0:
            continue
        out.append((f.unit, f.currency or "", float(f.value), False))
        if f.alt_value is not None:
            out.append((f.unit, f.alt_currency or "", float(f.alt_value), True))
    return out


def figure_spans(figures: Sequence[story.Figure]) -> list[Span]:
    """The key ranges that hold every amount that may match one of the figures: same unit
    and currency, value within the matcher's tolerance of either sign (the matcher
    compares magnitudes)."""
    out: list[Span] = []
    seen: set[tuple[str, str, float]] = set()
    for f in figures:
        pairs = [(f.currency, f.value)]
        if f.alt_value is not None:
            pairs.append((f.alt_currency, f.alt_value))
        for cur, v in pairs:
            a = abs(float(v))
            if (f.unit, cur or "", a) in seen:
                continue
            seen.add((f.unit, cur or "", a))
            reach = a * _REACH
            if f.unit in _PERCENT_UNITS:
                reach += story.ABS_TOLERANCE_PCT + 1e-6
            if a > reach:
                spans = [(a - reach, a + reach), (-a - reach, -a + reach)]
            else:
                spans = [(-a - reach, a + reach)]
            out += [(f.unit, cur or "", lo, hi) for lo, hi in spans]
    return out


# ----------------------------------------------------------------------------- new facts


def same_fact(f: Fact, g: Fact) -> bool:
    """The story already holds this figure: same unit and amount (in either currency of a
    two-currency pair), and no disagreement on entity or metric where both are known."""
    if f.unit != g.unit:
        return False
    if f.entity and g.entity and f.entity != g.entity:
        return False
    if f.metric and g.metric and f.metric != g.metric:
        return False
    mine = {(f.currency, f.value)}
    if f.alt_value is not None:
        mine.add((f.alt_currency, f.alt_value))
    theirs = {(g.currency, g.value)}
    if g.alt_value is not None:
        theirs.add((g.alt_currency, g.alt_value))
    return any(
        c1 == c2 and abs(v1 - v2) <= 1e-9 * max(1.0, abs(v1))
        for c1, v1 in mine
        for c2, v2 in theirs
    )


def amount_keys(f: Fact) -> list[tuple[str, str | None, float]]:
    """Exact keys of a fact's amounts, for finding the same figure held by a story."""
    keys = [(f.unit, f.currency, round(float(f.value), 6))]
    if f.alt_value is not None:
        keys.append((f.unit, f.alt_currency, round(float(f.alt_value), 6)))
    return keys


def new_flags(facts: Sequence[Fact], held: Iterable[Fact]) -> list[bool]:
    """Which of ``facts`` the story did not hold yet.

    A figure restated by a rewrite is not new; a different value for the same thing ("$52
    billion" where the story said "$53 billion") is, so that digests show the conflict.
    A figure repeated within the article counts as new once.
    """
    index: dict[tuple[str, str | None, float], list[Fact]] = {}

    def hold(f: Fact) -> None:
        for k in amount_keys(f):
            index.setdefault(k, []).append(f)

    for g in held:
        hold(g)
    out: list[bool] = []
    for f in facts:
        out.append(not any(same_fact(f, g) for k in amount_keys(f) for g in index.get(k, ())))
        hold(f)
    return out
