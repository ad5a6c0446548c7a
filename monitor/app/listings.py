"""Listings the command line's ``--json`` and the web view's ``/api/`` both print, where
a listing is more than one store call: one function, so the two cannot differ."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from monitor.store import articles


def facts(
    session: Session,
    *,
    entity: str | None,
    metric: str | None,
    show_all: bool,
    since: datetime | None,
    limit: int,
) -> tuple[list[articles.FactView], list[articles.MentionView]]:
    """Facts (typed only unless ``show_all``), then the terms and topics found, which
    have no metric: listed unless a metric is asked for."""
    rows = articles.list_facts(
        session, entity=entity, metric=metric, since=since, typed_only=not show_all, limit=limit
    )
    mentions = (
        [] if metric else articles.list_mentions(session, entity=entity, since=since, limit=limit)
    )
    return rows, mentions


def facts_json(
    rows: list[articles.FactView], mentions: list[articles.MentionView], limit: int
) -> list[Any]:
    """What ``monitor facts --json`` prints: the facts, then the mentions, ``limit`` in all."""
    return [*rows, *mentions][:limit]
