"""Deduplication, pure: exact (content hash), near-duplicate (MinHash + LSH) and same story.

No I/O and no settings: the store (``monitor.store.dedup_index`` and
``monitor.store.stories``) keeps the signatures, band keys and stories, and calls these
functions to decide.
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
    match_story,
    matching_stories,
    profile,
    story_profile,
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
    "match_story",
    "matching_stories",
    "normalise",
    "profile",
    "signature",
    "similarity",
    "story_profile",
]
