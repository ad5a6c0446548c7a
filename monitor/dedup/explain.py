"""Why an article is where it is, in one line an analyst can read. Pure.

Placement stores the dedup stage's reason with each article (``article.join_reason``);
``monitor stories show`` and the web view put it into words here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def explain(reason: Mapping[str, Any] | None) -> str:
    reason = reason or {}
    level = reason.get("level")
    if level == "new":
        return "started the story"
    if level == "merged":
        return (
            f"started story {reason.get('started')}, merged into this one when article"
            f" {reason.get('bridged_by')} restated the figures of both"
        )
    if level == "exact":
        return f"exact copy of article {reason.get('duplicate_of')} (same normalised text)"
    if level == "near-duplicate":
        return (
            f"near-duplicate of article {reason.get('duplicate_of')}"
            f" (Jaccard {reason.get('similarity')}, verified by {reason.get('verified')})"
        )
    if level == "story":
        parts = []
        shared = reason.get("shared_facts") or []
        if shared:
            parts.append("shared facts " + ", ".join(str(p[0]) for p in shared))
        terms = reason.get("shared_terms") or []
        if terms:
            parts.append("terms " + ", ".join(terms))
        topics = reason.get("shared_topics") or []
        if topics:
            parts.append("topics " + ", ".join(topics))
        if reason.get("basis") in ("title", "lede"):
            parts.append(
                f"similar {reason['basis']} ({reason.get(reason['basis'] + '_similarity')})"
            )
        return "same story: " + ("; ".join(parts) if parts else str(reason.get("basis")))
    return "unknown"
