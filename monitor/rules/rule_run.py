"""What every rule kind shares while it runs: state, trust weights, throttling, drafts.

State is a JSON-ready dict per (rule id, key), read from what the caller passed in and
written to ``updates``; nothing is kept between calls, so the store is the only memory and
a restart changes nothing (issue 6, point 5).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from monitor.rules.display import Names
from monitor.rules.loader import Rule
from monitor.rules.schema import SEVERITIES
from monitor.values import AlertDraft, ArticleRef, StoryRecord

StateKey = tuple[str, str]
APPLIED_CAP = 500  # article ids remembered per state key


def _clone(value: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of JSON-shaped state, so the engine never changes what it was given.

    State is copied for every series a batch touches. A pickle round trip is the fastest
    deep copy of plain built-in containers in the standard library (about twice
    copy.deepcopy's speed); the bytes never leave this function, nothing untrusted is read.
    """
    copied: dict[str, Any] = pickle.loads(pickle.dumps(dict(value), pickle.HIGHEST_PROTOCOL))
    return copied


@lru_cache(maxsize=8192)
def iso(at: datetime) -> str:
    """A time as state keeps it: UTC text whose text order is time order (fixed-width
    fields, and a whole second sorts before its fractions because "+" < "."), so state
    written through here may be compared as text."""
    return at.astimezone(UTC).isoformat()


@lru_cache(maxsize=8192)
def from_iso(text: str) -> datetime:
    # state holds times as text; the same few thousand stamps are read over and over
    return datetime.fromisoformat(text).astimezone(UTC)


def evidence_of(article: ArticleRef, quote: str, **extra: Any) -> dict[str, Any]:
    return {
        "source": article.source,
        "url": article.url,
        "title": article.title,
        "quote": quote,
        "ai_generated": article.ai_generated,
        "agent": article.agent_name,
        "story_id": article.story_id,
        "article_id": article.id,
        "at": iso(article.sort_at),
        **extra,
    }


def add_evidence(items: list[dict[str, Any]], item: dict[str, Any], *, cap: int = 6) -> None:
    """Keep one piece of evidence per article, at most ``cap``, oldest first."""
    if any(e.get("article_id") == item.get("article_id") for e in items):
        return
    items.append(item)
    del items[:-cap]


@dataclass
class Ctx:
    rule: Rule
    names: Names
    state: Mapping[StateKey, Mapping[str, Any]]
    updates: dict[StateKey, dict[str, Any]]
    now: datetime
    drafts: list[AlertDraft] = field(default_factory=list)
    _applied: dict[str, frozenset[int]] = field(default_factory=dict)
    _added: dict[str, set[int]] = field(default_factory=dict)

    # -------------------------------------------------------------- state

    def get(self, key: str) -> dict[str, Any]:
        sk = (self.rule.id, key)
        if sk in self.updates:
            return self.updates[sk]
        found = self.state.get(sk)
        value: dict[str, Any] = _clone(found) if found else {}
        return value

    def known(self, key: str) -> bool:
        return (self.rule.id, key) in self.updates or (self.rule.id, key) in self.state

    def put(self, key: str, value: dict[str, Any]) -> None:
        self.updates[(self.rule.id, key)] = value

    def fresh(self, key: str, st: dict[str, Any], article_id: int) -> bool:
        """False for an article this key already took in at an earlier evaluation.

        Re-evaluating old articles must not replay history over newer state (an old value
        coming back as a "change"); ids from earlier calls are remembered, a bounded list.
        """
        before = self._applied.get(key)
        if before is None:
            before = self._applied[key] = frozenset(st.get("applied", []))
        if article_id in before:
            return False
        added = self._added.setdefault(key, set())
        if article_id not in added:
            added.add(article_id)
            applied: list[int] = st.setdefault("applied", [])
            applied.append(article_id)
            del applied[:-APPLIED_CAP]
        return True

    # -------------------------------------------------------------- trust

    def weight(self, article: ArticleRef) -> float:
        return self._weight(article.ai_generated)

    def story_weight(self, story: StoryRecord) -> float:
        return self._weight(story.ai_only)

    def _weight(self, ai: bool) -> float:
        if not ai:
            return 1.0
        trust = self.rule.spec.trust
        if trust.ai == "ignore":
            return 0.0
        if trust.ai == "down_weight":
            return trust.ai_weight
        return 1.0

    # -------------------------------------------------------------- throttling

    def may_fire(self, st: Mapping[str, Any], at: datetime) -> bool:
        """The realert window: one alert per rule and key within it."""
        last = st.get("last_fired")
        if not last:
            return True
        return at - from_iso(str(last)) >= self.rule.realert

    # -------------------------------------------------------------- drafts

    def emit(
        self,
        st: dict[str, Any],
        *,
        key: str,
        at: datetime,
        title: str,
        entity: str | None = None,
        metric: str | None = None,
        old: float | None = None,
        new: float | None = None,
        story_id: int | None = None,
        evidence: Iterable[Mapping[str, Any]] = (),
        **payload: Any,
    ) -> None:
        """Record an alert unless the realert window holds it back."""
        if not self.may_fire(st, at):
            return
        st["last_fired"] = iso(at)
        items = [dict(e) for e in evidence]
        severity = self.rule.severity
        immediate = self.rule.immediate
        body: dict[str, Any] = {"kind": self.rule.kind, "evidence": items, **payload}
        gate = self.rule.spec.trust.non_ai_for
        if (
            gate is not None
            and SEVERITIES.index(severity) >= SEVERITIES.index(gate)
            and items
            and all(e.get("ai_generated") for e in items)
        ):
            # issue 6 point 3: this severity needs a source that is not an AI writer
            severity = SEVERITIES[max(0, SEVERITIES.index(gate) - 1)]
            immediate = False
            body["downgraded"] = f"{self.rule.severity} -> {severity}: only AI-generated sources"
        body["sources"] = sorted({str(e["source"]) for e in items if e.get("source")})
        self.drafts.append(
            AlertDraft(
                rule_id=self.rule.id,
                key=f"{self.rule.id}|{key}",
                severity=severity,
                entity=entity,
                metric=metric,
                old_value=old,
                new_value=new,
                story_id=story_id,
                title=title,
                payload=body,
                channels=self.rule.channels,
                immediate=immediate,
                kind=self.rule.kind,
                at=at,
            )
        )
