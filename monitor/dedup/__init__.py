"""Deduplication, pure: exact (content hash), near-duplicate (MinHash + LSH) and same story.

No I/O and no settings: the store (``monitor.store``) keeps the signatures, band keys,
stories and word frequencies; the application (``monitor.app.placement``) reads them and
calls these functions to decide.
"""

from monitor.dedup.minhash import (
    NEAR_DUPLICATE,
    band_keys,
    candidate_probability,
    jaccard,
    signature,
    similarity,
)
from monitor.dedup.normalize import content_hash, normalise
from monitor.dedup.story import (
    ArticleProfile,
    StoryMatch,
    StoryProfile,
    matching_stories,
    profile,
)

__all__ = [
    "NEAR_DUPLICATE",
    "ArticleProfile",
    "StoryMatch",
    "StoryProfile",
    "band_keys",
    "candidate_probability",
    "content_hash",
    "jaccard",
    "matching_stories",
    "normalise",
    "profile",
    "signature",
    "similarity",
]
