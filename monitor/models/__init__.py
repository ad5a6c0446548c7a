"""The tables (DESIGN.md section 3). Rows stay inside ``store``; stages get ``values``.

Every timestamp column is ``UTCDateTime``: timezone-aware UTC going in and coming out, on
SQLite (which keeps no zone) as on PostgreSQL (timestamptz).

The tables are declared in three modules, each loaded on first use of one of its names:
declaring a table costs ~4 ms of every command's start, and a listing needs the four of
``articles`` alone (``declare_all`` loads every one, for a comparison with a database).
"""

from importlib import import_module
from typing import TYPE_CHECKING

from monitor.lazy import exports

if TYPE_CHECKING:
    import sqlalchemy as sa

    from monitor.models.alerting import Alert, Delivery, Digest, DigestAlert, Heartbeat, RuleState
    from monitor.models.articles import Article, FactRow, Source, Story, add_postgresql_indexes
    from monitor.models.columns import UTCDateTime, utcnow
    from monitor.models.derived import DedupBand, DedupBandLog, Mention, StoryDf, StoryKey, Term

_WHERE = {
    "UTCDateTime": "columns",
    "utcnow": "columns",
    "Source": "articles",
    "Story": "articles",
    "Article": "articles",
    "FactRow": "articles",
    "add_postgresql_indexes": "articles",
    "DedupBand": "derived",
    "DedupBandLog": "derived",
    "StoryKey": "derived",
    "StoryDf": "derived",
    "Mention": "derived",
    "Term": "derived",
    "RuleState": "alerting",
    "Alert": "alerting",
    "Digest": "alerting",
    "DigestAlert": "alerting",
    "Delivery": "alerting",
    "Heartbeat": "alerting",
}

__getattr__ = exports(__name__, _WHERE)


def declare_all() -> "sa.MetaData":
    """Every table declared on ``SQLModel.metadata``, which it returns: what the
    migrations' environment and the schema test compare with a database."""
    for module in sorted(set(_WHERE.values())):
        import_module(f"{__name__}.{module}")
    from sqlmodel import SQLModel

    return SQLModel.metadata


__all__ = [
    "Alert",
    "Article",
    "DedupBand",
    "DedupBandLog",
    "Delivery",
    "Digest",
    "DigestAlert",
    "FactRow",
    "Heartbeat",
    "Mention",
    "RuleState",
    "Source",
    "Story",
    "StoryDf",
    "StoryKey",
    "Term",
    "UTCDateTime",
    "add_postgresql_indexes",
    "declare_all",
    "utcnow",
]
