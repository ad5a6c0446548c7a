"""new_term, topic, frequency, spike and stale: when each fires and when it stays silent."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from monitor.values import SourceRecord
from tests.unit.test_rules_support import T0, article, mention, merged, ruleset, run, story


def roundtrip(state: dict[Any, Any]) -> dict[Any, Any]:
    return {k: json.loads(json.dumps(v)) for k, v in state.items()}


NEW_QWEN = """
rules:
  - id: new-qwen
    when: {new_term: qwen_models}
    severity: medium
    notify: [email]
"""


def test_new_term_fires_once_per_new_name() -> None:
    rs = ruleset(NEW_QWEN)
    a, b, c = article(), article(hours=1), article(hours=2)
    first = run(
        rs,
        mentions=[
            mention(a, "term", "qwen_models", "Qwen3"),
            mention(b, "term", "qwen_models", "Qwen3"),
            mention(b, "term", "qwen_models", "Qwen3-Max"),
            mention(c, "term", "qwen_models", "qwen3-max"),  # same name, other case
            mention(c, "term", "other_family", "Qwen9"),
            mention(c, "topic", "qwen_models", "Qwen8"),
        ],
    )
    assert [a.payload["term"] for a in first.alerts] == ["Qwen3", "Qwen3-Max"]
    assert first.alerts[0].title == "New Qwen model: Qwen3"
    assert first.alerts[0].payload["evidence"][0]["url"] == a.url
    later = article(hours=5)
    second = run(
        rs,
        mentions=[
            mention(later, "term", "qwen_models", "Qwen3-Max"),
            mention(later, "term", "qwen_models", "Qwen3-Omni"),
        ],
        state=roundtrip(first.state),
    )
    assert [a.payload["term"] for a in second.alerts] == ["Qwen3-Omni"]


def test_new_term_entity_filter_and_ai_ignore() -> None:
    rs = ruleset(
        """
rules:
  - id: t
    when: {new_term: {family: qwen_models, entity: alibaba}}
    trust: {ai: ignore}
"""
    )
    result = run(
        rs,
        mentions=[
            mention(article(), "term", "qwen_models", "Qwen3", entity="tencent"),
            mention(article(ai=True), "term", "qwen_models", "Qwen4"),
            mention(article(), "term", "qwen_models", "Qwen5"),
        ],
    )
    assert [a.payload["term"] for a in result.alerts] == ["Qwen5"]


TOPIC = """
rules:
  - id: export-controls
    when: {topic: {topic: chip_export_controls, entity: alibaba, stories: 2, within: 14d}}
    trust: {ai: count}
    realert: 30d
"""


def test_topic_needs_n_independent_stories_in_the_window() -> None:
    rs = ruleset(TOPIC)
    one = [
        mention(article(story=1), "topic", "chip_export_controls", "export controls"),
        mention(article(story=1, hours=3), "topic", "chip_export_controls", "chip ban"),
    ]
    r1 = run(rs, mentions=one)
    assert r1.alerts == ()  # two articles, one story
    far = article(story=2, at=T0 + timedelta(days=20))
    r2 = run(
        rs, mentions=[mention(far, "topic", "chip_export_controls", "x")], state=roundtrip(r1.state)
    )
    assert r2.alerts == ()  # the first story is out of the 14-day window
    near = article(story=3, at=T0 + timedelta(days=25))
    state = roundtrip(merged(r1.state, r2.state))
    r3 = run(rs, mentions=[mention(near, "topic", "chip_export_controls", "x")], state=state)
    (alert,) = r3.alerts
    assert alert.payload["stories"] == ["s2", "s3"]
    assert "chip export controls and Alibaba: 2 stories in 2w" in alert.title
    # a third story within the realert window adds no alert
    state = roundtrip(merged(state, r3.state))
    fourth = article(story=4, at=T0 + timedelta(days=26))
    r4 = run(rs, mentions=[mention(fourth, "topic", "chip_export_controls", "x")], state=state)
    assert r4.alerts == ()
    # re-evaluating the same articles gives nothing either
    assert (
        run(rs, mentions=[mention(near, "topic", "chip_export_controls", "x")], state=state).alerts
        == ()
    )


def test_topic_for_another_entity_is_silent_unless_the_story_is_about_it() -> None:
    rs = ruleset(
        """
rules:
  - id: t
    when: {topic: {topic: chip_export_controls, entity: alibaba}}
    trust: {ai: count}
"""
    )
    other = article(story=1)
    quiet = run(
        rs,
        mentions=[mention(other, "topic", "chip_export_controls", "chip ban", entity="tencent")],
        stories=[story(1, other.sort_at, entities=["tencent"])],
    )
    assert quiet.alerts == ()
    mentioned = run(
        rs,
        mentions=[mention(other, "topic", "chip_export_controls", "chip ban", entity=None)],
        stories=[story(1, other.sort_at, entities=["tencent", "alibaba"], main="tencent")],
    )
    assert mentioned.alerts == ()  # Alibaba is named in a Tencent story: not about it
    about = run(
        rs,
        mentions=[mention(other, "topic", "chip_export_controls", "chip ban", entity=None)],
        stories=[story(1, other.sort_at, entities=["tencent", "alibaba"], main="alibaba")],
    )
    assert len(about.alerts) == 1


def test_topic_down_weighted_ai_stories() -> None:
    rs = ruleset(
        """
rules:
  - id: t
    when: {topic: chip_export_controls}
