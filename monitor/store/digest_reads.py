"""What a digest window is made of, read from the store as typed rows.

A window covers what monitor first saw in ``[since, until)`` (first-seen time, so a
backfill of old articles is news to the analyst when it arrives): the stories whose
articles arrived then, the typed facts and first-seen names of those articles, and the
alerts routed to the channel that no digest of the channel has shown yet. What is a
change, a conflict or a restatement is decided above the store (``monitor.app.digests``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from monitor.models import Alert, Article, DigestAlert, FactRow, Mention, Source, Story, Term
from monitor.store.upsert import insert_ignore

ARTICLE: sa.Table = Article.__table__  # type: ignore[attr-defined]
STORY: sa.Table = Story.__table__  # type: ignore[attr-defined]
FACT: sa.Table = FactRow.__table__  # type: ignore[attr-defined]
SOURCE: sa.Table = Source.__table__  # type: ignore[attr-defined]
MENTION: sa.Table = Mention.__table__  # type: ignore[attr-defined]
TERM: sa.Table = Term.__table__  # type: ignore[attr-defined]
ALERT: sa.Table = Alert.__table__  # type: ignore[attr-defined]
SHOWN: sa.Table = DigestAlert.__table__  # type: ignore[attr-defined]
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Said:
    """Where something was read: one article of a source."""

    article_id: int
    source: str
    url: str
    published_at: datetime | None  # the article's date (published, else first seen)
    ai_generated: bool


@dataclass(frozen=True, slots=True)
class StoryRead:
    id: int
    title: str  # the canonical article's
    url: str | None
    main_entity: str | None
    started_at: datetime | None  # when its first article was first seen (its date, by news time)
    updated_at: datetime | None  # its newest article's date
    sources: int  # distinct sources that told it
    ai_only_sources: int  # ... of which told it only in AI-written articles
    new_articles: int  # first seen in the window


@dataclass(frozen=True, slots=True)
class FactRead:
    id: int
    story_id: int | None
    entity: str | None
    metric: str
    qualifiers: tuple[tuple[str, str], ...]
    period: str | None
    value: float
    unit: str
    currency: str | None
    alt_value: float | None
    alt_currency: str | None
    surface: str
    quote: str
    new_to_story: bool
    in_window: bool  # first seen in the window (else an earlier fact of the story)
    said: Said


@dataclass(frozen=True, slots=True)
class NameRead:
    story_id: int | None
    family: str
    term: str
    quote: str
    said: Said


@dataclass(frozen=True, slots=True)
class AlertRead:
    id: int
    rule_id: str
    severity: str
    title: str
    story_id: int | None
    created_at: datetime | None
    channels: tuple[str, ...]
    immediate: bool
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WindowRead:
    stories: list[StoryRead]
    facts: list[FactRead]  # typed facts of those stories: the window's and earlier ones
    names: list[NameRead]  # names first seen in an article of the window
    alerts: list[AlertRead]


def _said(r: Any) -> Said:
    return Said(int(r.article_id), r.source, r.url, r.sort_at, bool(r.ai_generated))


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


def window(
    session: Session,
    *,
    channel: str | None,
    since: datetime | None,
    until: datetime,
    alert_ids: Sequence[int] | None = None,
    alerts: Sequence[AlertRead] | None = None,
    news_time: bool = False,
) -> WindowRead:
    """What is new for ``channel`` in ``[since, until)`` (None: for any channel, the
    alerts that fired in the window); with ``alert_ids``, exactly those alerts (an
    immediate message) and their stories instead. ``alerts``, given, are the window's
    alerts instead of the stored ones (alerts a replay would raise: `rules test`).
    ``news_time`` places an article in the window by its date (``sort_at``), as a replay
    places its alerts, instead of by when it was first seen: after a backfill, the last
    30 days of news are not every story the backfill brought."""
    at = ARTICLE.c.sort_at if news_time else ARTICLE.c.first_seen_at
    if alerts is None:
        alerts = _alerts(session, channel=channel, since=since, until=until, ids=alert_ids)
    if alert_ids is None:
        new = sa.select(ARTICLE.c.story_id).where(at < until, ARTICLE.c.story_id.is_not(None))
        if since is not None:
            new = new.where(at >= since)
        story_ids = {int(s) for (s,) in session.execute(new.distinct())}
    else:
        story_ids = set()
    story_ids |= {a.story_id for a in alerts if a.story_id is not None}
    stories = _stories(session, sorted(story_ids), since=since, until=until, at=at)
    if alert_ids is not None:  # an alert sent at once: its story names it, nothing more
        return WindowRead(stories, [], [], list(alerts))
    facts = _facts(session, [s.id for s in stories], since=since, until=until, at=at)
    names = _names(session, [s.id for s in stories], since=since, until=until, at=at)
    return WindowRead(stories, facts, names, list(alerts))


def _alerts(
    session: Session,
    *,
    channel: str | None,
    since: datetime | None,
    until: datetime,
    ids: Sequence[int] | None,
) -> list[AlertRead]:
    q = sa.select(ALERT).where(ALERT.c.created_at < until, ~ALERT.c.rule_id.like("operator:%"))
    if ids is not None:
        q = q.where(ALERT.c.id.in_(list(ids)))
    elif channel is None:
        if since is not None:
            q = q.where(ALERT.c.created_at >= since)
    else:
        shown = sa.select(SHOWN.c.alert_id).where(SHOWN.c.channel == channel)
        q = q.where(ALERT.c.id.not_in(shown))
    out = []
    for r in session.execute(q.order_by(ALERT.c.id)):
        routed = tuple(r.channels or ())
        # an alert names its channels, or goes to every digest ("the digest only")
        if ids is None and channel is not None and routed and channel not in routed:
            continue
        out.append(
            AlertRead(
                int(r.id), r.rule_id, r.severity, r.title, r.story_id, r.created_at, routed,
                bool(r.immediate), dict(r.payload or {}),
            )
        )  # fmt: skip
    return out


def _stories(
    session: Session,
    ids: Sequence[int],
    *,
    since: datetime | None,
    until: datetime,
    at: sa.ColumnElement[Any],
) -> list[StoryRead]:
    out: list[StoryRead] = []
    for part in _chunks(ids):
        members: dict[int, list[Any]] = defaultdict(list)
        for r in session.execute(
            sa.select(
                ARTICLE.c.story_id,
                ARTICLE.c.id,
                ARTICLE.c.url,
                ARTICLE.c.title,
                ARTICLE.c.sort_at,
                ARTICLE.c.ai_generated,
                at.label("window_at"),
                SOURCE.c.name.label("source"),
            )
            .join(SOURCE, SOURCE.c.id == ARTICLE.c.source_id)
            .where(ARTICLE.c.story_id.in_(list(part)), at < until)
        ):
            members[int(r.story_id)].append(r)
        for s in session.execute(sa.select(STORY).where(STORY.c.id.in_(list(part)))):
            got = members.get(int(s.id), [])
            if not got:
                continue
            canonical = next((m for m in got if m.id == s.canonical_article_id), got[0])
            by_source: dict[str, bool] = {}
            for m in got:
                by_source[m.source] = by_source.get(m.source, True) and bool(m.ai_generated)
            out.append(
                StoryRead(
                    id=int(s.id),
                    title=canonical.title or s.title,
                    url=canonical.url,
                    main_entity=s.main_entity,
                    started_at=min(m.window_at for m in got),
                    updated_at=max(m.sort_at for m in got),
                    sources=len(by_source),
                    ai_only_sources=sum(by_source.values()),
                    new_articles=sum(1 for m in got if since is None or m.window_at >= since),
                )
            )
    return out


def _facts(
    session: Session,
    story_ids: Sequence[int],
    *,
    since: datetime | None,
    until: datetime,
    at: sa.ColumnElement[Any],
) -> list[FactRead]:
    out = []
    for part in _chunks(story_ids):
        q = (
            sa.select(
                FACT,
                ARTICLE.c.url,
                ARTICLE.c.sort_at,
                ARTICLE.c.ai_generated,
                at.label("window_at"),
                SOURCE.c.name.label("source"),
            )
            .join(ARTICLE, ARTICLE.c.id == FACT.c.article_id)
            .join(SOURCE, SOURCE.c.id == ARTICLE.c.source_id)
            .where(
                FACT.c.story_id.in_(list(part)),
                FACT.c.metric.is_not(None),
                at < until,
            )
            .order_by(FACT.c.id)
        )
        for r in session.execute(q):
            out.append(
                FactRead(
                    id=int(r.id),
                    story_id=r.story_id,
                    entity=r.entity,
                    metric=r.metric,
                    qualifiers=tuple(sorted((r.qualifiers or {}).items())),
                    period=r.period,
                    value=r.value,
                    unit=r.unit,
                    currency=r.currency,
                    alt_value=r.alt_value,
                    alt_currency=r.alt_currency,
                    surface=r.surface,
                    quote=r.quote,
                    new_to_story=bool(r.new_to_story),
                    in_window=since is None or r.window_at >= since,
                    said=_said(r),
                )
            )
    return out


def _names(
    session: Session,
    story_ids: Sequence[int],
    *,
    since: datetime | None,
    until: datetime,
    at: sa.ColumnElement[Any],
) -> list[NameRead]:
    """Names (model releases) whose first sighting is an article of these stories that
    arrived in the window."""
    out = []
    for part in _chunks(story_ids):
        q = (
            sa.select(
                TERM.c.family,
                TERM.c.term,
                ARTICLE.c.id.label("article_id"),
                ARTICLE.c.story_id,
                ARTICLE.c.url,
                ARTICLE.c.sort_at,
                ARTICLE.c.ai_generated,
                SOURCE.c.name.label("source"),
                sa.select(MENTION.c.quote)
                .where(
                    MENTION.c.article_id == ARTICLE.c.id,
                    MENTION.c.kind == "term",
                    MENTION.c.value == TERM.c.term,
                )
                .limit(1)
                .scalar_subquery()
                .label("quote"),
            )
            .join(ARTICLE, ARTICLE.c.id == TERM.c.first_article_id)
            .join(SOURCE, SOURCE.c.id == ARTICLE.c.source_id)
            .where(ARTICLE.c.story_id.in_(list(part)), at < until)
            .order_by(TERM.c.id)
        )
        if since is not None:
            q = q.where(at >= since)
        for r in session.execute(q):
            out.append(NameRead(r.story_id, r.family, r.term, r.quote or "", _said(r)))
    return out


def mark_shown(session: Session, *, channel: str, digest_id: int, alert_ids: Sequence[int]) -> None:
    """Record that the channel's digest showed these alerts (once per channel)."""
    if not alert_ids:
        return
    session.execute(
        insert_ignore(session, DigestAlert),
        [{"channel": channel, "alert_id": a, "digest_id": digest_id} for a in alert_ids],
    )
