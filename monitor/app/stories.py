"""Stories for readers: the store's views with each member's reason put into words."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlmodel import Session

from monitor.dedup.explain import explain
from monitor.store import story_views
from monitor.store.story_views import MemberDetail, StoryDetail, StoryView


def list_stories(
    session: Session, *, since: datetime | None, limit: int, members: int | None = None
) -> list[StoryView]:
    return story_views.list_stories(session, since=since, limit=limit, members=members)


def story_detail(
    session: Session, story_id: int, *, members: int | None = None, facts: int | None = None
) -> StoryDetail | None:
    detail = story_views.story_detail(session, story_id, members=members, facts=facts)
    if detail is None:
        return None
    worded = [
        dataclasses.replace(m, joined=explain(m.reason)) if isinstance(m, MemberDetail) else m
        for m in detail.members
    ]
    return dataclasses.replace(detail, members=worded)