"""
    )  # default trust: AI stories weigh 0.5
    ai_one = [mention(article(ai=True, story=1), "topic", "chip_export_controls", "x")]
    assert run(rs, mentions=ai_one).alerts == ()
    ai_two = [*ai_one, mention(article(ai=True, story=2), "topic", "chip_export_controls", "x")]
    assert len(run(rs, mentions=ai_two).alerts) == 1


def test_frequency_counts_stories_in_the_window() -> None:
    rs = ruleset(
        """
rules:
  - id: busy
    when: {frequency: {entity: alibaba, stories: 3, within: 1d}}
"""
    )
    spread = [story(i, T0 + timedelta(hours=20 * i)) for i in range(1, 5)]
    assert run(rs, stories=spread, batch_stories=[s.id for s in spread]).alerts == ()
    dense = [story(10 + i, T0 + timedelta(hours=i)) for i in range(3)]
    other = [story(20, T0 + timedelta(hours=1), entities=["tencent"])]
    result = run(rs, stories=[*dense, *other], batch_stories=[s.id for s in dense])
    (alert,) = result.alerts
    assert alert.story_id == 12 and alert.payload["count"] == 3
    again = run(rs, stories=dense, batch_stories=[12], state=roundtrip(result.state))
    assert again.alerts == ()


def test_spike_against_its_own_baseline() -> None:
    rs = ruleset(
        """
rules:
  - id: spike
    when: {spike: {entity: alibaba, within: 1d, baseline: 14d, factor: 3, min_stories: 3}}
"""
    )
    day0 = T0 + timedelta(days=14)
    baseline = [story(i, T0 + timedelta(days=i, hours=1)) for i in range(14)]  # 1 a day
    usual = [story(100 + i, day0 + timedelta(hours=2 + i)) for i in range(2)]  # 2: not 3x
    quiet = run(rs, stories=[*baseline, *usual], batch_stories=[s.id for s in usual])
    assert quiet.alerts == ()
    burst = [story(200 + i, day0 + timedelta(hours=2 + i)) for i in range(4)]
    loud = run(rs, stories=[*baseline, *burst], batch_stories=[s.id for s in burst])
    (alert,) = loud.alerts
    assert alert.payload["count"] == 3 and alert.payload["expected"] < 1.1
    busy_past = [story(300 + i, T0 + timedelta(days=i // 4, hours=i % 4)) for i in range(56)]
    steady = run(rs, stories=[*busy_past, *burst], batch_stories=[s.id for s in burst])
    assert steady.alerts == ()  # 4 a day is this entity's normal


def test_stale_source_fires_once_per_quiet_spell() -> None:
    rs = ruleset(
        """
rules:
  - id: stale
    when: {stale: {source: "*", after: 2d}}
"""
    )
    now = T0 + timedelta(days=10)
    sources = [
        SourceRecord("quiet", now - timedelta(days=3)),
        SourceRecord("busy", now - timedelta(hours=3)),
        SourceRecord("never", None),
        SourceRecord("removed", now - timedelta(days=9), active=False),
    ]
    first = run(rs, sources=sources, now=now)
    (alert,) = first.alerts
    assert alert.title == "Source quiet quiet for 3d (limit 2d)"
    later = run(rs, sources=sources, now=now + timedelta(hours=5), state=roundtrip(first.state))
    assert later.alerts == ()
    # it came back, then went quiet again: a new spell, a new alert
    back = [SourceRecord("quiet", now + timedelta(days=1))]
    again = run(rs, sources=back, now=now + timedelta(days=4), state=roundtrip(first.state))
    assert len(again.alerts) == 1 and again.alerts[0].key != alert.key


def test_stale_by_usual_gap_and_for_an_entity_metric() -> None:
    rs = ruleset(
        """
rules:
  - id: gap
    when: {stale: {source: wire, gap_factor: 4}}
  - id: metric
    when: {stale: {entity: alibaba, metric: ai_capex_plan, after: 30d}}
"""
    )
    now = T0 + timedelta(days=100)
    hourly = SourceRecord("wire", now - timedelta(hours=3), usual_gap_s=3600)
    assert run(rs, sources=[hourly], now=now).alerts == ()
    late = SourceRecord("wire", now - timedelta(hours=5), usual_gap_s=3600)
    assert [a.rule_id for a in run(rs, sources=[late], now=now).alerts] == ["gap"]
    seen = {("metric", "alibaba/ai_capex_plan"): now - timedelta(days=31)}
    result = run(rs, last_seen=seen, now=now)
    assert [a.rule_id for a in result.alerts] == ["metric"]
    assert "AI and cloud capex plan quiet" in result.alerts[0].title


def test_frequency_of_a_topic_across_companies() -> None:
    rs = ruleset(
        """
rules:
  - id: export-news
    when: {frequency: {topic: chip_export_controls, stories: 2, within: 2d}}
"""
    )
    on_topic = [
        story(1, T0, entities=["tencent"], topics=["chip_export_controls"]),
        story(2, T0 + timedelta(hours=5), entities=["alibaba"], topics=["chip_export_controls"]),
    ]
    off_topic = [story(3, T0 + timedelta(hours=6))]
    result = run(rs, stories=[*on_topic, *off_topic], batch_stories=[1, 2, 3])
    assert [a.story_id for a in result.alerts] == [2]
    assert "chip export controls: 2 stories in 2d" in result.alerts[0].title
