"""The digest: one entry per story, with its sources, what is new, and the alerts. Pure.

Rendering to text (stdout, Slack fallback) and to HTML (email, file). HTML goes through
Jinja2 with autoescape forced on for every template whatever its name (GHSA-pwgc-w4x9-gw67:
extension-based autoescape misses templates with other suffixes); titles from the web are
text, never markup; only http(s) links become anchors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import jinja2


@dataclass(frozen=True, slots=True)
class DigestAlert:
    rule_id: str
    severity: str
    title: str
    entity: str | None = None
    metric: str | None = None
    old: str | None = None  # already formatted, e.g. "RMB 380B"
    new: str | None = None
    quote: str | None = None
    url: str | None = None
    story_id: int | None = None
    id: int | None = None  # the stored alert, so the digest marks exactly what it shows


@dataclass(frozen=True, slots=True)
class DigestFact:
    label: str  # "Alibaba · AI and cloud capex plan"
    value: str  # "$53B"
    quote: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class DigestStory:
    id: int
    title: str
    url: str | None
    sources: tuple[str, ...]
    article_count: int
    first_seen: datetime
    facts: tuple[DigestFact, ...] = ()
    terms: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    alerts: tuple[DigestAlert, ...] = ()


@dataclass(frozen=True, slots=True)
class DigestInput:
    title: str
    generated_at: datetime
    stories: tuple[DigestStory, ...] = ()
    alerts: tuple[DigestAlert, ...] = field(default=())  # alerts tied to no story


SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


def safe_link(url: str | None) -> str | None:
    """Only http(s) URLs become links; javascript:, data: and the rest are dropped (D4)."""
    if url and url.split(":", 1)[0].lower() in ("http", "https"):
        return url
    return None


def format_value(value: float | None, unit: str | None, currency: str | None = None) -> str:
    if value is None:
        return "?"
    if unit == "money":
        sign = {"USD": "$", "CNY": "RMB ", "EUR": "€", "HKD": "HK$"}.get(currency or "", "")
        if not sign and currency:
            sign = currency + " "
        for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
            if abs(value) >= scale:
                return f"{sign}{_num(value / scale)}{suffix}"
        return f"{sign}{_num(value)}"
    if unit == "percent":
        return f"{_num(value)}%"
    if unit == "pp":
        return f"{_num(value)} pp"
    if unit == "multiple":
        return f"{_num(value)}x"
    return _num(value)


def _num(v: float) -> str:
    return f"{v:,.2f}".rstrip("0").rstrip(".")


def _by_severity(alerts: tuple[DigestAlert, ...]) -> list[DigestAlert]:
    return sorted(alerts, key=lambda a: SEVERITY_ORDER.get(a.severity, 9))


def alert_ids(d: DigestInput) -> list[int]:
    """Ids of the stored alerts this digest shows."""
    shown = [a for s in d.stories for a in s.alerts] + list(d.alerts)
    return [a.id for a in shown if a.id is not None]


def render_text(d: DigestInput) -> str:
    lines = [d.title, "=" * len(d.title), f"generated {d.generated_at:%Y-%m-%d %H:%M} UTC", ""]
    all_alerts = [a for s in d.stories for a in s.alerts] + list(d.alerts)
    lines.append(f"{len(d.stories)} stories, {len(all_alerts)} alerts")
    lines.append("")
    if all_alerts:
        lines.append("ALERTS")
        for a in _by_severity(tuple(all_alerts)):
            change = f": {a.old} -> {a.new}" if a.old is not None and a.new is not None else ""
            lines.append(f"  [{a.severity.upper()}] {a.title}{change}  ({a.rule_id})")
            if a.quote:
                lines.append(f"      \u201c{_clip(a.quote)}\u201d")
            if a.url:
                lines.append(f"      {a.url}")
        lines.append("")
    lines.append("STORIES")
    for s in d.stories:
        n = len(s.sources)
        lines.append(f"* {s.title}")
        lines.append(
            f"    {n} source{'s' if n != 1 else ''} ({', '.join(s.sources)}), "
            f"{s.article_count} article{'s' if s.article_count != 1 else ''}"
            f", first seen {s.first_seen:%Y-%m-%d}"
        )
        if s.url:
            lines.append(f"    {s.url}")
        for f in s.facts:
            lines.append(f"    - {f.label}: {f.value}  \u201c{_clip(f.quote)}\u201d")
        if s.terms:
            lines.append(f"    - new names: {', '.join(s.terms)}")
        if s.topics:
            lines.append(f"    - topics: {', '.join(s.topics)}")
    return "\n".join(lines) + "\n"


def _clip(text: str, n: int = 220) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "\u2026"


_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,  # every template, whatever its extension
    undefined=jinja2.StrictUndefined,
)
_ENV.filters["link"] = safe_link
_ENV.filters["clip"] = _clip


def render_html(d: DigestInput) -> str:
    all_alerts = [a for s in d.stories for a in s.alerts] + list(d.alerts)
    return _ENV.get_template("digest.html").render(d=d, alerts=_by_severity(tuple(all_alerts)))
