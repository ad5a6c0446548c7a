"""story and article indexes: three that no query needs go

Two are the first column of an index kept, which every query that read them reads the
same way (a story's articles, a company's stories; a check of the foreign key story_id):

- ``ix_article_story_id`` (story_id), of ``ix_article_story_id_sort_at_ai`` and
  ``ix_article_story_id_source_id``;
- ``ix_story_main_entity``, of ``ix_story_scan``.

The third, ``ix_story_main_entity_last_seen_at``, served the scan of a company's recent
stories, which reads ``ix_story_scan`` since 0012; nothing reads it any more.

Each stored article wrote the first, and placing it (its story set from NULL) moved its
entry there; each new story wrote the other two, and each article joining a story moved
the story's entry in the third (its last_seen_at). ``ix_article_source_id`` stays,
though the unique (source_id, entry_key) index leads with source_id too: in SQLite it
also holds the rowid in order, which a source's newest articles are read by
(``articles.seen_keys``) without reading and sorting all of them.

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
    op.drop_index("ix_story_main_entity", table_name="story")
    op.drop_index("ix_story_main_entity_last_seen_at", table_name="story")


def downgrade() -> None:
    op.create_index("ix_story_main_entity_last_seen_at", "story", ["main_entity", "last_seen_at"])
    op.create_index("ix_story_main_entity", "story", ["main_entity"])
    op.create_index("ix_article_story_id", "article", ["story_id"])
