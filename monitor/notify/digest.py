"""The digest builder: what is new (``news.py``) in, what analysts read (``view.py``) out.

Pure: values in, values out, no I/O and no settings (an import-linter contract). It

* groups by company, then by story, newest first, and puts at the top one line per
  company saying what changed;
* shows each sentence once, with every line it supports under it (two figures from one
  sentence share one quote), and the source name and date of every piece of evidence;
* shows a story with new articles and nothing else new as a restatement;
* gives figures as the articles wrote them, and gets plurals right;
* cleans every string (one line, no controls) and drops links other than http(s).

``render_text``, ``render_html``, ``render_slack`` and ``render_json`` lay the view out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, tzinfo
from typing import TypeVar

from monitor.notify.news import (
    AlertNews,
    CompanyNews,
    Conflict,
    DigestNews,
    Evidence,
    StoryNews,
)
from monitor.notify.severity import SEVERITIES, Severity, at_least, highest, rank
from monitor.notify.textsafe import one_line, plural
from monitor.notify.textsafe import safe_link as safe_link
from monitor.notify.view import (
    Cite,
    ClaimView,
    CompanyView,
    ConflictView,
    DigestView,
    Line,
    Point,
    StoryView,
)

TITLE_CHARS = 300  # a title longer than this is clipped: a headline, not an article
QUOTE_CHARS = 400
SUBJECT_CHARS = 160  # RFC 5322 2.1.1 asks for lines under 78; folding handles the rest
SUMMARY_PHRASES = 4  # what changed, at the top: at most this many phrases per company
OTHER_NEWS = "Other news"


def build_digest(
    news: DigestNews, *, tz: tzinfo = UTC, min_severity: Severity | None = None
) -> DigestView:
    """The view of ``news``: dates in ``tz``; with ``min_severity``, only alerts at or
    above it, and only the stories that carry one (a channel for urgent news only)."""
    shown: list[AlertNews] = []
    companies: list[tuple[datetime, CompanyView]] = []
    for company in news.companies:
        built = [
            (s, view)
            for s in company.stories
            if (view := _story(s, tz, min_severity, shown)) is not None
        ]
        if not built:
            continue
        built.sort(key=lambda pair: (pair[0].updated_at, pair[0].story_id), reverse=True)
        stories = tuple(view for _, view in built)
        companies.append(
            (
                built[0][0].updated_at,
                CompanyView(
                    name=one_line(company.name, 80) or OTHER_NEWS,
                    severity=highest(s.severity for s in stories if s.severity),
                    changed=_changed([s for s, _ in built], min_severity),
                    stories=stories,
                ),
            )
        )
    companies.sort(key=lambda pair: pair[0], reverse=True)
    loose = _sorted_alerts(news.alerts, min_severity)
    shown += loose
    other = _points([_alert_item(a) for a in loose], tz)
    severities = [a.severity for a in shown]
    view_companies = tuple(c for _, c in companies)
    severity = highest(severities)
    return DigestView(
        title=one_line(news.title, 120) or "monitor digest",
        subject=_subject(news, view_companies, other, severity),
        generated=_when(news.generated_at, tz),
        since=_when(news.since, tz) if news.since else None,
        counts=_counts(view_companies, severities),
        severity=severity,
        companies=view_companies,
        other_alerts=other,
        alert_ids=tuple(dict.fromkeys(a.alert_id for a in shown if a.alert_id is not None)),
    )


# ------------------------------------------------------------------------ stories


Item = tuple[Line, Evidence | None, tuple[Evidence, ...]]


def _story(
    s: StoryNews, tz: tzinfo, floor: Severity | None, shown: list[AlertNews]
) -> StoryView | None:
    alerts = _sorted_alerts(s.alerts, floor)
    if floor is not None and not alerts:
        return None
    items: list[Item] = [_alert_item(a) for a in alerts]
    for c in _newest_first(s.changes, lambda c: c.evidence):
        label = one_line(c.label, 120)
        old = one_line(c.old, 80) if c.old else None
        new = one_line(c.new, 80)
        text = f"{label}: {old} -> {new}" if old else f"{label}: {new}"
        items.append((Line(text), c.evidence, ()))
    for n in _newest_first(s.names, lambda n: n.evidence):
        text = f"New {one_line(n.label, 80)}: {one_line(n.name, 120)}"
        items.append((Line(text), n.evidence, ()))
    points = _points(items, tz)
    quoted = {_key(p.quote) for p in points if p.quote}
    conflicts = tuple(_conflict(c, tz, quoted) for c in s.conflicts if len(c.claims) > 1)
    restated = nothing = None
    if not points and not conflicts:
        if s.new_articles <= 0:
            return None  # nothing to say about it
        if s.first_seen:  # new: never "restated", an analyst would take it for old news
            nothing = f"{plural(s.new_articles, 'article')}, no tracked figures or names"
        else:
            restated = f"restated by {plural(s.new_articles, 'more article')}, nothing new"
    shown += alerts
    about = plural(s.sources, "source")
    if s.ai_generated:
        about += f" ({s.ai_generated} AI-generated)"
    if s.new_articles and not (restated or nothing):
        about += f" · {plural(s.new_articles, 'new article')}"
    if s.first_seen:
        about += " · new story"
    return StoryView(
        title=one_line(s.title, TITLE_CHARS) or "(untitled)",
        link=safe_link(s.url),
        severity=highest(a.severity for a in alerts),
        about=about,
        points=points,
        conflicts=conflicts,
        restated=restated,
        nothing_tracked=nothing,
        alert_ids=tuple(a.alert_id for a in alerts if a.alert_id is not None),
    )


def _sorted_alerts(alerts: Iterable[AlertNews], floor: Severity | None) -> list[AlertNews]:
    """At or above ``floor``; the most severe first, then the newest."""
    kept = [a for a in alerts if at_least(a.severity, floor)]
    return sorted(kept, key=lambda a: (rank(a.severity), a.fired_at), reverse=True)


def _alert_item(a: AlertNews) -> Item:
    first = a.evidence[0] if a.evidence else None
    return (Line(one_line(a.title, TITLE_CHARS), a.severity), first, a.evidence[1:])


T = TypeVar("T")


def _newest_first(items: Sequence[T], evidence: Callable[[T], Evidence]) -> list[T]:
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(items, key=lambda i: evidence(i).published_at or oldest, reverse=True)


def _points(items: list[Item], tz: tzinfo) -> tuple[Point, ...]:
    """Items grouped by the sentence they quote, in order of first appearance."""
    groups: list[tuple[list[Line], str | None, list[Cite]]] = []
    by_quote: dict[str, int] = {}
    for line, first, more in items:
        quote = one_line(first.quote, QUOTE_CHARS) if first and first.quote else None
        key = _key(quote) if quote else None
        if key is not None and key in by_quote:
            lines, _, cites = groups[by_quote[key]]
        else:
            lines, cites = [], []
            groups.append((lines, quote, cites))
            if key is not None:
                by_quote[key] = len(groups) - 1
        if all(line.text.casefold() != seen.text.casefold() for seen in lines):
            lines.append(line)
        for ev in (first, *more) if first else more:
            cite = _cite(ev, tz)
            if all((cite.source, cite.link) != (c.source, c.link) for c in cites):
                cites.append(cite)
    return tuple(Point(tuple(lines), quote, tuple(cites)) for lines, quote, cites in groups)


def _conflict(c: Conflict, tz: tzinfo, quoted: set[str]) -> ConflictView:
    claims = []
    for claim in c.claims:
        quote = one_line(claim.evidence.quote, QUOTE_CHARS) or None
        if quote is not None:
            if _key(quote) in quoted:
                quote = None  # already quoted in this story: each sentence once
            else:
                quoted.add(_key(quote))
        claims.append(ClaimView(one_line(claim.value, 80), quote, _cite(claim.evidence, tz)))
    return ConflictView(one_line(c.label, 120), tuple(claims))


def _cite(ev: Evidence, tz: tzinfo) -> Cite:
    date = ev.published_at.astimezone(tz).strftime("%Y-%m-%d") if ev.published_at else "undated"
    return Cite(
        source=one_line(ev.source, 80) or "unknown source",
        date=date,
        link=safe_link(ev.url),
        ai_generated=ev.ai_generated,
    )


def _key(quote: str | None) -> str:
    return " ".join((quote or "").split()).casefold()


# ------------------------------------------------------------------ the top lines


def _changed(stories: list[StoryNews], floor: Severity | None) -> str:
    """One line per company: moved figures, new names, conflicts, then other alerts.

    Figures come first, as the articles wrote them; an alert that says the same thing
    in other words ("New Qwen model: Qwen3-Max") is not repeated.
    """
    phrases: list[str] = []
    for s in stories:
        for c in s.changes:
            old = f"{one_line(c.old, 80)} -> " if c.old else ""
            phrases.append(f"{one_line(c.label, 80)} {old}{one_line(c.new, 80)}")
        phrases += [f"new {one_line(n.label, 80)} {one_line(n.name, 80)}" for n in s.names]
        phrases += [f"conflicting figures on {one_line(c.label, 80)}" for c in s.conflicts]
    for s in stories:
        phrases += [one_line(a.title, 120) for a in _sorted_alerts(s.alerts, floor)]
    unique: dict[str, str] = {}
    for phrase in phrases:
        unique.setdefault(_loose(phrase), phrase)
    unique.pop("", None)
    if not unique:
        fresh = sum(1 for s in stories if s.first_seen)
        again = sum(s.new_articles for s in stories if not s.first_seen)
        parts = [f"{plural(fresh, 'new story', 'new stories')}, nothing tracked"] if fresh else []
        if again or not fresh:
            parts.append(f"restated by {plural(again, 'more article')}, nothing new")
        return "; ".join(parts)
    kept = list(unique.values())
    head = "; ".join(kept[:SUMMARY_PHRASES])
    rest = len(kept) - SUMMARY_PHRASES
    return head + (f"; and {rest} more" if rest > 0 else "")


def _loose(phrase: str) -> str:
    # letters and digits only: "New Qwen model: Qwen3-Max" == "new Qwen model Qwen3-Max"
    return "".join(ch for ch in phrase.casefold() if ch.isalnum())


def _counts(companies: tuple[CompanyView, ...], severities: list[Severity]) -> str:
    stories = sum(len(c.stories) for c in companies)
    parts = [
        plural(len(companies), "company", "companies"),
        plural(stories, "story", "stories"),
        plural(len(severities), "alert"),
    ]
    if severities:
        by = [(s, severities.count(s)) for s in reversed(SEVERITIES) if s in severities]
        parts[-1] += " (" + ", ".join(f"{n} {s}" for s, n in by) + ")"
    return " · ".join(parts)


def _subject(
    news: DigestNews,
    companies: tuple[CompanyView, ...],
    other: tuple[Point, ...],
    severity: Severity | None,
) -> str:
    """One header-safe line: the severity, the title, and the most important news."""
    title = one_line(news.title, 120) or "monitor digest"
    top_lines = [ln for c in companies for s in c.stories for p in s.points for ln in p.lines]
    top_lines += [ln for p in other for ln in p.lines]
    alerts = sorted(
        (ln for ln in top_lines if ln.severity), key=lambda ln: -rank(ln.severity or "")
    )
    if alerts:
        headline = alerts[0].text
    elif companies:
        headline = f"{companies[0].name}: {companies[0].changed}"
    else:
        headline = "nothing new"
    prefix = f"[{severity.upper()}] " if severity else ""
    return one_line(f"{prefix}{title}: {headline}", SUBJECT_CHARS)


def _when(ts: datetime, tz: tzinfo) -> str:
    return ts.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


__all__ = [
    "AlertNews",
    "CompanyNews",
    "DigestNews",
    "DigestView",
    "build_digest",
    "safe_link",
]
