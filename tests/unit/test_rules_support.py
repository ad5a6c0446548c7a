"""Builders shared by the rule tests: a vocabulary, rule sets from text, facts, mentions."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.rules.engine import EvalInput, EvalResult, evaluate
from monitor.rules.loader import FileResult, RuleSet, assemble, parse_text
from monitor.values import ArticleRef, Fact, FactRecord, MentionRecord, SourceRecord, StoryRecord

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
CHANNELS = frozenset({"email", "slack", "webhook", "log"})

VOCAB = """
entities:
  alibaba: {names: [Alibaba, Alibaba Cloud, BABA]}
  tencent: {names: [Tencent]}
metrics:
  ai_capex_plan: {kind: money, label: AI and cloud capex plan, cues: [invest]}
  cloud_market_share: {kind: percent, label: Cloud market share, cues: [market share]}
  pe_ratio: {kind: multiple, label: P/E, cues: [P/E]}
terms:
  qwen_models: {pattern: '\\bQwen[0-9][0-9.]*(?:-[A-Za-z0-9.]+)*'}
topics:
  chip_export_controls: {phrases: [export controls, chip ban]}
"""

_ids = itertools.count(1)


def ruleset(rules_yaml: str, *, vocab: str = VOCAB) -> RuleSet:
    """A rule set from YAML text (the vocabulary in its own file), without touching disk."""
    results = []
    for name, text in (("vocabulary.yaml", vocab), ("rules.yaml", rules_yaml)):
        parsed, problems = parse_text(text, name)
        results.append(FileResult(name, "", parsed, problems))
    rs = assemble(results, channels=CHANNELS)
    assert not rs.problems, [str(p) for p in rs.problems]
    return rs


def article(
    *,
    source: str = "wire",
    ai: bool = False,
    story: int | None = None,
    at: datetime | None = None,
    hours: float = 0,
    art_id: int | None = None,
    duplicate_of: int | None = None,
) -> ArticleRef:
    aid = art_id if art_id is not None else next(_ids)
    return ArticleRef(
        id=aid,
        url=f"https://news.test/{aid}",
        title=f"article {aid}",
        source=source,
        ai_generated=ai,
        sort_at=(at or T0) + timedelta(hours=hours),
        story_id=story,
        duplicate_of=duplicate_of,
        agent_name="Agent Smith" if ai else None,
    )


def fact(
    art: ArticleRef,
    value: float,
    *,
    entity: str | None = "alibaba",
    metric: str | None = "ai_capex_plan",
    unit: str = "money",
    currency: str | None = "USD",
    quals: Mapping[str, str] | None = None,
    period: str | None = None,
    approx: str | None = None,
    alt: tuple[float, str] | None = None,
    confidence: float = 0.9,
    surface: str | None = None,
) -> FactRecord:
    f = Fact(
        entity=entity,
        metric=metric,
        value=value,
        unit=unit,
        surface=surface or f"{value:g}",
        quote=f"{entity} said {surface or value:}.",
        span=(0, 1),
        confidence=confidence,
        currency=currency if unit == "money" else None,
        period=period,
        qualifiers=tuple(sorted((quals or {}).items())),
        approx=approx,
        alt_value=alt[0] if alt else None,
        alt_currency=alt[1] if alt else None,
    )
    return FactRecord(next(_ids), art, f)


def share(art: ArticleRef, value: float, **kw: Any) -> FactRecord:
    return fact(art, value, metric="cloud_market_share", unit="percent", **kw)


def mention(
    art: ArticleRef, kind: str, name: str, value: str, *, entity: str | None = "alibaba"
) -> MentionRecord:
    return MentionRecord(next(_ids), art, kind, name, value, f"... {value} ...", entity)


def story(
    sid: int,
    at: datetime,
    *,
    entities: Iterable[str] = ("alibaba",),
    topics: Iterable[str] = (),
    ai_only: bool = False,
    main: str | None = None,
) -> StoryRecord:
    return StoryRecord(
        sid, f"story {sid}", at, frozenset(entities), frozenset(topics), ai_only, main
    )


def run(
    rs: RuleSet,
    *,
    facts: Iterable[FactRecord] = (),
    mentions: Iterable[MentionRecord] = (),
    stories: Iterable[StoryRecord] = (),
    batch_stories: Iterable[int] = (),
    sources: Iterable[SourceRecord] = (),
    last_seen: Mapping[tuple[str, str], datetime] | None = None,
    state: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
    now: datetime | None = None,
) -> EvalResult:
    batch = EvalInput(
        facts=tuple(facts),
        mentions=tuple(mentions),
        stories=tuple(stories),
        batch_story_ids=frozenset(batch_stories),
        sources=tuple(sources),
        last_seen=dict(last_seen or {}),
    )
    return evaluate(rs, batch, state or {}, now or T0 + timedelta(days=400))


def merged(*states: Mapping[tuple[str, str], Mapping[str, Any]]) -> dict[Any, Any]:
    """State as the store holds it after successive upserts."""
    out: dict[Any, Any] = {}
    for s in states:
        out.update(s)
    return out
