"""outbox: deliveries per part and recipient with a fencing token; digests per channel

``delivery`` gains the recipient, the part, the Message-ID, a lease token, the error kind
and the last outcome per recipient; ``digest`` gains its channel and the window it
covers; ``digest_alert`` records which channel's digest showed an alert.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


class _UTC(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, as monitor's timestamp columns are (frozen here)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipient", sa.String(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("part", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("parts", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("message_id", sa.String(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("last_error_kind", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("lease_token", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_index("ix_delivery_due", ["status", "next_attempt_at"], unique=False)
    with op.batch_alter_table("digest", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("window_start", _UTC(), nullable=True))
        batch_op.add_column(sa.Column("window_end", _UTC(), nullable=True))
        batch_op.add_column(sa.Column("title", sa.String(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("parts", sa.Integer(), nullable=False, server_default="1"))
        batch_op.create_index("ix_digest_channel_window_end", ["channel", "window_end"])
    op.create_table(
        "digest_alert",
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "alert_id"),
    )
    with op.batch_alter_table("digest_alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_digest_alert_digest_id"), ["digest_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("digest_alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_digest_alert_digest_id"))
    op.drop_table("digest_alert")
    with op.batch_alter_table("digest", schema=None) as batch_op:
        batch_op.drop_index("ix_digest_channel_window_end")
        for column in ("parts", "title", "window_end", "window_start", "channel"):
            batch_op.drop_column(column)
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_due")
        for column in (
            "lease_token", "outcome", "last_error_kind", "message_id", "parts", "part",
            "recipient",
        ):  # fmt: skip
            batch_op.drop_column(column)
