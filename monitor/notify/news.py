"""What a digest tells, as the application hands it over: per company and story, what is
new since the last digest. Frozen values, no behaviour.

The application fills these from the store (DESIGN.md section 6b); :func:`build_digest`
(``digest.py``) orders, groups and words them, and the renderers show the result. Every
string may come from the web and is treated as text. Timestamps are timezone-aware UTC.

Figures are given *as written* (``"RMB 480 billion"``, ``"triple-digit"``): the digest
shows the words an article used, never a number re-formatted from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.notify.severity import Severity


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where something was read: a sentence of one article, its source and its date."""

    source: str  # the source's name, e.g. "wire"
    published_at: datetime | None  # the article's date, UTC; None when it gave none
    quote: str | None = None  # the sentence it came from
    url: str | None = None  # the article; only http(s) links are shown
    ai_generated: bool = False  # written by an AI agent (the article says so)


@dataclass(frozen=True, slots=True)
class FigureChange:
    """A tracked figure that is new to the story or moved: ``old -> new``, as written."""

    label: str  # the vocabulary's label, e.g. "AI and cloud capex plan"
    new: str  # as written: "RMB 480 billion", "triple-digit"
    evidence: Evidence
    old: str | None = None  # the figure it replaces, as written; None for a first figure


@dataclass(frozen=True, slots=True)
class NewName:
    """A name seen for the first time, e.g. a model release."""

    label: str  # the family's label from the vocabulary, e.g. "Qwen model"
    name: str  # "Qwen3-Max"
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class Claim:
    """One source's figure in a conflict."""

    value: str  # as written
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class Conflict:
    """Sources that disagree on one figure: who said what."""

    label: str  # "China cloud market share"
    claims: tuple[Claim, ...]


@dataclass(frozen=True, slots=True)
class AlertNews:
    """An alert a rule fired. Its title already uses the vocabulary's names
    ("New Qwen model: Qwen3-Max"), never ids."""

    title: str
    severity: Severity
    rule_id: str
    fired_at: datetime
    evidence: tuple[Evidence, ...] = ()  # the first one is quoted; the others are cited
    alert_id: int | None = None  # the stored alert, so the digest marks what it showed


@dataclass(frozen=True, slots=True)
class StoryNews:
    """One story and only what is new in it since the last digest.

    A story with new articles but nothing else new is shown in one line instead of an
    entry: "restated by 4 more articles, nothing new" for an older story, "1 article,
    no tracked figures or names" for a new one.
    """

    story_id: int
    title: str
    url: str | None  # the canonical article
    sources: int  # distinct sources that have told the story
    ai_generated: int  # how many of those sources told it only in AI-written articles
    updated_at: datetime  # the newest article; stories are shown newest first
    new_articles: int = 0  # articles that joined the story since the last digest
    first_seen: bool = False  # the story itself is new since the last digest
    changes: tuple[FigureChange, ...] = ()
    names: tuple[NewName, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    alerts: tuple[AlertNews, ...] = ()


@dataclass(frozen=True, slots=True)
class CompanyNews:
    """A company's stories; ``name`` is the vocabulary's display name ("" for none)."""

    name: str
    stories: tuple[StoryNews, ...]
    entity_id: str | None = None


@dataclass(frozen=True, slots=True)
class DigestNews:
    """Everything one digest (or one immediate alert) may show."""

    title: str  # "Morning digest", "Alert"
    generated_at: datetime
    since: datetime | None = None  # the previous digest of the channel; None for the first
    companies: tuple[CompanyNews, ...] = ()
    alerts: tuple[AlertNews, ...] = ()  # alerts tied to no story (a stale source, ...)
