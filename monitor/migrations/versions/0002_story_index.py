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

    # The stories already stored get their keys and profiles now, from their rows, so the
    # first article placed after the upgrade finds them like any other.
    from monitor.store.dedup_index import PlainSql
    from monitor.store.story_index import backfill

    backfill(PlainSql(op.get_bind()))


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
