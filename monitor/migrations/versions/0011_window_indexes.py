"""window indexes: the rules' stories of the window read from indexes alone

A batch's count rules read the stories with an article in the look-back window and, of
each, whether one of its facts names a watched company (``store/rule_rows._stories``).
In SQLite an article's ``story_id`` lies after its text in the row, so every article of
the window cost a walk of its text's overflow pages, and every fact of every story a
read of the fact row. ``ix_article_sort_at_story_id`` (sort_at, story_id) replaces the
index on ``sort_at`` alone, ``ix_fact_story_id_entity`` (story_id, entity) the one on
``story_id`` alone and ``ix_article_story_id_sort_at_ai`` (story_id, sort_at,
ai_generated) the one on (story_id, sort_at): the same queries lead with the same
columns, and these read the window, each story's first article and whether all were
written by AI, and the stories' companies from index pages only (97 -> 29 ms a batch at
10,000 stored articles, all in the window). ``ix_fact_created_at`` goes: no query reads facts
by their creation time (the series index answers "last seen"), and each index costs
every stored fact B-tree work.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_article_sort_at_story_id", "article", ["sort_at", "story_id"])
    op.drop_index("ix_article_sort_at", table_name="article")
    op.create_index(
        "ix_article_story_id_sort_at_ai", "article", ["story_id", "sort_at", "ai_generated"]
    )
    op.drop_index("ix_article_story_id_sort_at", table_name="article")
    op.create_index("ix_fact_story_id_entity", "fact", ["story_id", "entity"])
    op.drop_index("ix_fact_story_id", table_name="fact")
    op.drop_index("ix_fact_created_at", table_name="fact")


def downgrade() -> None:
    op.create_index("ix_fact_created_at", "fact", ["created_at"])
    op.create_index("ix_fact_story_id", "fact", ["story_id"])
    op.drop_index("ix_fact_story_id_entity", table_name="fact")
    op.create_index("ix_article_story_id_sort_at", "article", ["story_id", "sort_at"])
    op.drop_index("ix_article_story_id_sort_at_ai", table_name="article")
    op.create_index("ix_article_sort_at", "article", ["sort_at"])
    op.drop_index("ix_article_sort_at_story_id", table_name="article")
