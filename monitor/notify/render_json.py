"""The digest as structured JSON items: the ``digest`` field of a webhook body.

Schema (version 1; fields are added, never renamed, within a version)::

    {"title": str, "subject": str, "generated": str, "since": str | null,
     "counts": str, "severity": str | null, "alert_ids": [int],
     "companies": [{"name": str, "severity": str | null, "changed": str,
                    "stories": [{"title": str, "url": str | null, "severity": str | null,
                                 "about": str, "restated": str | null,
                                 "nothing_tracked": str | null,
                                 "points": [POINT], "conflicts": [CONFLICT]}]}],
     "other_alerts": [POINT]}
    POINT    = {"lines": [{"text": str, "severity": str | null}], "quote": str | null,
                "cites": [CITE]}
    CITE     = {"source": str, "date": str, "url": str | null, "ai_generated": bool}
    CONFLICT = {"label": str, "claims": [{"value": str, "quote": str | null, "cite": CITE}]}

Strings are plain text (a receiver must escape them for its own markup); URLs are http(s).
A digest of many stories comes in parts (the webhook body's ``part`` and ``parts``): each
holds some of the stories, with the ``alert_ids`` and ``severity`` of the alerts it shows
(the first also ``other_alerts``); ``counts`` is the whole digest's.
"""

from __future__ import annotations

from typing import Any

from monitor.notify.view import Cite, DigestView, Point, StoryView


def render_json(view: DigestView) -> dict[str, Any]:
    return {
        "title": view.title,
        "subject": view.subject,
        "generated": view.generated,
        "since": view.since,
        "counts": view.counts,
        "severity": view.severity,
        "alert_ids": list(view.alert_ids),
        "companies": [
            {
                "name": c.name,
                "severity": c.severity,
                "changed": c.changed,
                "stories": [_story(s) for s in c.stories],
            }
            for c in view.companies
        ],
        "other_alerts": [_point(p) for p in view.other_alerts],
    }


def _story(s: StoryView) -> dict[str, Any]:
    return {
        "title": s.title,
        "url": s.link,
        "severity": s.severity,
        "about": s.about,
        "restated": s.restated,  # an older story restated, nothing else new
        "nothing_tracked": s.nothing_tracked,  # a new story, nothing tracked found in it
        "points": [_point(p) for p in s.points],
        "conflicts": [
            {
                "label": k.label,
                "claims": [
                    {"value": c.value, "quote": c.quote, "cite": _cite(c.cite)} for c in k.claims
                ],
            }
            for k in s.conflicts
        ],
    }


def _point(p: Point) -> dict[str, Any]:
    return {
        "lines": [{"text": ln.text, "severity": ln.severity} for ln in p.lines],
        "quote": p.quote,
        "cites": [_cite(c) for c in p.cites],
    }


def _cite(c: Cite) -> dict[str, Any]:
    return {"source": c.source, "date": c.date, "url": c.link, "ai_generated": c.ai_generated}
