"""story index: figure keys and stored profiles for the same-story level; query indexes

Adds ``story_key`` and ``story.profile`` / ``story.members`` (monitor.store.story_index),
fills them for the stories already stored, and adds the composite indexes on
``fact(entity, metric, created_at)``, ``article(story_id, sort_at)`` and
``story(main_entity, last_seen_at)``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "story_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("alt", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("story_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_story_key_story_id"), ["story_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_story_key_article_id"), ["article_id"], unique=False)
        batch_op.create_index("ix_story_key_unit_value", ["unit", "value"], unique=False)

    with op.batch_alter_table("story", schema=None) as batch_op:
        batch_op.add_column(sa.Column("profile", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("members", sa.JSON(), nullable=True))
        batch_op.create_index(
            "ix_story_main_entity_last_seen_at", ["main_entity", "last_seen_at"], unique=False
        )
    with op.batch_alter_table("fact", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fact_entity_metric_created_at", ["entity", "metric", "created_at"], unique=False
        )
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.create_index("ix_article_story_id_sort_at", ["story_id", "sort_at"], unique=False)

    # The stories already stored get their figure keys now, from their fact rows, so the
    # first article placed after the upgrade finds them like any other. Their profiles
    # stay NULL: placement builds a story's profile from its rows the first time it needs
    # it. What a key is, is frozen here as it was at this revision: a migration never
    # runs live code, which later revisions change.
    bind = op.get_bind()
    facts = sa.table(
        "fact",
        sa.column("story_id", sa.Integer()),
        sa.column("article_id", sa.Integer()),
        sa.column("unit", sa.String()),
        sa.column("currency", sa.String()),
        sa.column("value", sa.Float()),
        sa.column("alt_currency", sa.String()),
        sa.column("alt_value", sa.Float()),
        sa.column("id", sa.Integer()),
    )
    keys = sa.table(
        "story_key",
        sa.column("story_id", sa.Integer()),
        sa.column("article_id", sa.Integer()),
        sa.column("unit", sa.String()),
        sa.column("currency", sa.String()),
        sa.column("value", sa.Float()),
        sa.column("alt", sa.Boolean()),
    )
    batch: list[dict[str, object]] = []
    query = sa.select(
        facts.c.story_id, facts.c.article_id, facts.c.unit, facts.c.currency,
        facts.c.value, facts.c.alt_currency, facts.c.alt_value,
    ).where(facts.c.story_id.is_not(None)).order_by(facts.c.id)  # fmt: skip
    for sid, aid, unit, cur, value, alt_c, alt_v in bind.execute(query):
        if not _counts(unit, float(value)):
            continue
        batch.append(dict(story_id=sid, article_id=aid, unit=unit, currency=cur or "",
                          value=float(value), alt=False))  # fmt: skip
        if alt_v is not None:
            batch.append(dict(story_id=sid, article_id=aid, unit=unit, currency=alt_c or "",
                              value=float(alt_v), alt=True))  # fmt: skip
        if len(batch) >= 5000:
            bind.execute(keys.insert(), batch)
            batch = []
    if batch:
        bind.execute(keys.insert(), batch)


def _counts(unit: str, value: float) -> bool:
    """Whether a figure could count as same-story evidence at revision 0002: every amount
    of money, percentage and multiple, and every count but a year."""
    if unit in ("money", "percent", "pp", "growth", "multiple"):
        return True
    v = abs(value)
    return not (v.is_integer() and 1900 <= v <= 2100)


def downgrade() -> None:
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.drop_index("ix_article_story_id_sort_at")
    with op.batch_alter_table("fact", schema=None) as batch_op:
        batch_op.drop_index("ix_fact_entity_metric_created_at")
    # ALTER TABLE ... DROP COLUMN in place (SQLite >= 3.35): copying the table, as batch
    # mode otherwise does, cannot drop a table that article rows refer to
    with op.batch_alter_table("story", schema=None, recreate="never") as batch_op:
        batch_op.drop_index("ix_story_main_entity_last_seen_at")
        batch_op.drop_column("members")
        batch_op.drop_column("profile")
    with op.batch_alter_table("story_key", schema=None) as batch_op:
        batch_op.drop_index("ix_story_key_unit_value")
        batch_op.drop_index(batch_op.f("ix_story_key_article_id"))
        batch_op.drop_index(batch_op.f("ix_story_key_story_id"))
    op.drop_table("story_key")
