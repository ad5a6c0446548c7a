"""facts: the first of each kind in a story, indexed by amount

An article that joins a story is told which of its facts the story did not hold yet
(``store/story_rows.facts_near``), by reading the story's facts within rounding of the
article's figures. The only index by story was (story_id, entity), so each joining
article read every fact of its story, most of them rewrites restating the same figures:
the facts stage grew with the story, to 4.8 ms an article at 2,500 members.

``first_in_story`` marks the first fact of each kind in its story (alike in entity,
metric, amounts, unit and currencies: what the comparison reads, so the rest add
nothing to it). The partial indexes ``ix_fact_story_id_value`` (story_id, value) and
``ix_fact_story_id_alt_value`` (story_id, alt_value, for the rare facts with an amount
in a second currency) hold those alone and read only the ranges asked. Stored facts are
marked here by one pass over the table.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_FIRST = sa.text("first_in_story")
_FIRST_ALT = sa.text("first_in_story AND alt_value IS NOT NULL")


def upgrade() -> None:
    op.add_column(
        "fact",
        sa.Column("first_in_story", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.execute(
        "UPDATE fact SET first_in_story = FALSE WHERE id IN (SELECT id FROM (SELECT id,"
        " ROW_NUMBER() OVER (PARTITION BY story_id, entity, metric, value, unit, currency,"
        " alt_value, alt_currency ORDER BY id) AS n FROM fact WHERE story_id IS NOT NULL) r"
        " WHERE n > 1)"
    )
    op.create_index(
        "ix_fact_story_id_value",
        "fact",
        ["story_id", "value"],
        sqlite_where=_FIRST,
        postgresql_where=_FIRST,
    )
    op.create_index(
        "ix_fact_story_id_alt_value",
        "fact",
        ["story_id", "alt_value"],
        sqlite_where=_FIRST_ALT,
        postgresql_where=_FIRST_ALT,
    )


def downgrade() -> None:
    op.drop_index("ix_fact_story_id_alt_value", table_name="fact")
    op.drop_index("ix_fact_story_id_value", table_name="fact")
    with op.batch_alter_table("fact") as batch:
        batch.drop_column("first_in_story")
