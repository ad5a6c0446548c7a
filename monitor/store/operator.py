"""Operator alerts: the daemon's own problems (a rejected rule edit, a dead-lettered message)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlmodel import Session, col

from monitor.models import Alert
from monitor.store.upsert import insert_ignore


def raise_operator_alert(
    session: Session, *, topic: str, title: str, details: list[str], now: datetime
) -> int | None:
    """Record once per distinct problem set; None when the same one was already raised."""
    digest = hashlib.sha256("\n".join([topic, *details]).encode()).hexdigest()[:16]
    payload: dict[str, Any] = {"details": details, "quote": details[0] if details else None}
    stmt = (
        insert_ignore(session, Alert)
        .values(
            rule_id=f"operator:{topic}",
            key=f"operator:{topic}:{digest}",
            severity="high",
            title=title,
            payload=payload,
            channels=["log"],
            immediate=True,
            created_at=now,
        )
        .returning(col(Alert.id))
    )
    row = session.execute(stmt).first()
    return None if row is None else int(row[0])
