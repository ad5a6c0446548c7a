"""dedup_band as one B-tree on SQLite (WITHOUT ROWID)

As an ordinary SQLite table, every band key was stored twice: in the table (under a
hidden rowid) and in the index of its primary key, and each insert wrote both. Stored
WITHOUT ROWID, the primary key is the table: half the bytes and half the page writes per
article. PostgreSQL keeps its table and primary-key index as they are.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = (
    "key BIGINT NOT NULL, article_id INTEGER NOT NULL,"
    " PRIMARY KEY (key, article_id), FOREIGN KEY(article_id) REFERENCES article (id)"
)


def _rebuild(options: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(f"CREATE TABLE dedup_band_rebuilt ({_COLUMNS}){options}")
    # in key order: the new B-tree is written front to back
    op.execute(
        "INSERT INTO dedup_band_rebuilt (key, article_id)"
        " SELECT key, article_id FROM dedup_band ORDER BY key, article_id"
    )
    op.execute("DROP TABLE dedup_band")
    op.execute("ALTER TABLE dedup_band_rebuilt RENAME TO dedup_band")


def upgrade() -> None:
    _rebuild(" WITHOUT ROWID")


def downgrade() -> None:
    _rebuild("")
