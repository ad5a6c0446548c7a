"""Why an article is where it is, in one line an analyst can read. Pure.

Placement stores the dedup stage's reason with each article (``article.join_reason``);
``monitor stories show`` and the web view put it into words here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_BASIS = {
    "text": "the same words",
    "text+facts": "the same words and figures",
    "text+terms": "the same words and model names",
    "facts": "the same figures",
}


def _list(items: Sequence[Any], n: int = 4) -> str:
    shown = [str(i) for i in items[:n]]
    more = len(items) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _evidence(reason: Mapping[str, Any]) -> list[str]:
    parts = []
    words = reason.get("shared_words") or []
    if words:
        parts.append(f"words {_list(words)} (similarity {reason.get('text_similarity')})")
    shared = reason.get("shared_facts") or []
    if shared:
        parts.append("figures " + _list([p[0] for p in shared]))
    terms = reason.get("shared_terms") or []
    if terms:
        parts.append("names " + _list(terms))
    days = reason.get("days_apart")
    if days:
        parts.append(f"{days} days from the story")
    return parts


def explain(reason: Mapping[str, Any] | None) -> str:
    reason = reason or {}
    level = reason.get("level")
    if level == "new":
        return "started the story"
    if level == "merged":
        return (
            f"started story {reason.get('started')}, merged into this one when article"
            f" {reason.get('bridged_by')} told both and the two stories agreed"
            + (
                f" (similarity {reason['text_similarity']})"
                if reason.get("text_similarity") is not None
                else ""
            )
        )
    if level == "exact":
        return f"exact copy of article {reason.get('duplicate_of')} (same normalised text)"
    if level == "near-duplicate":
        return (
            f"near-duplicate of article {reason.get('duplicate_of')}"
            f" (Jaccard {reason.get('similarity')}, verified by {reason.get('verified')})"
        )
    if level == "restatement":
        figures = _list([p[0] for p in reason.get("shared_facts") or []])
        return (
            f"restates the story's standing figure {figures}"
            f" {reason.get('days_apart')} days after it, nothing new"
        )
    if level == "story":
        basis = _BASIS.get(str(reason.get("basis")), str(reason.get("basis")))
        line = f"same story, on {basis}: " + "; ".join(_evidence(reason))
        merged = reason.get("merged") or []
        if merged:
            line += f"; showed that stories {_list(merged)} were this one, and merged them"
        return line
    return "unknown"
