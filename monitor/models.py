"""The tables (DESIGN.md section 3). Rows stay inside ``store``; stages get ``values``.

Every timestamp column is ``UTCDateTime``: timezone-aware UTC going in and coming out, on
SQLite (which keeps no zone) as on PostgreSQL (timestamptz).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        # SQLite stores text: keep it naive UTC so that text order is time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def _json() -> Any:
    return Field(default=None, sa_type=sa.JSON, nullable=True)


class _Table(SQLModel):
    # Rows are built by the store, never validated from input: pydantic's validator for
    # each table is built on first use, not at import (~8 ms of every command's start,
    # of ~80 ms for declaring the tables)
    model_config = SQLModel.model_config | {"defer_build": True}


class Source(_Table, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    url: str
    kind: str = "auto"
    interval_s: float = 900.0
    tags: list[str] | None = _json()
    config: dict[str, Any] | None = _json()  # selectors, fetch_full, ...
    active: bool = True  # false once removed from sources.yaml; its articles stay
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    last_poll_at: datetime | None = _ts()
    last_success_at: datetime | None = _ts()
    last_new_item_at: datetime | None = _ts()
    next_poll_at: datetime | None = _ts(index=True)
    usual_gap_s: float | None = None  # smoothed gap between new items, for staleness
    poll_count: int = 0
    item_count: int = 0
    error_count: int = 0  # consecutive failures; 0 after a success
    error_total: int = 0
    last_error: str | None = None
    last_error_kind: str | None = None
    last_error_at: datetime | None = _ts()
    lease_owner: str | None = None
    lease_until: datetime | None = _ts()
    lease_token: int = 0  # fencing token: bumped on every claim, checked at commit


class Story(_Table, table=True):
    # candidate stories of one company in the window, newest first (monitor.store.story_index)
    __table_args__ = (
        sa.Index("ix_story_main_entity_last_seen_at", "main_entity", "last_seen_at"),
        # ... and the scan's filters from the index alone, newest first (0012)
        sa.Index(
            "ix_story_scan", "main_entity", "event_until", "id", "first_seen_at", "article_count"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    title: str = ""
    main_entity: str | None = Field(default=None, index=True)
    canonical_article_id: int | None = None
    first_seen_at: datetime | None = _ts(nullable=False)
    last_seen_at: datetime | None = _ts(nullable=False, index=True)
    # The newest member that joined on evidence of the event itself: restatements, months
    # later, extend last_seen_at but not the window in which the event is still told
    # (migration 0007). None for stories stored before it: last_seen_at stands in.
    event_until: datetime | None = _ts()
    article_count: int = 0
    # What the same-story matcher compares with, kept up to date as members join
    # (monitor.store.story_index): the union of the newest members' profiles, and those
    # member profiles themselves. None until built.
    profile: dict[str, Any] | None = _json()
    members: list[Any] | None = _json()


class Article(_Table, table=True):
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
    published_at: datetime | None = _ts()
    published_raw: str | None = None
    first_seen_at: datetime | None = _ts(nullable=False)
    sort_at: datetime | None = _ts(nullable=False)  # published, clamped to seen
    text: str = ""
    language: str | None = None
    ai_generated: bool = False
    agent_name: str | None = None
    summary_only: bool = False
    content_hash: str = Field(index=True)
    minhash: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    duplicate_of: int | None = Field(default=None, foreign_key="article.id", index=True)
    similarity: float | None = None
    story_id: int | None = Field(default=None, foreign_key="story.id", index=True)
    join_reason: dict[str, Any] | None = _json()  # why it joined its story
    extracted: bool = False


class DedupBand(_Table, table=True):
    """LSH band keys: one row per (band key, article). Shared by every worker."""

    __tablename__ = "dedup_band"
    # one B-tree on SQLite: the key is the table (migration 0003)
    __table_args__ = {"sqlite_with_rowid": False}
    key: int = Field(sa_type=sa.BigInteger, primary_key=True)  # band number mixed in
    # No foreign key: rows are written by merges of the log (whose key was checked), and
    # checking again cost a quarter of each merge (migration 0004).
    article_id: int = Field(primary_key=True)


class DedupBandLog(_Table, table=True):
    """Band keys of recently placed articles, one row per article, in placement order.

    Written instead of ``dedup_band`` on SQLite and merged into it in bulk
    (``monitor.store.band_log``, migration 0004).
    """

    __tablename__ = "dedup_band_log"
    # a sequence number is never reused, even after the rows below it are merged away
    __table_args__ = {"sqlite_autoincrement": True}
    seq: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="article.id")
    keys: bytes = Field(sa_type=sa.LargeBinary)  # little-endian signed 64-bit band keys


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


class FactRow(_Table, table=True):
    __tablename__ = "fact"
    __table_args__ = (
        sa.Index("ix_fact_series", *_SERIES_KEYS, *_SERIES_DRAWN).ddl_if(dialect="sqlite"),
        # ix_fact_series_pg: declared by add_postgresql_indexes()
        # a story's facts, and the companies they name from the index alone (0011)
        sa.Index("ix_fact_story_id_entity", "story_id", "entity"),
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
    qualifiers: dict[str, str] | None = _json()
    approx: str | None = None
    alt_value: float | None = None
    alt_currency: str | None = None
    surface: str
    quote: str
    span_start: int
    span_end: int
    confidence: float
    new_to_story: bool = True
    created_at: datetime | None = _ts(nullable=False)  # read through ix_fact_series
    # the article's place in time, source and writer, copied when the fact is stored
    # (an article's never change): what a series is read and drawn by
    sort_at: datetime | None = _ts()
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


class StoryKey(_Table, table=True):
    """The figures a story's articles state, one row per amount (and per second-currency
    amount): the same-story level looks up only stories that share a figure."""

    __tablename__ = "story_key"
    # Read per story (does this story hold one of these figures?), never by figure across
    # all history: the candidate stories come from a company's window (migration 0008).
    __table_args__ = (
        sa.Index("ix_story_key_story_figure", "story_id", "unit", "currency", "value"),
    )
    id: int | None = Field(default=None, primary_key=True)
    story_id: int
    article_id: int = Field(index=True)
    unit: str
    currency: str = ""  # "" for none, so that equality works in SQL
    value: float
    alt: bool = False  # the second currency of a two-currency amount


class StoryDf(_Table, table=True):
    """Document frequencies of the words the same-story level weighs: in how many placed
    original articles each word of a title, lede or name occurs. The row with the empty
    word counts the articles. Shared by every worker (monitor.store.story_df)."""

    __tablename__ = "story_df"
    token: str = Field(primary_key=True)
    df: int = 0


class Mention(_Table, table=True):
    """A term (e.g. a Qwen model name) or a topic found in an article."""

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="article.id", index=True)
    kind: str  # term | topic
    name: str = Field(index=True)  # term family or topic id
    value: str  # the term itself, or the phrase that matched
    entity: str | None = None
    quote: str
    span_start: int
    span_end: int


class Term(_Table, table=True):
    """First sighting of each term of a family."""

    __table_args__ = (sa.UniqueConstraint("family", "term"),)
    id: int | None = Field(default=None, primary_key=True)
    family: str
    term: str
    first_article_id: int = Field(foreign_key="article.id")
    first_seen_at: datetime | None = _ts(nullable=False)


class RuleState(_Table, table=True):
    """Per rule and key: confirmed values, threshold side, last firing. Survives restarts."""

    __tablename__ = "rule_state"
    rule_id: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    state: dict[str, Any] | None = _json()
    updated_at: datetime | None = _ts(nullable=False)


class Alert(_Table, table=True):
    # each rule's last firing (the web view's rules page, 0008)
    __table_args__ = (sa.Index("ix_alert_rule_id_created_at", "rule_id", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    rule_id: str = Field(index=True)
    key: str = Field(unique=True)  # idempotency: evaluating twice inserts nothing
    severity: str = "medium"
    entity: str | None = None
    metric: str | None = None
    old_value: float | None = None
    new_value: float | None = None
    story_id: int | None = Field(default=None, index=True)
    title: str = ""
    payload: dict[str, Any] | None = _json()  # evidence, sources, quotes
    channels: list[str] | None = _json()
    immediate: bool = False
    digest_id: int | None = Field(default=None, index=True)
    created_at: datetime | None = _ts(nullable=False, index=True)


class Digest(_Table, table=True):
    """A digest as it was built: once per channel and window, by whichever worker wins."""

    __table_args__ = (sa.Index("ix_digest_channel_window_end", "channel", "window_end"),)
    id: int | None = Field(default=None, primary_key=True)
    window_key: str = Field(unique=True)  # "<channel>@<window end>": built once per window
    created_at: datetime | None = _ts(nullable=False)
    text: str = ""
    html: str = ""
    alert_ids: list[int] | None = _json()
    channel: str | None = None  # None: a digest of the daemon before channels existed
    window_start: datetime | None = _ts()  # what it covers: [start, end)
    window_end: datetime | None = _ts()
    title: str = ""
    parts: int = 1  # the messages it was split into (Slack's limits)


class DigestAlert(_Table, table=True):
    """Which channel's digest showed an alert: an alert goes into one digest per channel."""

    __tablename__ = "digest_alert"
    channel: str = Field(primary_key=True)
    alert_id: int = Field(primary_key=True)
    digest_id: int = Field(index=True)


