"""story text: document frequencies for the same-story level; a story's event window

Adds ``story_df`` (word -> number of placed original articles using it, with the empty
word counting the articles; ``monitor.store.story_df``) and ``story.event_until`` (the
newest member that joined on the event's own evidence, which restatements do not move),
with an index on ``story(main_entity, event_until)``.

Stories stored before this revision keep ``event_until`` NULL (``last_seen_at`` stands
in) and their profiles are of the previous version: placement rebuilds a story's profile
from its rows the first time it needs it. The frequencies start empty and grow with the
articles placed from now on.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


class _UTC(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, as monitor's timestamp columns are (frozen here)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def upgrade() -> None:
    op.create_table(
        "story_df",
        sa.Column("token", sa.String(), nullable=False),
        sa.Column("df", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("token"),
    )
    with op.batch_alter_table("story", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("event_until", _UTC(), nullable=True))
        batch_op.create_index(
            "ix_story_main_entity_event_until", ["main_entity", "event_until"], unique=False
        )


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN in place (SQLite >= 3.35): copying the table, as batch
    # mode otherwise does, cannot drop a table that article rows refer to
    with op.batch_alter_table("story", schema=None, recreate="never") as batch_op:
        batch_op.drop_index("ix_story_main_entity_event_until")
        batch_op.drop_column("event_until")
    op.drop_table("story_df")
