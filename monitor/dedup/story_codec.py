"""Story profiles as JSON-ready dicts and back, for the store to keep.

A story's profile is stored with the story and updated as members join, so the same-story
level reads it instead of rebuilding it from every member's facts for each new article.
Floats survive the round trip exactly (JSON writes the shortest repr that reads back to
the same double), so a decoded profile compares exactly as the one encoded. A profile of
an older version decodes to None: the application rebuilds it from the member rows.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from monitor.dedup.story import Figure, StoryProfile
from monitor.dedup.text_vector import Vector

VERSION = 2


def encode_figure(f: Figure) -> list[Any]:
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
        int(f.lead),
        int(f.standing),
        f.period,
    ]


def _shared(name: str | None) -> str | None:
    return None if name is None else sys.intern(name)


def decode_figure(row: Sequence[Any]) -> Figure:
    unit, cur, value, surface, weight, alt_c, alt_v, entity, metric, lead, standing, period = row
    # Units, currencies, companies and metrics repeat in every figure of every profile:
    # interned, a decoded profile kept in memory holds one copy of each name, not one
    # per figure (a quarter of a profile's memory; more stories fit the same cache).
    return Figure(
        unit=sys.intern(unit),
        currency=_shared(cur),
        value=float(value),
        surface=surface,
        weight=float(weight),
        alt_currency=_shared(alt_c),
        alt_value=None if alt_v is None else float(alt_v),
        entity=_shared(entity),
        metric=_shared(metric),
        lead=bool(lead),
        standing=bool(standing),
        period=period,
    )


def encode_story(p: StoryProfile) -> dict[str, Any]:
    # the version and the centroid first: see centroid_of
    return {
        "v": VERSION,
        "x": dict(sorted(p.centroid.items())),
        "n": p.members,
        "f": [[*encode_figure(f), n] for f, n in p.figures],
        "t": dict(sorted(p.terms.items())),
        "p": sorted(p.topics),
        "lt": dict(sorted(p.lead_terms.items())),
    }


def decode_centroid(d: dict[str, Any]) -> Vector | None:
    """The centroid alone, without the figures (most of a profile's decoding); None for
    a profile of an older version."""
    if d.get("v") != VERSION:
        return None
    return _vector(d["x"])


def _vector(x: dict[str, Any]) -> Vector:
    return {str(k): float(v) for k, v in x.items()}


# How json.dumps (the store's JSON columns) begins a profile that encode_story made.
_LEADS = f'{{"v": {VERSION}, "x": '
_DECODER = json.JSONDecoder()


def centroid_of(text: str) -> tuple[Vector | None, dict[str, Any] | None]:
    """The centroid of a stored profile's JSON text, and the whole profile parsed when
    that was needed to find it.

    Most candidate stories are rejected on their centroid alone (``story.words_meet``),
    and the figures are most of a profile's text (~85%): a text that begins with the
    version and the centroid, as ``encode_story`` orders them, has only the centroid
    parsed (~3 µs against ~17 µs for the whole). Any other text (written before that
    order, or by another serializer) is parsed whole.
    """
    if text.startswith(_LEADS):
        x, _ = _DECODER.raw_decode(text, len(_LEADS))
        if isinstance(x, dict):
            return _vector(x), None
    parsed = json.loads(text)
    return decode_centroid(parsed), parsed


def decode_story(story_id: int, company: str | None, d: dict[str, Any]) -> StoryProfile | None:
    centroid = decode_centroid(d)
    if centroid is None:
        return None
    return StoryProfile(
        story_id=story_id,
        company=company,
        members=int(d["n"]),
        figures=tuple((decode_figure(r[:-1]), int(r[-1])) for r in d["f"]),
        terms={str(k): int(v) for k, v in d["t"].items()},
        centroid=centroid,
        topics=frozenset(d["p"]),
        lead_terms={str(k): int(v) for k, v in d["lt"].items()},
    )
