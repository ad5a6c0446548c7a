"""The digest flow: what is new for a channel since its last digest, built (pure, in
``monitor.notify``), recorded once per window and queued for delivery, in one transaction.

What is new (:func:`news_of`): per story, the typed figures new to it, each with the value
it replaces ("old -> new"), the names seen for the first time, the figures its sources
disagree on, and the alerts; a story with new articles and nothing else new is a
restatement. Stories are grouped by their main company.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session

from monitor.app.runtime import Runtime
from monitor.notify.channels import Channel
from monitor.notify.compose import compose
from monitor.notify.digest import build_digest
from monitor.notify.message import MessageKind, OutboundMessage
from monitor.notify.news import (
    AlertNews,
    Claim,
    CompanyNews,
    Conflict,
    DigestNews,
    Evidence,
    FigureChange,
    NewName,
    StoryNews,
)
from monitor.notify.render_html import render_html
from monitor.notify.render_text import render_text
from monitor.notify.severity import SEVERITIES, Severity
from monitor.notify.view import DigestView
from monitor.rules.display import Names
from monitor.store import db, deliveries, digest_reads, digests
from monitor.store.db import session_scope
from monitor.store.deliveries import NewDelivery
from monitor.store.digest_reads import AlertRead, FactRead, Said, StoryRead, WindowRead
from monitor.values import AlertDraft

log = logging.getLogger(__name__)

# Two figures of one series agree within this share (wording and rounding: "$52 billion"
# and "$53 billion" are one figure told twice), as the rule engine's conflict rules do.
AGREE = 0.025


# ----------------------------------------------------------------------------- news


def _evidence(said: Said, quote: str | None) -> Evidence:
    return Evidence(said.source, said.published_at, quote, said.url, said.ai_generated)


def _severity(name: str) -> Severity:
    return SEVERITIES[SEVERITIES.index(name)] if name in SEVERITIES else "medium"


def _alert(a: digest_reads.AlertRead) -> AlertNews:
    evidence = []
    for e in a.payload.get("evidence") or ():
        if not isinstance(e, dict):
            continue
        at = e.get("at")
        evidence.append(
            Evidence(
                source=str(e.get("source") or ""),
                published_at=datetime.fromisoformat(at) if isinstance(at, str) else None,
                quote=e.get("quote"),
                url=e.get("url"),
                ai_generated=bool(e.get("ai_generated")),
            )
        )
    return AlertNews(
        title=a.title,
        severity=_severity(a.severity),
        rule_id=a.rule_id,
        fired_at=a.created_at or datetime.now(UTC),
        evidence=tuple(evidence),
        alert_id=a.id,
    )


def _series(f: FactRead) -> tuple[object, ...]:
    return (f.entity, f.metric, f.qualifiers, f.unit)


def _amounts(f: FactRead) -> list[tuple[str | None, float]]:
    out = [(f.currency, f.value)]
    if f.alt_value is not None:
        out.append((f.alt_currency, f.alt_value))
    return out


def agree(a: FactRead, b: FactRead) -> bool:
    """One figure: the same amount within ``AGREE`` in a currency both give (an amount
    and its conversion, "RMB 380 billion (about $53 billion)", count as both)."""
    for ca, va in _amounts(a):
        for cb, vb in _amounts(b):
            if ca == cb and abs(va - vb) <= AGREE * max(abs(va), abs(vb), 1e-12):
                return True
    return False


def _label(names: Names, f: FactRead) -> str:
    metric = names.metric(f.metric)
    quals = ", ".join(v for _, v in f.qualifiers)
    who = names.entity(f.entity) if f.entity else ""
    text = f"{who} {metric}".strip() if who else metric
    return f"{text} ({quals})" if quals else text


def _changes(facts: Sequence[FactRead], names: Names) -> list[FigureChange]:
    """Each figure new to the story in the window, once, with the value of its series as
    it stood before the window ("old -> new"; none for a series the window starts)."""
    out: list[FigureChange] = []
    shown: list[FactRead] = []
    earlier = sorted((f for f in facts if not f.in_window), key=_told_at)
    for f in sorted((f for f in facts if f.in_window and f.new_to_story), key=_told_at):
        if any(_series(g) == _series(f) and agree(g, f) for g in shown):
            continue
        shown.append(f)
        before = [
            g for g in earlier
            if _series(g) == _series(f) and _shares_currency(g, f) and not agree(g, f)
        ]  # fmt: skip
        # the figure it replaces, as written in the same currency where one was
        same = [g for g in before if g.currency == f.currency] or before
        out.append(
            FigureChange(
                label=_label(names, f),
                new=f.surface,
                evidence=_evidence(f.said, f.quote),
                old=same[-1].surface if same else None,
            )
        )
    return out


def _told_at(f: FactRead) -> tuple[datetime, int]:
    return (f.said.published_at or datetime.min.replace(tzinfo=UTC), f.id)


def _conflicts(facts: Sequence[FactRead], names: Names) -> list[Conflict]:
    """Series of the story whose sources give figures that do not agree, where one of
    them arrived in the window: who said what. Amounts are compared in a currency both
    give: "$52 billion" and "RMB 380 billion" say nothing against each other."""
    by_series: dict[tuple[object, ...], list[FactRead]] = defaultdict(list)
    for f in facts:
        by_series[(*_series(f), f.period)].append(f)
    out = []
    for group in by_series.values():
        if not any(f.in_window for f in group):
            continue
        claims: list[FactRead] = []
        for f in group:
            if not any(agree(f, c) for c in claims):
                claims.append(f)
        # only claims that share a currency with another claim can disagree
        claims = [
            c for c in claims
            if any(_shares_currency(c, d) for d in claims if d is not c)
        ]  # fmt: skip
        if len(claims) > 1 and len({c.said.source for c in claims}) > 1:
            out.append(
                Conflict(
                    label=_label(names, claims[0]),
                    claims=tuple(Claim(c.surface, _evidence(c.said, c.quote)) for c in claims),
                )
            )
    return out


def _shares_currency(a: FactRead, b: FactRead) -> bool:
    return bool({c for c, _ in _amounts(a)} & {c for c, _ in _amounts(b)})


def news_of(
    read: WindowRead,
    *,
    names: Names,
    title: str,
    generated_at: datetime,
    since: datetime | None,
) -> DigestNews:
    facts: dict[int, list[FactRead]] = defaultdict(list)
    for f in read.facts:
        if f.story_id is not None:
            facts[f.story_id].append(f)
    new_names: dict[int, list[NewName]] = defaultdict(list)
    for n in read.names:
        if n.story_id is not None:
            new_names[n.story_id].append(
                NewName(names.family(n.family), n.term, _evidence(n.said, n.quote))
            )
    alerts: dict[int | None, list[AlertNews]] = defaultdict(list)
    for a in read.alerts:
        alerts[a.story_id].append(_alert(a))
    by_company: dict[str | None, list[StoryNews]] = defaultdict(list)
    for s in read.stories:
        by_company[s.main_entity].append(
            _story_news(s, facts[s.id], new_names, alerts, names, since)
        )
        alerts.pop(s.id, None)
    companies = tuple(
        CompanyNews(names.entity(entity) if entity else "", tuple(stories), entity)
        for entity, stories in by_company.items()
    )
    loose = tuple(a for group in alerts.values() for a in group)
    return DigestNews(title, generated_at, since, companies, loose)


def _story_news(
    s: StoryRead,
    facts: Sequence[FactRead],
    new_names: dict[int, list[NewName]],
    alerts: dict[int | None, list[AlertNews]],
    names: Names,
    since: datetime | None,
) -> StoryNews:
    return StoryNews(
        story_id=s.id,
        title=s.title,
        url=s.url,
        sources=s.sources,
        ai_generated=s.ai_only_sources,
        updated_at=s.updated_at or datetime.now(UTC),
        new_articles=s.new_articles,
        first_seen=since is None or (s.started_at is not None and s.started_at >= since),
        changes=tuple(_changes(facts, names)),
        names=tuple(new_names.get(s.id, ())),
        conflicts=tuple(_conflicts(facts, names)),
        alerts=tuple(alerts.get(s.id, ())),
    )


# --------------------------------------------------------------------------- flows


def _view(
    rt: Runtime,
    session: Session,
    channel: Channel | None,
    *,
    since: datetime | None,
    until: datetime,
    title: str,
    alert_ids: Sequence[int] | None = None,
    news_time: bool = False,
) -> DigestView:
    read = digest_reads.window(
        session,
        channel=channel.name if channel else None,
        since=since,
        until=until,
        alert_ids=alert_ids,
        news_time=news_time,
    )
    news = news_of(read, names=Names(rt.rules.vocabulary), title=title, generated_at=until,
                   since=since)  # fmt: skip
    zone = channel.schedule.zone if channel and channel.schedule else UTC
    return build_digest(news, tz=zone, min_severity=channel.min_severity if channel else None)


def preview(
    rt: Runtime, *, channel: Channel | None = None, since: datetime | None = None
) -> DigestView:
    """The digest a channel would get now (None: every alert, every channel's view).
    ``since``, given, is a date of the news (an article counts by its published date,
    as `stories list --published-since` counts it); by default the window starts at the
    channel's last digest and holds what was first seen since, as the next digest will.
    Records nothing."""
    now = rt.clock()
    news_time = since is not None
    with session_scope(rt.engine) as session:
        if since is None and channel is not None:
            since = digests.last_window_end(session, channel.name)
        return _view(
            rt, session, channel, since=since, until=now, title=_title(channel),
            news_time=news_time,
        )  # fmt: skip


def would_be(
    session: Session,
    drafts: Sequence[AlertDraft],
    *,
    names: Names,
    since: datetime,
    until: datetime,
) -> DigestView:
    """The digest of ``[since, until)`` with ``drafts`` as its alerts instead of the stored
    ones: what the rules a replay ran would have sent (`rules test --days`). The stories,
    facts and names are the stored ones of the window, placed in it by their news date as
    the replay places its alerts; nothing is written."""
    shown = [_as_read(-i, d) for i, d in enumerate(drafts, start=1)]
    read = digest_reads.window(
        session, channel=None, since=since, until=until, alerts=shown, news_time=True
    )
    news = news_of(read, names=names, title="monitor digest (rules test)", generated_at=until,
                   since=since)  # fmt: skip
    return build_digest(news, tz=UTC, min_severity=None)


def _as_read(alert_id: int, d: AlertDraft) -> AlertRead:
    """A draft as a stored alert reads (its id made up: negative, never a row's)."""
    return AlertRead(
        alert_id, d.rule_id, d.severity, d.title, d.story_id, d.at, d.channels, d.immediate,
        dict(d.payload),
    )  # fmt: skip


def _title(channel: Channel | None) -> str:
    return f"monitor digest for {channel.name}" if channel else "monitor digest"


@dataclass(frozen=True, slots=True)
class Recorded:
    digest_id: int
    channel: str
    window_key: str
    messages: int  # deliveries queued
    empty: bool


# How long a scheduled digest waits for a store in flight that began before its window
# ended; past it (a transaction left open by hand), the window ends where that one began
WRITER_WAIT = timedelta(minutes=10)


def record_window(
    rt: Runtime, channel: Channel, *, window_key: str, until: datetime, wait: bool = False
) -> Recorded | None:
    """Build the channel's digest of what is new since its last one, up to ``until``,
    record it under ``window_key`` and queue its messages, all in one transaction. None
    when another worker already recorded this window. An empty digest is recorded too
    (the window is done) and sends nothing unless the channel says ``send_empty``.

    A store still in flight (PostgreSQL) will commit articles first seen when it began:
    read by its first-seen time alone, a window missed a batch that committed after it
    was read, for good. With ``wait`` (the daemon's schedule), such a window is not
    built yet (None: the next tick builds it); else it ends where that store began, and
    the next digest holds what it stores."""
    with session_scope(rt.engine) as session:
        since = digests.last_window_end(session, channel.name)
        in_flight = db.writers_since(session)
        if in_flight is not None and in_flight < until:
            if wait and db.db_now(session) - in_flight < WRITER_WAIT:
                log.debug("digest of %s waits for a store in flight", channel.name)
                return None
            until = in_flight
        if since is not None and since >= until:
            return None
        view = _view(rt, session, channel, since=since, until=until, title=_title(channel))
        digest_id = digests.save_window(
            session,
            channel=channel.name,
            window_key=window_key,
            start=since,
            end=until,
            title=view.title,
            text=render_text(view),
            html=render_html(view),
            alert_ids=list(view.alert_ids),
            now=rt.clock(),
        )
        if digest_id is None:
            return None
        messages = compose(channel, view, ref_id=str(digest_id))
        queue(session, messages, kind="digest", ref_id=digest_id, now=rt.clock())
        digests.set_parts(session, digest_id, max((m.parts for m in messages), default=0))
        digest_reads.mark_shown(
            session, channel=channel.name, digest_id=digest_id, alert_ids=view.alert_ids
        )
    log.info(
        "digest %d for %s: %s, %d message(s) queued",
        digest_id, channel.name, view.counts, len(messages),
        extra={"channel": channel.name, "digest_id": digest_id},
    )  # fmt: skip
    return Recorded(digest_id, channel.name, window_key, len(messages), view.empty)


def queue(
    session: Session,
    messages: Iterable[OutboundMessage],
    *,
    kind: MessageKind,
    ref_id: int,
    now: datetime,
) -> list[int]:
    """One outbox row per message (a message has one recipient, or none for Slack and
    webhooks), in the caller's transaction."""
    return deliveries.enqueue(
        session,
        [
            NewDelivery(
                unique_key=m.idempotency_key,
                kind=kind,
                ref_id=ref_id,
                channel=m.channel,
                recipient=",".join(m.recipients),
                part=m.part,
                parts=m.parts,
                message_id=m.message_id,
                payload=message_payload(m),
            )
            for m in messages
        ],
        now=now,
    )


def message_payload(m: OutboundMessage) -> dict[str, Any]:
    return {
        "kind": m.kind,
        "ref_id": m.ref_id,
        "channel": m.channel,
        "part": m.part,
        "parts": m.parts,
        "subject": m.subject,
        "text": m.text,
        "html": m.html,
        "payload": dict(m.payload) if m.payload is not None else None,
        "recipients": list(m.recipients),
    }


def message_from(payload: dict[str, Any]) -> OutboundMessage:
    """The message an outbox row carries, as it was composed."""
    return OutboundMessage(
        kind=payload["kind"],
        ref_id=str(payload["ref_id"]),
        channel=payload["channel"],
        part=int(payload["part"]),
        parts=int(payload["parts"]),
        subject=payload["subject"],
        text=payload["text"],
        html=payload.get("html"),
        payload=payload.get("payload"),
        recipients=tuple(payload.get("recipients") or ()),
    )


def immediate(rt: Runtime, session: Session, alert_ids: Sequence[int], *, now: datetime) -> int:
    """Queue, in the caller's transaction, each new alert that goes out at once: to each
    channel it is routed to whose ``immediate:`` severity it reaches (or every routed
    channel when its rule says ``send: immediate``). Returns the messages queued."""
    if not alert_ids or not rt.channels:
        return 0
    queued = 0
    for channel in rt.channels:
        # the alerts were stamped ``now``: the window must include that instant
        until = now + timedelta(microseconds=1)
        read = digest_reads.window(
            session, channel=channel.name, since=None, until=until, alert_ids=alert_ids
        )
        due = [
            a.id
            for a in read.alerts
            if channel.name in a.channels and (a.immediate or channel.sends_at_once(a.severity))
        ]
        for alert_id in due:
            view = _view(rt, session, channel, since=None, until=until, title="monitor alert",
                         alert_ids=[alert_id])  # fmt: skip
            messages = compose(channel, view, ref_id=f"alert-{alert_id}", kind="alert")
            queued += len(queue(session, messages, kind="alert", ref_id=alert_id, now=now))
            # sent at once: the channel's next digest does not repeat it
            digest_reads.mark_shown(session, channel=channel.name, digest_id=0,
                                    alert_ids=[alert_id])  # fmt: skip
    return queued


def write_html(view: DigestView, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "digest.html"
    path.write_text(render_html(view), encoding="utf-8")
    return path
