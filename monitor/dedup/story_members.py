"""What a story keeps about its members, and the figure keys it is looked up by. Pure.

A story's profile (:class:`monitor.dedup.story.StoryProfile`) is updated as each original
member joins: its figures and terms with how many members state each, and the sum of the
members' text vectors. Copies restate their original and restatements restate the story,
so neither changes what the story stands on. A story is also found through its figures:
one key per amount (and per amount in a second currency), looked up within the matcher's
tolerance (:func:`figure_spans`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from monitor.dedup import story, text_vector
from monitor.dedup.figures import Figure, FigureIndex, changed
from monitor.dedup.story import ArticleProfile, StoryProfile
from monitor.values import Fact

# Widest gap at which two amounts can still match (monitor.dedup.figures._close):
# |a - b| <= REL_TOLERANCE * max(a, b) allows b up to a / (1 - REL_TOLERANCE); a little
# more is looked up, the matcher decides.
_REACH = story.REL_TOLERANCE / (1.0 - story.REL_TOLERANCE) + 1e-6
_PERCENT_UNITS = frozenset({"percent", "pp", "growth"})

FigureKey = tuple[str, str, float, bool]  # unit, currency or "", value, second currency
Span = tuple[str, str, float, float]  # unit, currency or "", lowest, highest value


def _count_figures(
    held: Sequence[tuple[Figure, int]], new: Iterable[tuple[Figure, int]]
) -> tuple[tuple[Figure, int], ...]:
    figures = [g for g, _ in held]
    counts = [n for _, n in held]
    index = FigureIndex()
    for j, g in enumerate(figures):
        index.add(g, j)
    for f, n in new:
        found = index.matching(f)
        if found:
            j = min(found)
            if f.lead and not figures[j].lead:
                figures[j] = changed(figures[j], lead=True)
            counts[j] += n
        else:
            index.add(f, len(figures))
            figures.append(f)
            counts.append(n)
    # the best-supported first (a stable sort keeps the order of arrival among equals)
    order = sorted(range(len(figures)), key=lambda j: -counts[j])[: story.MAX_FIGURES]
    return tuple((figures[j], counts[j]) for j in order)


def _count_terms(held: dict[str, int], new: dict[str, int]) -> dict[str, int]:
    out = dict(held)
    for t, n in new.items():
        out[t] = out.get(t, 0) + n
    if len(out) > story.MAX_TERMS:
        out = dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0]))[: story.MAX_TERMS])
    return out


def unheld(p: StoryProfile, figures: Iterable[Figure]) -> list[Figure]:
    """The figures the story does not state yet."""
    index = FigureIndex()
    for j, (g, _) in enumerate(p.figures):
        index.add(g, j)
    return [f for f in figures if not index.matching(f)]


def first_member(story_id: int, article: ArticleProfile) -> StoryProfile:
    return joined(StoryProfile(story_id, article.company, 0), article)


def joined(p: StoryProfile, article: ArticleProfile) -> StoryProfile:
    """The profile once ``article`` is one more of its members."""
    return StoryProfile(
        story_id=p.story_id,
        company=p.company,
        members=p.members + 1,
        figures=_count_figures(p.figures, ((f, 1) for f in article.figures)),
        terms=_count_terms(dict(p.terms), dict.fromkeys(article.terms, 1)),
        centroid=text_vector.add_to_centroid(p.centroid, article.vector),
        topics=p.topics | article.topics,
        lead_terms=_count_terms(dict(p.lead_terms), dict.fromkeys(article.lead_terms, 1)),
    )


def merged(keep: StoryProfile, other: StoryProfile) -> StoryProfile:
    """One profile for two stories found to be one."""
    return StoryProfile(
        story_id=keep.story_id,
        company=keep.company,
        members=keep.members + other.members,
        figures=_count_figures(keep.figures, other.figures),
        terms=_count_terms(dict(keep.terms), dict(other.terms)),
        centroid=text_vector.add_to_centroid(keep.centroid, other.centroid),
        topics=keep.topics | other.topics,
        lead_terms=_count_terms(dict(keep.lead_terms), dict(other.lead_terms)),
    )


def fact_keys(facts: Sequence[Fact]) -> list[FigureKey]:
    """The keys of each figure that can count as evidence: its magnitude (the matcher
    compares magnitudes, so one range of keys finds a figure of either sign)."""
    out: list[FigureKey] = []
    for f in facts:
        if story.fact_weight(f) <= 0.0:
            continue
        out.append((f.unit, f.currency or "", abs(float(f.value)), False))
        if f.alt_value is not None:
            out.append((f.unit, f.alt_currency or "", abs(float(f.alt_value)), True))
    return out


def figure_spans(figures: Sequence[story.Figure]) -> list[Span]:
    """The key ranges that hold every amount that may match one of the figures: same unit
    and currency, magnitude within the matcher's tolerance (keys are magnitudes, see
    :func:`fact_keys`). Ranges of one unit and currency that overlap are joined: each
    range is one index range read of the company's keys."""
    ranges: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for f in figures:
        pairs = [(f.currency, f.value)]
        if f.alt_value is not None:
            pairs.append((f.alt_currency, f.alt_value))
        for cur, v in pairs:
            a = abs(float(v))
            reach = a * _REACH
            if f.unit in _PERCENT_UNITS:
                reach += story.ABS_TOLERANCE_PCT + 1e-6
            ranges.setdefault((f.unit, cur or ""), []).append((max(a - reach, 0.0), a + reach))
    out: list[Span] = []
    for (unit, cur), found in ranges.items():
        found.sort()
        lo, hi = found[0]
        for nlo, nhi in found[1:]:
            if nlo > hi:
                out.append((unit, cur, lo, hi))
                lo = nlo
            hi = max(hi, nhi)
        out.append((unit, cur, lo, hi))
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


