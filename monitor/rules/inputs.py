"""What the engine evaluates: stored facts and mentions with their article and source.

The store builds these (``monitor.store.rules_io.gather_input``); tests build them by
hand. Frozen, typed, and free of table rows so the engine stays pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from monitor.values import Fact


@dataclass(frozen=True, slots=True)
class ArticleRef:
    id: int
    url: str
    title: str
    source: str  # the source's name: what "independent sources" compares
    ai_generated: bool
    sort_at: datetime  # published, clamped to first seen: the article's place in time
    story_id: int | None = None
    duplicate_of: int | None = None
    agent_name: str | None = None

    @property
    def story_key(self) -> str:
        """What makes two articles the same story: copies and rewrites count once."""
        if self.story_id is not None:
            return f"s{self.story_id}"
        return f"a{self.duplicate_of if self.duplicate_of is not None else self.id}"


@dataclass(frozen=True, slots=True)
class FactRecord:
    id: int
    article: ArticleRef
    fact: Fact


@dataclass(frozen=True, slots=True)
class MentionRecord:
    id: int
    article: ArticleRef
    kind: str  # term | topic
    name: str  # term family or topic id
    value: str  # the term itself, or the phrase that matched
    quote: str
    entity: str | None = None


@dataclass(frozen=True, slots=True)
class StoryRecord:
    """A story seen in the lookback window, for frequency and spike counts."""

    id: int
    title: str
    started_at: datetime  # its earliest article
    entities: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()
    ai_only: bool = False  # every article of it is AI-generated
    main_entity: str | None = None  # whom the story is about, as dedup decided

    @property
    def key(self) -> str:
        return f"s{self.id}"


@dataclass(frozen=True, slots=True)
class SourceRecord:
    name: str
    last_new_item_at: datetime | None
    usual_gap_s: float | None = None
    active: bool = True


@dataclass(frozen=True)
class EvalInput:
    facts: tuple[FactRecord, ...] = ()
    mentions: tuple[MentionRecord, ...] = ()
    stories: tuple[StoryRecord, ...] = ()  # the lookback window, batch stories included
    batch_story_ids: frozenset[int] = frozenset()  # stories touched by this batch
    sources: tuple[SourceRecord, ...] = ()
    # last activity: ("entity", id) or ("metric", "entity/metric") -> when
    last_seen: Mapping[tuple[str, str], datetime] = field(default_factory=dict)
