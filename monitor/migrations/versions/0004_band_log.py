"""dedup_band_log: recent band keys appended in placement order, merged in bulk

See ``monitor.store.band_log``. Downgrading moves the rows still in the log into
``dedup_band`` first, so no band key is lost.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

import struct

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dedup_band_log",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("keys", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["article.id"]),
        sa.PrimaryKeyConstraint("seq"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT article_id, keys FROM dedup_band_log")).all()
    pairs = sorted(
        {
            (key, int(aid))
            for aid, blob in rows
            for key in struct.unpack(f"<{len(blob) // 8}q", bytes(blob))
        }
    )
    if pairs:
        bind.execute(
            sa.text(
                "INSERT INTO dedup_band (key, article_id) VALUES (:key, :aid)"
                " ON CONFLICT DO NOTHING"
            ),
            [{"key": k, "aid": a} for k, a in pairs],
        )
    op.drop_table("dedup_band_log")
