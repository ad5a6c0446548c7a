"""story: PostgreSQL finds a company's longer names by bytes, whatever the collation

``story_rows.companies_named`` reads the stories' companies that begin with a name and an
underscore ("hygon" -> hygon_information) as a range, from "hygon_" to "hygon`". Under a
collation that ignores punctuation (glibc's en_US.UTF-8, a common database default),
"hygon_information" sorts as "hygoninformation", past the range's end: no longer name
was ever found, and a rewrite naming the company by its short name started a story of
its own. On PostgreSQL the range is now compared in the "C" collation (bytes), which
this index on ``main_entity COLLATE "C"`` serves. SQLite compares bytes already.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute('CREATE INDEX ix_story_entity_bytes ON story (main_entity COLLATE "C")')


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_story_entity_bytes")
