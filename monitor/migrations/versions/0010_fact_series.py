"""fact series: each fact carries its article's time, source and writer; one index holds
a series

Adds ``fact.sort_at``, ``fact.source_id`` and ``fact.ai_generated``, copied from the
fact's article (an article's never change once stored), and fills them for the facts
already stored, a batch of ids at a time. The index ``ix_fact_series`` on (entity,
metric, sort_at, id) carries every column a metric chart draws: the chart reads a
series of ten thousand values from consecutive index pages instead of ten thousand
fact rows and ten thousand article rows at random (130 ms to 25 ms warm, on a
1,000,000-article database; seconds to tens of milliseconds with a cold cache).

SQLite holds the drawn columns as keys; PostgreSQL as ``INCLUDE`` columns (its JSON
qualifiers have no B-tree ordering). The models declare both, each for its dialect.

With ``created_at`` among its columns the index also answers when an entity or a
metric was last seen (stale rules), so it replaces ``ix_fact_entity_metric_created_at``;
``ix_fact_entity`` goes too, ``entity`` leading it. An index costs every stored fact
B-tree work at a random place (~15 µs each in SQLite): the facts are stored about as
fast as before.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

KEYS = ["entity", "metric", "sort_at", "id"]
DRAWN = [
    "created_at", "article_id", "value", "unit", "currency", "source_id", "ai_generated",
    "surface", "qualifiers",
]  # fmt: skip
BATCH = 50_000  # fact ids per statement: a large table is filled without one huge write


def upgrade() -> None:
    with op.batch_alter_table("fact", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("sort_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("source_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("ai_generated", sa.Boolean(), nullable=True))
    bind = op.get_bind()
    low, high = bind.execute(sa.text("SELECT MIN(id), MAX(id) FROM fact")).one()
    if low is not None:
        fill = sa.text(
            "UPDATE fact SET (sort_at, source_id, ai_generated) = (SELECT a.sort_at,"
            " a.source_id, a.ai_generated FROM article a WHERE a.id = fact.article_id)"
            " WHERE id >= :lo AND id < :hi"
        )
        for start in range(low, high + 1, BATCH):
            bind.execute(fill, {"lo": start, "hi": start + BATCH})
    if bind.dialect.name == "postgresql":
        op.create_index("ix_fact_series_pg", "fact", KEYS, postgresql_include=DRAWN)
    else:
        op.create_index("ix_fact_series", "fact", [*KEYS, *DRAWN])
    op.drop_index("ix_fact_entity", table_name="fact")
    op.drop_index("ix_fact_entity_metric_created_at", table_name="fact")


def downgrade() -> None:
    op.create_index("ix_fact_entity", "fact", ["entity"])
    op.create_index("ix_fact_entity_metric_created_at", "fact", ["entity", "metric", "created_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_fact_series_pg", table_name="fact")
    else:
        op.drop_index("ix_fact_series", table_name="fact")
    with op.batch_alter_table("fact", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("ai_generated")
        batch_op.drop_column("source_id")
        batch_op.drop_column("sort_at")