class Delivery(_Table, table=True):
    """The outbox: one row per message part, channel and recipient, claimed with a lease.

    Written in the same transaction as the digest or alert it carries; a dispatcher
    claims due rows, sends them and marks them (monitor.app.outbox).
    """

    __table_args__ = (sa.Index("ix_delivery_due", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    unique_key: str = Field(unique=True)
    kind: str  # digest | alert | operator
    ref_id: int | None = None  # the digest's or alert's id
    channel: str
    recipient: str = ""  # an email address; "" for Slack and webhooks
    part: int = 1
    parts: int = 1
    message_id: str = ""  # the same on every try: a resend is recognisable (RFC 5322)
    status: str = Field(default="pending", index=True)  # pending | retrying | sent | dead
    attempts: int = 0
    next_attempt_at: datetime | None = _ts(nullable=False, index=True)
    last_error: str | None = None
    last_error_kind: str | None = None
    outcome: dict[str, Any] | None = _json()  # the last try, per recipient
    payload: dict[str, Any] | None = _json()  # the rendered message
    lease_owner: str | None = None
    lease_until: datetime | None = _ts()
    lease_token: int = 0  # fencing token: bumped on every claim, checked when marking
    created_at: datetime | None = _ts(nullable=False)
    sent_at: datetime | None = _ts()


class Heartbeat(_Table, table=True):
    worker: str = Field(primary_key=True)
    host: str = ""
    pid: int = 0
    role: str = "worker"
    started_at: datetime | None = _ts(nullable=False)
    seen_at: datetime | None = _ts(nullable=False)