AmountIndex = dict[tuple[str, str | None, float], list[Fact]]

# What :func:`same_fact` reads of a fact: two facts alike in all of it are the same to
# :func:`new_flags`, however many articles restate them
FactKind = tuple[str | None, str | None, float, str, str | None, float | None, str | None]


def kind(f: Fact) -> FactKind:
    return (f.entity, f.metric, f.value, f.unit, f.currency, f.alt_value, f.alt_currency)


def first_flags(facts: Sequence[Fact], held: Iterable[Fact], kinds: set[FactKind]) -> list[bool]:
    """Which of ``facts`` are the first of their :func:`kind` in their story: not among
    ``held`` (the story's stored facts near them) nor ``kinds`` (what the batch's earlier
    articles gave it, to which this adds the article's). A story's held facts are read
    from its first ones alone: each rewrite restates the story's figures, and reading
    every restatement made the facts stage grow with the story."""
    stored = {kind(g) for g in held}
    out: list[bool] = []
    for f in facts:
        k = kind(f)
        out.append(k not in stored and k not in kinds)
        kinds.add(k)
    return out


def hold(
    index: AmountIndex, f: Fact, keys: Sequence[tuple[str, str | None, float]] | None = None
) -> None:
    """Put ``f`` in ``index`` under each of its amounts (``keys``, when the caller has
    them: its :func:`amount_keys`)."""
    for k in amount_keys(f) if keys is None else keys:
        index.setdefault(k, []).append(f)


def new_flags(
    facts: Sequence[Fact],
    held: Iterable[Fact],
    *,
    also: AmountIndex | None = None,
    keys: Sequence[list[tuple[str, str | None, float]]] | None = None,
) -> list[bool]:
    """Which of ``facts`` the story did not hold yet: not among ``held``, nor in the index
    ``also`` (what a batch's earlier articles gave the story, kept from one article to
    the next: indexing them again for each article made a batch of copies quadratic).

    A figure restated by a rewrite is not new; a different value for the same thing ("$52
    billion" where the story said "$53 billion") is, so that digests show the conflict.
    A figure repeated within the article counts as new once. ``keys``: each fact's
    :func:`amount_keys`, when the caller has them.
    """
    index: AmountIndex = {}
    for g in held:
        hold(index, g)
    out: list[bool] = []
    for i, f in enumerate(facts):
        mine = amount_keys(f) if keys is None else keys[i]
        seen = any(same_fact(f, g) for k in mine for g in index.get(k, ()))
        if not seen and also is not None:
            seen = any(same_fact(f, g) for k in mine for g in also.get(k, ()))
        out.append(not seen)
        hold(index, f, mine)
    return out
