"""story key company: a company's stories holding a figure, found by the figure

Placing an article looks up, among its company's most recent stories (up to 200), those
holding one of its figures (``store/story_index.event_candidates``). Each scanned story's
keys were probed once per figure range: 200 stories x ~10 ranges of B-tree probes a
statement, ~1.1 ms at 40,000 stored undated articles. A key now carries its story's
company, and ``ix_story_key_company_figure`` (company, unit, currency, value, story_id)
gives each range's stories of that company from the index alone; the scanned stories are
then tested against that set. It replaces ``ix_story_key_story_figure`` (story_id, unit,
currency, value): the standing stories an article may restate are found the same way, and
a merge moves keys by their articles.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_INDEX = ["company", "unit", "currency", "value", "story_id"]


def upgrade() -> None:
    with op.batch_alter_table("story_key", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("company", sa.String(), nullable=True))
    op.execute(
        "UPDATE story_key SET company ="
        " (SELECT s.main_entity FROM story s WHERE s.id = story_key.story_id)"
    )
    op.create_index("ix_story_key_company_figure", "story_key", _INDEX)
    op.drop_index("ix_story_key_story_figure", table_name="story_key")


def downgrade() -> None:
    op.create_index(
        "ix_story_key_story_figure", "story_key", ["story_id", "unit", "currency", "value"]
    )
    op.drop_index("ix_story_key_company_figure", table_name="story_key")
    with op.batch_alter_table("story_key", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("company")
