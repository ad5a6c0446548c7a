"""Deduplication, pure: exact (content hash), near-duplicate (MinHash + LSH) and same story.

No I/O and no settings: the store (``monitor.store``) keeps the signatures, band keys,
stories and word frequencies; the application (``monitor.app.placement``) reads them and
calls these functions to decide.
"""

from typing import TYPE_CHECKING

from monitor.lazy import exports

if TYPE_CHECKING:
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

# Loaded on first use: commands that only list stories or explain a join need no numpy
# (MinHash), which took a tenth of a second of every such command's start.
_WHERE = {
    "NEAR_DUPLICATE": "minhash",
    "band_keys": "minhash",
    "candidate_probability": "minhash",
    "jaccard": "minhash",
    "signature": "minhash",
    "similarity": "minhash",
    "content_hash": "normalize",
    "normalise": "normalize",
    "ArticleProfile": "story",
    "StoryMatch": "story",
    "StoryProfile": "story",
    "matching_stories": "story",
    "profile": "story",
}


__getattr__ = exports(__name__, _WHERE)

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
