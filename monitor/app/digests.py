"""The digest flow: read what is new since the last digest, build it (pure, in
``monitor.notify.digest``), and record it once per window, in one transaction."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from sqlmodel import Session

from monitor.app.runtime import Runtime
from monitor.notify import digest as digest_mod
from monitor.store import digests
from monitor.store.db import session_scope

log = logging.getLogger(__name__)


def digest_input(
    session: Session,
    *,
    since: datetime | None,
    title: str,
    now: datetime,
    vocab_labels: dict[str, str],
) -> digest_mod.DigestInput:
    m = digests.material(session, since=since)
    fmt = digest_mod.format_value

    def label(key: str | None) -> str:
        return vocab_labels.get(key or "", key or "?")

    alerts_by_story: dict[int | None, list[digest_mod.DigestAlert]] = {}
    for a in m.alerts:
        p = a.payload or {}
        evidence = p.get("evidence") or [{}]
        first = evidence[0] if isinstance(evidence[0], dict) else {}
        # change titles already read "old -> new"; other kinds carry no pair worth showing
        pair = p.get("kind") in ("change", "threshold") and "->" not in a.title
        alerts_by_story.setdefault(a.story_id, []).append(
            digest_mod.DigestAlert(
                rule_id=a.rule_id,
                severity=a.severity,
                title=a.title,
                entity=a.entity,
                metric=a.metric,
                old=fmt(a.old_value, p.get("unit"), p.get("currency")) if pair else None,
                new=fmt(a.new_value, p.get("unit"), p.get("currency")) if pair else None,
                quote=first.get("quote") or p.get("quote"),
                url=first.get("url"),
                story_id=a.story_id,
                id=a.id,
            )
        )
    out = []
    for story in m.stories:
        members = m.members.get(story.id or 0, [])
        if not members:
            continue
        canonical = next(
            (a for a, _ in members if a.id == story.canonical_article_id), members[0][0]
        )
        seen: set[tuple[object, ...]] = set()
        facts: list[digest_mod.DigestFact] = []
        for f, url in m.facts.get(story.id or 0, []):
            key = (f.entity, f.metric, tuple(sorted((f.qualifiers or {}).items())), f.value)
            if key in seen or len(facts) >= 8:
                continue
            seen.add(key)
            qual = ", ".join(v for _, v in sorted((f.qualifiers or {}).items()))
            facts.append(
                digest_mod.DigestFact(
                    label=f"{label(f.entity)} · {label(f.metric)}" + (f" ({qual})" if qual else ""),
                    value=fmt(f.value, f.unit, f.currency),
                    quote=f.quote,
                    url=url,
                )
            )
        mentions = m.mentions.get(story.id or 0, [])
        out.append(
            digest_mod.DigestStory(
                id=story.id or 0,
                title=canonical.title or story.title,
                url=canonical.url,
                sources=tuple(dict.fromkeys(src for _, src in members)),
                article_count=len(members),
                first_seen=story.first_seen_at or now,
                facts=tuple(facts),
                terms=tuple(dict.fromkeys(x.value for x in mentions if x.kind == "term")),
                topics=tuple(dict.fromkeys(label(x.name) for x in mentions if x.kind == "topic")),
                alerts=tuple(alerts_by_story.pop(story.id, [])),
            )
        )
    loose = tuple(a for alerts in alerts_by_story.values() for a in alerts)
    return digest_mod.DigestInput(title=title, generated_at=now, stories=tuple(out), alerts=loose)


def preview(
    rt: Runtime, *, since: datetime | None, title: str = "monitor digest"
) -> digest_mod.DigestInput:
    """The digest of what was seen since ``since`` (None: everything); records nothing."""
    with session_scope(rt.engine) as session:
        return digest_input(
            session, since=since, title=title, now=rt.clock(), vocab_labels=rt.labels()
        )


def record_window(rt: Runtime, *, window_key: str, title: str = "monitor digest") -> int | None:
    """Build the digest of what is new since the last one and record it under
    ``window_key``, in one transaction; None when there is nothing to send or another
    worker already recorded this window."""
    now = rt.clock()
    with session_scope(rt.engine) as session:
        since = digests.last_digest_at(session)
        d = digest_input(session, since=since, title=title, now=now, vocab_labels=rt.labels())
        if not d.stories and not d.alerts:
            return None
        alert_ids = digest_mod.alert_ids(d)  # what was rendered, not a second read
        digest_id = digests.save(
            session,
            window_key=window_key,
            text=digest_mod.render_text(d),
            html=digest_mod.render_html(d),
            alert_ids=alert_ids,
            now=now,
        )
    if digest_id is not None:
        log.info(
            "digest %d built: %d stories, %d alerts", digest_id, len(d.stories), len(alert_ids)
        )
    return digest_id


def write_html(d: digest_mod.DigestInput, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"digest-{d.generated_at:%Y%m%dT%H%M%S}.html"
    path.write_text(digest_mod.render_html(d), encoding="utf-8")
    return path
