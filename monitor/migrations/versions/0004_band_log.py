"""dedup_band_log: recent band keys appended in placement order, merged in bulk

See ``monitor.store.band_log``. ``dedup_band`` loses its foreign key to ``article``: its
rows come from log rows, whose own foreign key was checked when they were written, and
the check cost a quarter of each merge (a lookup in ``article`` per band key). On SQLite
the table is rebuilt for that, in key order.

Downgrading moves the rows still in the log into ``dedup_band`` first, so no band key is
lost, and gives the foreign key back.

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


_FK = "dedup_band_article_id_fkey"  # PostgreSQL's name for the key of revision 0001


def _rebuild_band(foreign_key: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        if foreign_key:
            op.create_foreign_key(_FK, "dedup_band", "article", ["article_id"], ["id"])
        else:
            op.drop_constraint(_FK, "dedup_band", type_="foreignkey")
        return
    fk = ", FOREIGN KEY(article_id) REFERENCES article (id)" if foreign_key else ""
    op.execute(
        "CREATE TABLE dedup_band_rebuilt (key BIGINT NOT NULL, article_id INTEGER NOT NULL,"
        f" PRIMARY KEY (key, article_id){fk}) WITHOUT ROWID"
    )
    op.execute(
        "INSERT INTO dedup_band_rebuilt (key, article_id)"
        " SELECT key, article_id FROM dedup_band ORDER BY key, article_id"
    )
    op.execute("DROP TABLE dedup_band")
    op.execute("ALTER TABLE dedup_band_rebuilt RENAME TO dedup_band")


def upgrade() -> None:
    _rebuild_band(foreign_key=False)
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
    _rebuild_band(foreign_key=True)
