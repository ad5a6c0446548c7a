"""Article and story profiles as JSON-ready lists and back, for the store to keep.

A story's profile is stored with the story and updated as members join, so the same-story
level reads it instead of rebuilding it from every member's facts for each new article.
Floats survive the round trip exactly (JSON writes the shortest repr that reads back to
the same double), so a decoded profile compares exactly as the one encoded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.dedup.story import ArticleProfile, Figure, StoryProfile, union_figures

VERSION = 1


def _figure(f: Figure) -> list[Any]:
    return [
        f.unit,
        f.currency,
        f.value,
        f.surface,
        f.weight,
        f.alt_currency,
        f.alt_value,
        f.entity,
        f.metric,
    ]


def _unfigure(row: Sequence[Any]) -> Figure:
    unit, cur, value, surface, weight, alt_c, alt_v, entity, metric = row
    return Figure(
        unit=unit,
        currency=cur,
        value=float(value),
        surface=surface,
        weight=float(weight),
        alt_currency=alt_c,
        alt_value=None if alt_v is None else float(alt_v),
        entity=entity,
        metric=metric,
    )


def encode_article(p: ArticleProfile) -> dict[str, Any]:
    """What a member contributes to its story (its main entity is the story's)."""
    return {
        "f": [_figure(f) for f in p.figures],
        "t": sorted(p.terms),
        "p": sorted(p.topics),
        "ti": sorted(p.title_words),
        "le": sorted(p.lede_words),
    }


def decode_article(d: dict[str, Any]) -> ArticleProfile:
    return ArticleProfile(
        main_entity=None,
        entities=frozenset(),
        figures=tuple(_unfigure(r) for r in d["f"]),
        terms=frozenset(d["t"]),
        topics=frozenset(d["p"]),
        title_words=frozenset(d["ti"]),
        lede_words=frozenset(d["le"]),
    )


def encode_story(members: Sequence[ArticleProfile]) -> dict[str, Any]:
    """The union of the members' profiles (newest member first), as the matcher needs it."""
    return {
        "v": VERSION,
        "f": [_figure(f) for f in union_figures(m.figures for m in members)],
        "t": sorted(set().union(*(m.terms for m in members))),
        "p": sorted(set().union(*(m.topics for m in members))),
        "ti": [sorted(m.title_words) for m in members if m.title_words],
        "le": [sorted(m.lede_words) for m in members if m.lede_words],
    }


def decode_story(story_id: int, main_entity: str | None, d: dict[str, Any]) -> StoryProfile:
    return StoryProfile(
        story_id=story_id,
        main_entity=main_entity,
        figures=tuple(_unfigure(r) for r in d["f"]),
        terms=frozenset(d["t"]),
        topics=frozenset(d["p"]),
        titles=tuple(frozenset(w) for w in d["ti"]),
        ledes=tuple(frozenset(w) for w in d["le"]),
    )
