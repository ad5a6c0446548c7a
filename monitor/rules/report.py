"""What `monitor rules test` prints: would-be alerts with their evidence, as text or JSON.

Modelled on elastalert-test-rule: every alert a replay would raise, the values it moved
between, and the quotes and links behind it, so an analyst can judge a rule before it
sends anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from monitor.errors import Problem
from monitor.rules.rule_run import iso
from monitor.values import AlertDraft


def draft_json(d: AlertDraft) -> dict[str, Any]:
    """The shape `monitor alerts --json` uses for stored alerts, for a draft."""
    return {
        "rule": d.rule_id,
        "key": d.key,
        "kind": d.kind,
        "severity": d.severity,
        "title": d.title,
        "entity": d.entity,
        "metric": d.metric,
        "old": d.old_value,
        "new": d.new_value,
        "story_id": d.story_id,
        "at": iso(d.at) if d.at else None,
        "channels": list(d.channels),
        "immediate": d.immediate,
        "evidence": d.payload.get("evidence", []),
        "payload": d.payload,
    }


def _evidence_line(e: dict[str, Any]) -> str:
    who = str(e.get("source") or e.get("target") or "")
    if e.get("ai_generated"):
        agent = e.get("agent")
        who += f" (AI-generated{': ' + str(agent) if agent else ''})"
    quote = str(e.get("quote") or e.get("title") or e.get("last_activity") or "")
    if len(quote) > 240:
        quote = quote[:237] + "..."
    url = e.get("url")
    line = f"      - {who}: “{quote}”" if who else f"      - “{quote}”"
    return f"{line}\n        {url}" if url else line


def format_drafts(drafts: Sequence[AlertDraft]) -> str:
    if not drafts:
        return "no alert would fire"
    lines = [f"{len(drafts)} alert(s) would fire:"]
    for d in drafts:
        when = iso(d.at) if d.at else "-"
        route = ", ".join(d.channels) or "digest only"
        lines.append(f"\n  [{d.severity.upper()}] {d.title}")
        lines.append(f"    rule {d.rule_id} ({d.kind}) at {when}; {route}")
        lines.append(f"    {'immediately' if d.immediate else 'in the next digest'}")
        if d.payload.get("downgraded"):
            lines.append(f"    downgraded: {d.payload['downgraded']}")
        evidence = d.payload.get("evidence", [])
        if evidence:
            lines.append("    evidence:")
            lines.extend(_evidence_line(e) for e in evidence)
    return "\n".join(lines)


def problem_json(p: Problem) -> dict[str, Any]:
    """One problem as ``monitor rules check --json`` prints it."""
    return {"file": p.path, "line": p.line, "column": p.col, "message": p.message}


def format_problems(problems: Iterable[Problem]) -> str:
    return "\n".join(str(p) for p in problems)
