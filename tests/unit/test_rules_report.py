"""The text and JSON that `monitor rules test` prints."""

from __future__ import annotations

import json

from monitor.rules.report import draft_json, format_drafts
from tests.unit.test_rules_support import article, fact, ruleset, run


def test_drafts_as_text_and_json() -> None:
    rs = ruleset(
        """
rules:
  - id: capex
    when: {change: {entity: alibaba, metric: ai_capex_plan, by: 2%, first: true}}
    trust: {ai: count, non_ai_for: high}
    severity: high
    notify: [slack]
    send: immediate
"""
    )
    a, b = article(ai=True, story=1), article(ai=True, story=2, source="site")
    result = run(rs, facts=[fact(a, 53e9), fact(b, 53e9)])
    text = format_drafts(result.alerts)
    assert text.startswith("1 alert(s) would fire:")
    assert "[MEDIUM] Alibaba AI and cloud capex plan: $53 billion (first confirmed value)" in text
    assert "downgraded: high -> medium: only AI-generated sources" in text
    assert "wire (AI-generated: Agent Smith)" in text and a.url in text and b.url in text
    assert "in the next digest" in text
    (row,) = [draft_json(d) for d in result.alerts]
    assert row["rule"] == "capex" and row["new"] == 53e9 and row["old"] is None
    assert row["channels"] == ["slack"] and row["immediate"] is False
    assert [e["source"] for e in row["evidence"]] == ["wire", "site"]
    json.dumps(row)
    assert format_drafts(()) == "no alert would fire"
