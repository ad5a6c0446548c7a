"""web indexes: what the analyst web view's pages look up (issue 15, point 5)

* ``alert(rule_id, created_at)``: each rule's last firing on the rules page, one index
  lookup per rule instead of every alert of the rule.
* ``article(story_id, source_id, ai_generated)``: the overview's "N sources (K
  AI-generated)" per story read from the index alone, without the article rows (their
  text makes them large).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index("ix_alert_rule_id_created_at", ["rule_id", "created_at"])
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.create_index(
            "ix_article_story_id_source_id", ["story_id", "source_id", "ai_generated"]
        )


def downgrade() -> None:
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.drop_index("ix_article_story_id_source_id")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_rule_id_created_at")
