"""Rule state, alerts, digests, deliveries and the daemons' heartbeats."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from monitor.models.columns import TableModel, json_field, ts_field


class RuleState(TableModel, table=True):
    """Per rule and key: confirmed values, threshold side, last firing. Survives restarts."""

    __tablename__ = "rule_state"
    rule_id: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    state: dict[str, Any] | None = json_field()
    updated_at: datetime | None = ts_field(nullable=False)


class Alert(TableModel, table=True):
    # each rule's last firing (the web view's rules page, 0008)
    __table_args__ = (sa.Index("ix_alert_rule_id_created_at", "rule_id", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    rule_id: str = Field(index=True)
    key: str = Field(unique=True)  # idempotency: evaluating twice inserts nothing
    severity: str = "medium"
    entity: str | None = None
    metric: str | None = None
    old_value: float | None = None
    new_value: float | None = None
    story_id: int | None = Field(default=None, index=True)
    title: str = ""
    payload: dict[str, Any] | None = json_field()  # evidence, sources, quotes
    channels: list[str] | None = json_field()
    immediate: bool = False
    digest_id: int | None = Field(default=None, index=True)
    created_at: datetime | None = ts_field(nullable=False, index=True)


class Digest(TableModel, table=True):
    """A digest as it was built: once per channel and window, by whichever worker wins."""

    __table_args__ = (sa.Index("ix_digest_channel_window_end", "channel", "window_end"),)
    id: int | None = Field(default=None, primary_key=True)
    window_key: str = Field(unique=True)  # "<channel>@<window end>": built once per window
    created_at: datetime | None = ts_field(nullable=False)
    text: str = ""
    html: str = ""
    alert_ids: list[int] | None = json_field()
    channel: str | None = None  # None: a digest of the daemon before channels existed
    window_start: datetime | None = ts_field()  # what it covers: [start, end)
    window_end: datetime | None = ts_field()
    title: str = ""
    parts: int = 1  # the messages it was split into (Slack's limits)


class DigestAlert(TableModel, table=True):
    """Which channel's digest showed an alert: an alert goes into one digest per channel."""

    __tablename__ = "digest_alert"
    channel: str = Field(primary_key=True)
    alert_id: int = Field(primary_key=True)
    digest_id: int = Field(index=True)


class Delivery(TableModel, table=True):
    """The outbox: one row per message part, channel and recipient, claimed with a lease.

    Written in the same transaction as the digest or alert it carries; a dispatcher
    claims due rows, sends them and marks them (monitor.app.outbox).
    """

    __table_args__ = (sa.Index("ix_delivery_due", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    unique_key: str = Field(unique=True)
    kind: str  # digest | alert | operator
    ref_id: int | None = None  # the digest's or alert's id
    channel: str
    recipient: str = ""  # an email address; "" for Slack and webhooks
    part: int = 1
    parts: int = 1
    message_id: str = ""  # the same on every try: a resend is recognisable (RFC 5322)
    status: str = Field(default="pending", index=True)  # pending | retrying | sent | dead
    attempts: int = 0
    next_attempt_at: datetime | None = ts_field(nullable=False, index=True)
    last_error: str | None = None
    last_error_kind: str | None = None
    outcome: dict[str, Any] | None = json_field()  # the last try, per recipient
    payload: dict[str, Any] | None = json_field()  # the rendered message
    lease_owner: str | None = None
    lease_until: datetime | None = ts_field()
    lease_token: int = 0  # fencing token: bumped on every claim, checked when marking
    created_at: datetime | None = ts_field(nullable=False)
    sent_at: datetime | None = ts_field()


class Heartbeat(TableModel, table=True):
    worker: str = Field(primary_key=True)
    host: str = ""
    pid: int = 0
    role: str = "worker"
    started_at: datetime | None = ts_field(nullable=False)
    seen_at: datetime | None = ts_field(nullable=False)
