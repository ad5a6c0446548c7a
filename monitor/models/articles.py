"""The news itself: sources, stories, articles and their facts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from monitor.models.columns import TableModel, json_field, ts_field


class Source(TableModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    url: str
    kind: str = "auto"
    interval_s: float = 900.0
    tags: list[str] | None = json_field()
    config: dict[str, Any] | None = json_field()  # selectors, fetch_full, ...
    active: bool = True  # false once removed from sources.yaml; its articles stay
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    last_poll_at: datetime | None = ts_field()
    last_success_at: datetime | None = ts_field()
    last_new_item_at: datetime | None = ts_field()
    next_poll_at: datetime | None = ts_field(index=True)
    usual_gap_s: float | None = None  # smoothed gap between new items, for staleness
    poll_count: int = 0
    item_count: int = 0
    error_count: int = 0  # consecutive failures; 0 after a success
    error_total: int = 0
    last_error: str | None = None
    last_error_kind: str | None = None
    last_error_at: datetime | None = ts_field()
    lease_owner: str | None = None
    lease_until: datetime | None = ts_field()
    lease_token: int = 0  # fencing token: bumped on every claim, checked at commit


class Story(TableModel, table=True):
    __table_args__ = (
        # a company's recent stories and the scan's filters from the index alone, newest
        # first (0012; monitor.store.story_index)
        sa.Index(
            "ix_story_scan", "main_entity", "event_until", "id", "first_seen_at", "article_count"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    title: str = ""
    main_entity: str | None = None  # leads ix_story_scan (0012)
    canonical_article_id: int | None = None
    first_seen_at: datetime | None = ts_field(nullable=False)
    last_seen_at: datetime | None = ts_field(nullable=False, index=True)
    # The newest member that joined on evidence of the event itself: restatements, months
    # later, extend last_seen_at but not the window in which the event is still told
    # (migration 0007). None for stories stored before it: last_seen_at stands in.
    event_until: datetime | None = ts_field()
    article_count: int = 0
    # What the same-story matcher compares with, kept up to date as members join
    # (monitor.store.story_index): the union of the newest members' profiles, and those
    # member profiles themselves. None until built.
    profile: dict[str, Any] | None = json_field()
    members: list[Any] | None = json_field()


class Article(TableModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("source_id", "entry_key"),
        # a story's articles in time order, and whether all were written by AI (0011)
        sa.Index("ix_article_story_id_sort_at_ai", "story_id", "sort_at", "ai_generated"),
        # the window's stories from the index alone: in SQLite story_id lies after the
        # text in the row, past its overflow pages (0011)
        sa.Index("ix_article_sort_at_story_id", "sort_at", "story_id"),
        # who told each story, from the index alone (the web view's overview, 0008)
        sa.Index("ix_article_story_id_source_id", "story_id", "source_id", "ai_generated"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id", index=True)
    entry_key: str  # guid|link|hash: stable across polls of one source
    url: str = Field(unique=True)  # canonical
    guid: str | None = None
    title: str = ""
    author: str | None = None
    published_at: datetime | None = ts_field()
    published_raw: str | None = None
    first_seen_at: datetime | None = ts_field(nullable=False)
    sort_at: datetime | None = ts_field(nullable=False)  # published, clamped to seen
    text: str = ""
    language: str | None = None
    ai_generated: bool = False
    agent_name: str | None = None
    summary_only: bool = False
    content_hash: str = Field(index=True)
    minhash: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    duplicate_of: int | None = Field(default=None, foreign_key="article.id", index=True)
    similarity: float | None = None
    # read through the indexes that lead with it (0014)
    story_id: int | None = Field(default=None, foreign_key="story.id")
    join_reason: dict[str, Any] | None = json_field()  # why it joined its story
    extracted: bool = False


# a series (an entity's metric in time order) with every column its chart draws, read
# from consecutive index pages (migration 0010): the drawn columns are keys in SQLite and
# INCLUDE columns in PostgreSQL, whose JSON qualifiers have no B-tree ordering. With
# ``created_at`` it also answers when an entity or a metric was last seen (stale rules),
# so it replaces the (entity, metric, created_at) index: each index costs a stored fact
# B-tree work at a random place
_SERIES_KEYS = ("entity", "metric", "sort_at", "id")


_SERIES_DRAWN = (
    "created_at", "article_id", "value", "unit", "currency", "source_id", "ai_generated",
    "surface", "qualifiers",
)  # fmt: skip


class FactRow(TableModel, table=True):
    __tablename__ = "fact"
    __table_args__ = (
        sa.Index("ix_fact_series", *_SERIES_KEYS, *_SERIES_DRAWN).ddl_if(dialect="sqlite"),
        # ix_fact_series_pg: declared by add_postgresql_indexes()
        # a story's facts, and the companies they name from the index alone (0011)
        sa.Index("ix_fact_story_id_entity", "story_id", "entity"),
        # a story's facts near an article's figures, of each kind the first (0015)
        sa.Index(
            "ix_fact_story_id_value",
            "story_id",
            "value",
            sqlite_where=sa.text("first_in_story"),
            postgresql_where=sa.text("first_in_story"),
        ),
        sa.Index(
            "ix_fact_story_id_alt_value",
            "story_id",
            "alt_value",
            sqlite_where=sa.text("first_in_story AND alt_value IS NOT NULL"),
            postgresql_where=sa.text("first_in_story AND alt_value IS NOT NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="article.id", index=True)
    story_id: int | None = None  # leads ix_fact_story_id_entity
    # by entity: the prefix of the series index (migration 0010)
    entity: str | None = None
    metric: str | None = Field(default=None, index=True)
    value: float
    value_high: float | None = None
    unit: str
    currency: str | None = None
    period: str | None = None
    qualifiers: dict[str, str] | None = json_field()
    approx: str | None = None
    alt_value: float | None = None
    alt_currency: str | None = None
    surface: str
    quote: str
    span_start: int
    span_end: int
    confidence: float
    new_to_story: bool = True
    # the story's first fact of its kind (dedup.story_members.kind): the only facts of a
    # story that later articles are compared with, through the partial indexes above
    first_in_story: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    created_at: datetime | None = ts_field(nullable=False)  # read through ix_fact_series
    # the article's place in time, source and writer, copied when the fact is stored
    # (an article's never change): what a series is read and drawn by
    sort_at: datetime | None = ts_field()
    source_id: int | None = None
    ai_generated: bool | None = None


def add_postgresql_indexes() -> None:
    """Declare the PostgreSQL form of the series index on the fact table (once).

    Called by the migrations' environment (the only reader of the declared indexes: it
    compares them with a database), not at import: an index with ``postgresql_*`` options
    loads SQLAlchemy's PostgreSQL dialect when it is built, ~20 ms of every command's
    start on SQLite.
    """
    table: sa.Table = FactRow.__table__  # type: ignore[attr-defined]
    if any(index.name == "ix_fact_series_pg" for index in table.indexes):
        return
    sa.Index(
        "ix_fact_series_pg",
        *(table.c[key] for key in _SERIES_KEYS),
        postgresql_include=list(_SERIES_DRAWN),
    ).ddl_if(dialect="postgresql")
