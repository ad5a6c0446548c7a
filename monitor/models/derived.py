"""Rows derived from articles for lookups: band keys, story figure keys, word document
frequencies, term and topic mentions, first sightings of terms."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

# the tables their foreign keys name are declared with them
import monitor.models.articles  # noqa: F401
from monitor.models.columns import TableModel, ts_field


class DedupBand(TableModel, table=True):
    """LSH band keys: one row per (band key, article). Shared by every worker."""

    __tablename__ = "dedup_band"
    # one B-tree on SQLite: the key is the table (migration 0003)
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 (read once, at declaration)
    key: int = Field(sa_type=sa.BigInteger, primary_key=True)  # band number mixed in
    # No foreign key: rows are written by merges of the log (whose key was checked), and
    # checking again cost a quarter of each merge (migration 0004).
    article_id: int = Field(primary_key=True)


class DedupBandLog(TableModel, table=True):
    """Band keys of recently placed articles, one row per article, in placement order.

    Written instead of ``dedup_band`` on SQLite and merged into it in bulk
    (``monitor.store.band_log``, migration 0004).
    """

    __tablename__ = "dedup_band_log"
    # a sequence number is never reused, even after the rows below it are merged away
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 (read once, at declaration)
    seq: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="article.id")
    keys: bytes = Field(sa_type=sa.LargeBinary)  # little-endian signed 64-bit band keys


class StoryKey(TableModel, table=True):
    """The figures a story's articles state, one row per amount (and per second-currency
    amount): the same-story level looks up only stories that share a figure."""

    __tablename__ = "story_key"
    # Which of a company's stories hold a figure: the candidates among its recent stories
    # and the standing ones an article may restate (migration 0013). A merge moves keys by
    # their articles, retention deletes them by article.
    __table_args__ = (
        sa.Index("ix_story_key_company_figure", "company", "unit", "currency", "value", "story_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    story_id: int
    # the story's company (``story.main_entity``), which a story keeps for good: merged
    # stories are of one company
    company: str | None = None
    article_id: int = Field(index=True)
    unit: str
    currency: str = ""  # "" for none, so that equality works in SQL
    value: float
    alt: bool = False  # the second currency of a two-currency amount


class StoryDf(TableModel, table=True):
    """Document frequencies of the words the same-story level weighs: in how many placed
    original articles each word of a title, lede or name occurs. The row with the empty
    word counts the articles. Shared by every worker (monitor.store.story_df)."""

    __tablename__ = "story_df"
    token: str = Field(primary_key=True)
    df: int = 0


class Mention(TableModel, table=True):
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


class Term(TableModel, table=True):
    """First sighting of each term of a family."""

    __table_args__ = (sa.UniqueConstraint("family", "term"),)
    id: int | None = Field(default=None, primary_key=True)
    family: str
    term: str
    first_article_id: int = Field(foreign_key="article.id")
    first_seen_at: datetime | None = ts_field(nullable=False)
