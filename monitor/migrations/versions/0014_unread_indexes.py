"""story and article indexes: four that no query needs go

Three are the first column of an index kept, which every query that read them reads the
same way (a story's articles, a source's articles, a company's stories), a foreign key
check included:

- ``ix_article_story_id`` (story_id), of ``ix_article_story_id_sort_at_ai`` and
  ``ix_article_story_id_source_id``;
- ``ix_article_source_id`` (source_id), of the unique (source_id, entry_key) index;
- ``ix_story_main_entity``, of ``ix_story_scan``.

The fourth, ``ix_story_main_entity_last_seen_at``, served the scan of a company's recent
stories, which reads ``ix_story_scan`` since 0012; nothing reads it any more.

Each stored article wrote the first two, and placing it (its story set from NULL) moved
its entry in the first; each new story wrote the last two, and each article joining a
story moved the story's entry in the fourth (its last_seen_at).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_article_story_id", table_name="article")
    op.drop_index("ix_article_source_id", table_name="article")
    op.drop_index("ix_story_main_entity", table_name="story")
    op.drop_index("ix_story_main_entity_last_seen_at", table_name="story")


def downgrade() -> None:
    op.create_index("ix_story_main_entity_last_seen_at", "story", ["main_entity", "last_seen_at"])
    op.create_index("ix_story_main_entity", "story", ["main_entity"])
    op.create_index("ix_article_source_id", "article", ["source_id"])
    op.create_index("ix_article_story_id", "article", ["story_id"])
