"""The digest as the renderers read it: ordered, grouped, worded, and clean.

Built by :func:`monitor.notify.digest.build_digest`. Every string here is one line of
plain text with no control characters (``textsafe.one_line``) and every link is http(s)
(``textsafe.safe_link``); renderers only lay it out and escape it for their format.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.notify.severity import Severity


@dataclass(frozen=True, slots=True)
class Cite:
    """Who said it and when: the source name and date on every piece of evidence."""

    source: str
    date: str  # "2026-02-24" in the digest's time zone, or "undated"
    link: str | None
    ai_generated: bool = False

    @property
    def label(self) -> str:
        return f"{self.source}, {self.date}" + (" (AI-generated)" if self.ai_generated else "")


@dataclass(frozen=True, slots=True)
class Line:
    """One thing that is new: an alert (with its severity), a figure, a name."""

    text: str
    severity: Severity | None = None


@dataclass(frozen=True, slots=True)
class Point:
    """What one sentence told: its lines, the sentence quoted once, and who said it."""

    lines: tuple[Line, ...]
    quote: str | None
    cites: tuple[Cite, ...]


@dataclass(frozen=True, slots=True)
class ClaimView:
    value: str
    quote: str | None  # None when the same sentence is already quoted in the story
    cite: Cite


@dataclass(frozen=True, slots=True)
class ConflictView:
    label: str
    claims: tuple[ClaimView, ...]


@dataclass(frozen=True, slots=True)
class StoryView:
    title: str
    link: str | None
    severity: Severity | None  # the highest of its alerts
    about: str  # "3 sources (1 AI-generated) · 2 new articles · new story"
    points: tuple[Point, ...] = ()
    conflicts: tuple[ConflictView, ...] = ()
    # One line instead of an entry, for a story with new articles and nothing else new
    # (see StoryNews): an older story restated ("restated by 4 more articles, nothing
    # new"), or a new story in which nothing tracked was found.
    restated: str | None = None
    nothing_tracked: str | None = None
    alert_ids: tuple[int, ...] = ()  # the stored alerts shown in it

    @property
    def quiet(self) -> str | None:
        """The one line shown instead of an entry, if any."""
        return self.restated or self.nothing_tracked


@dataclass(frozen=True, slots=True)
class CompanyView:
    name: str
    severity: Severity | None
    changed: str  # the top of the digest: what changed for this company, one line
    stories: tuple[StoryView, ...]


@dataclass(frozen=True, slots=True)
class DigestView:
    title: str
    subject: str  # one line, clipped: safe for an email header
    generated: str  # "2026-02-25 08:00 CST"
    since: str | None  # "2026-02-24 08:00 CST"; None for a first digest
    counts: str  # "2 companies · 3 stories · 2 alerts (1 high, 1 medium)"
    severity: Severity | None  # the highest alert shown
    companies: tuple[CompanyView, ...] = ()
    other_alerts: tuple[Point, ...] = ()  # alerts tied to no story
    alert_ids: tuple[int, ...] = ()  # the stored alerts shown, to mark them as sent

    @property
    def empty(self) -> bool:
        return not self.companies and not self.other_alerts
