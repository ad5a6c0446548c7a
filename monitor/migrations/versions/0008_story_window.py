"""story window: candidate stories read from the company's window alone

Stories stored before revision 0007 kept ``event_until`` NULL, and the readers stood
``last_seen_at`` in for it. That ``COALESCE`` cannot use the index on
``story(main_entity, event_until)``, so finding a company's stories told in a window read
every story of the company: a cost that grew with the whole history. Filling the column
once lets the candidate queries read the window alone.

The figure keys were looked up by figure (``unit, value``) across all history, which a
common figure makes as long as the history; they are now checked per candidate story,
so the index leads with the story: ``story_key(story_id, unit, currency, value)``
replaces both ``(story_id)`` and ``(unit, value)``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE story SET event_until = last_seen_at WHERE event_until IS NULL")
    op.create_index(
        "ix_story_key_story_figure", "story_key", ["story_id", "unit", "currency", "value"]
    )
    op.drop_index("ix_story_key_story_id", table_name="story_key")
    op.drop_index("ix_story_key_unit_value", table_name="story_key")


def downgrade() -> None:
    # the filled event_until stays: 0007's readers take a filled column as it is
    op.create_index("ix_story_key_unit_value", "story_key", ["unit", "value"])
    op.create_index("ix_story_key_story_id", "story_key", ["story_id"])
    op.drop_index("ix_story_key_story_figure", table_name="story_key")
