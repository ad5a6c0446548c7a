"""story scan: a company's recent stories and their figure keys read without story rows

Placing an article looks up, among its company's most recent stories, those holding one
of its figures (``store/story_index.event_candidates``). That statement read every
scanned story's row (a page each: a row holds its ~2.7 KB profile) and probed each
story's keys twice per figure.

- ``ix_story_scan`` (main_entity, event_until, id, first_seen_at, article_count) replaces
  ``ix_story_main_entity_event_until``: the same leading columns and order, and the scan's
  filters from the index alone, so only the stories found are read.
- A figure's key holds its magnitude, not its signed value. The matcher compares
  magnitudes, so one range per figure finds it (two were asked before, the value and its
  negative); a negative key becomes its magnitude.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_SCAN = ["main_entity", "event_until", "id", "first_seen_at", "article_count"]


def upgrade() -> None:
    op.execute("UPDATE story_key SET value = -value WHERE value < 0")
    op.create_index("ix_story_scan", "story", _SCAN)
    op.drop_index("ix_story_main_entity_event_until", table_name="story")


def downgrade() -> None:
    op.create_index("ix_story_main_entity_event_until", "story", ["main_entity", "event_until"])
    op.drop_index("ix_story_scan", table_name="story")
    # the keys keep their magnitudes: the older lookup asked for both signs, so it finds
    # them all the same
