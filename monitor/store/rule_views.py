"""The rules' stored state as the web view's rules page shows it: per rule, how many
series or subjects it tracks and the newest few of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from monitor.models import RuleState


@dataclass(frozen=True, slots=True)
class StateSummary:
    keys: int  # series or subjects the rule keeps state for
    newest: list[tuple[str, dict[str, Any], datetime | None]] = field(default_factory=list)


def state_summaries(
    session: Session, rule_ids: Sequence[str], *, per_rule: int = 5
) -> dict[str, StateSummary]:
    """For each rule, its count of state rows and the ``per_rule`` most recently updated
    (one primary-key range per rule)."""
    out: dict[str, StateSummary] = {}
    for rule_id in rule_ids:
        count = session.exec(
            select(func.count()).select_from(RuleState).where(col(RuleState.rule_id) == rule_id)
        ).one()
        if not count:
            continue
        rows = session.exec(
            select(RuleState)
            .where(col(RuleState.rule_id) == rule_id)
            .order_by(col(RuleState.updated_at).desc())
            .limit(per_rule)
        ).all()
        out[rule_id] = StateSummary(
            int(count), [(r.key, dict(r.state or {}), r.updated_at) for r in rows]
        )
    return out


def series_states(
    session: Session, rule_ids: Sequence[str], *, prefix: str
) -> list[tuple[str, str, dict[str, Any]]]:
    """(rule, key, state) of these rules' series whose key starts with ``prefix``
    ("alibaba/ai_capex_plan/"): a primary-key range per rule."""
    out = []
    for rule_id in rule_ids:
        rows = session.exec(
            select(RuleState).where(
                col(RuleState.rule_id) == rule_id,
                col(RuleState.key) >= prefix,
                col(RuleState.key) < prefix + "\uffff",
            )
        ).all()
        out += [(r.rule_id, r.key, dict(r.state or {})) for r in rows]
    return out
