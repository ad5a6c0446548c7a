"""change, threshold and conflict: when each fires and when it stays silent."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta, timezone
from typing import Any

from tests.unit.test_rules_support import T0, article, fact, merged, ruleset, run, share

CAPEX = """
rules:
  - id: capex
    when: {change: {entity: alibaba, metric: ai_capex_plan, currency: USD, by: 2%}}
    confirm: {stories: 2}
    trust: {ai: count}
    severity: high
    notify: [slack]
"""


def roundtrip(state: dict[Any, Any]) -> dict[Any, Any]:
    """State as it comes back from the JSON column."""
    return {k: json.loads(json.dumps(v)) for k, v in state.items()}


def test_change_fires_once_when_two_stories_confirm_a_new_value() -> None:
    rs = ruleset(CAPEX)
    a1, a2 = article(story=1), article(story=2, hours=1)
    first = run(rs, facts=[fact(a1, 53e9), fact(a2, 53e9)])
    assert first.alerts == ()  # the first confirmed value is the baseline
    b1, b2 = article(story=3, hours=48), article(story=4, hours=50)
    second = run(rs, facts=[fact(b1, 66e9), fact(b2, 66e9)], state=roundtrip(first.state))
    assert len(second.alerts) == 1
    alert = second.alerts[0]
    assert (alert.old_value, alert.new_value) == (53e9, 66e9)
    assert alert.severity == "high" and alert.channels == ("slack",)
    assert "$53 billion -> $66 billion" in alert.title
    assert {e["article_id"] for e in alert.payload["evidence"]} == {b1.id, b2.id}
    assert {e["article_id"] for e in alert.payload["previous_evidence"]} == {a1.id, a2.id}


def test_copies_and_rewrites_of_one_story_count_once() -> None:
    rs = ruleset(CAPEX)
    base = [fact(article(story=1), 53e9), fact(article(story=2), 53e9)]
    state = roundtrip(run(rs, facts=base).state)
    # five rewrites in story 3 and their syndicated copy
    rewrites = [article(story=3, hours=h) for h in range(5)]
    copy = article(story=3, duplicate_of=rewrites[0].id, hours=6)
    result = run(rs, facts=[fact(a, 66e9) for a in [*rewrites, copy]], state=state)
    assert result.alerts == ()
    # without a story, an exact copy counts as the article it copies
    original = article(hours=7)
    copies = [original, article(duplicate_of=original.id, hours=8)]
    result = run(rs, facts=[fact(a, 66e9) for a in copies], state=state)
    assert result.alerts == ()


def test_change_below_the_amount_or_against_the_direction_is_silent() -> None:
    rs = ruleset(
        """
rules:
  - id: up-only
    when: {change: {entity: alibaba, metric: ai_capex_plan, by: 10%, direction: up}}
    trust: {ai: count}
"""
    )
    state = roundtrip(run(rs, facts=[fact(article(), 100e9)]).state)
    small = run(rs, facts=[fact(article(hours=1), 105e9)], state=state)  # +5%: below 10%
    assert small.alerts == ()
    down = run(
        rs, facts=[fact(article(hours=2), 50e9)], state=roundtrip(merged(state, small.state))
    )
    assert down.alerts == ()  # -50%, but the rule watches rises only
    up = run(rs, facts=[fact(article(hours=3), 80e9)], state=roundtrip(merged(state, down.state)))
    assert [a.new_value for a in up.alerts] == [80e9]  # +60% from the confirmed 50


def test_absolute_by_in_points_and_qualifier_series_are_separate() -> None:
    rs = ruleset(
        """
rules:
  - id: china-share
    when: {change: {entity: alibaba, metric: cloud_market_share, where: {scope: china}, by: 2}}
"""
    )
    china = {"scope": "china"}
    base = run(rs, facts=[share(article(), 36.0, quals=china)])
    state = roundtrip(base.state)
    # the global 4% is another series: never a change of the China share
    glob = run(rs, facts=[share(article(hours=1), 4.0, quals={"scope": "global"})], state=state)
    assert glob.alerts == () and glob.state == {}
    near = run(rs, facts=[share(article(hours=2), 35.0, quals=china)], state=state)
    assert near.alerts == ()  # 1 point: below 2
    far = run(rs, facts=[share(article(hours=3), 33.0, quals=china)], state=state)
    assert [(a.old_value, a.new_value) for a in far.alerts] == [(36.0, 33.0)]
    assert "36% -> 33% (-3 pp)" in far.alerts[0].title


def test_a_single_ai_article_never_moves_a_confirmed_value() -> None:
    rs = ruleset(
        """
rules:
  - id: capex
    when: {change: {entity: alibaba, metric: ai_capex_plan, by: 1%}}
    confirm: {stories: 1}
    trust: {ai: count}
"""
    )
    state = roundtrip(run(rs, facts=[fact(article(), 53e9)]).state)
    odd = run(rs, facts=[fact(article(ai=True, hours=1), 530e9)], state=state)
    assert odd.alerts == ()
    confirmed = odd.state[("capex", "alibaba/ai_capex_plan/USD")]["confirmed"]
    assert confirmed["value"] == 53e9
    # a second, independent AI story with the same figure does confirm it
    again = run(
        rs,
        facts=[fact(article(ai=True, story=9, hours=2), 530e9)],
        state=roundtrip(merged(state, odd.state)),
    )
    assert [a.new_value for a in again.alerts] == [530e9]


def test_ai_down_weight_and_ignore() -> None:
    down = ruleset(
        """
rules:
  - id: capex
    when: {change: {entity: alibaba, metric: ai_capex_plan, by: 1%, first: true}}
    confirm: {stories: 2}
    trust: {ai: down_weight, ai_weight: 0.5}
"""
    )
    three_ai = [fact(article(ai=True, story=s), 53e9) for s in (1, 2, 3)]
    assert run(down, facts=three_ai).alerts == ()  # 1.5 < 2
    four_ai = [*three_ai, fact(article(ai=True, story=4), 53e9)]
    assert len(run(down, facts=four_ai).alerts) == 1  # 2.0
    human_and_two_ai = [
        fact(article(story=5), 53e9),
        fact(article(ai=True, story=6), 53e9),
        fact(article(ai=True, story=7), 53e9),
    ]
    assert len(run(down, facts=human_and_two_ai).alerts) == 1
    ignore = ruleset(
        """
rules:
  - id: capex
    when: {change: {entity: alibaba, metric: ai_capex_plan, by: 1%, first: true}}
    trust: {ai: ignore}
"""
    )
    assert run(ignore, facts=four_ai).alerts == ()


def test_non_ai_source_required_for_high_severity() -> None:
    rs = ruleset(
        """
rules:
  - id: capex
    when: {change: {entity: alibaba, metric: ai_capex_plan, by: 1%, first: true}}
    trust: {ai: count, non_ai_for: high}
    severity: critical
    send: immediate
"""
    )
    ai_only = run(rs, facts=[fact(article(ai=True, story=s), 53e9) for s in (1, 2)])
    (alert,) = ai_only.alerts
    assert alert.severity == "medium" and not alert.immediate
    assert "only AI-generated" in alert.payload["downgraded"]
    with_human = run(rs, facts=[fact(article(story=3), 53e9)])
    (alert,) = with_human.alerts
    assert alert.severity == "critical" and alert.immediate


def test_reevaluation_gives_no_new_alert_and_lost_state_gives_the_same_keys() -> None:
    rs = ruleset(CAPEX)
    facts = [
        fact(article(story=1), 53e9),
        fact(article(story=2), 53e9),
        fact(article(story=3, hours=5), 66e9),
        fact(article(story=4, hours=6), 66e9),
    ]
    first = run(rs, facts=facts)
    assert len(first.alerts) == 1
    again = run(rs, facts=facts, state=roundtrip(first.state))
    assert again.alerts == ()
    lost = run(rs, facts=facts)  # state lost: same event, same idempotency key
    assert [a.key for a in lost.alerts] == [a.key for a in first.alerts]


def test_restated_old_value_in_a_story_of_the_new_value_does_not_revert() -> None:
    rs = ruleset(CAPEX)
    c1, c2, later = article(story=3, hours=5), article(story=4, hours=6), article(story=5, hours=9)
    facts = [
        fact(article(story=1), 53e9),
        fact(article(story=2), 53e9),
        fact(c1, 66e9),
        fact(c2, 66e9),
        fact(c2, 53e9),  # "the jump from $53 billion to $66 billion"
        fact(later, 53e9),  # one more story repeating the old figure
    ]
    result = run(rs, facts=facts)
    assert [(a.old_value, a.new_value) for a in result.alerts] == [(53e9, 66e9)]


def test_bounds_and_other_currencies_are_not_values() -> None:
    rs = ruleset(CAPEX)
    state = roundtrip(run(rs, facts=[fact(article(story=s), 53e9) for s in (1, 2)]).state)
    facts = [
        fact(article(story=3), 70e9, approx="over"),
        fact(article(story=4), 70e9, approx="more than"),
        fact(article(story=5), 480e9, currency="CNY"),  # no USD figure given with it
        fact(article(story=6), 480e9, currency="CNY"),
    ]
    assert run(rs, facts=facts, state=state).alerts == ()
    # the USD amount an article gives beside the yuan figure is used
    linked = [fact(article(story=s), 480e9, currency="CNY", alt=(66e9, "USD")) for s in (7, 8)]
    result = run(rs, facts=linked, state=state)
    assert [(a.old_value, a.new_value) for a in result.alerts] == [(53e9, 66e9)]


def test_realert_window_holds_back_a_second_change() -> None:
    rs = ruleset(
        """
rules:
  - id: share
    when: {change: {entity: alibaba, metric: cloud_market_share, by: 1}}
    realert: 1d
"""
    )
    facts = [
        share(article(hours=0), 30.0),
        share(article(hours=1), 35.0),
        share(article(hours=2), 40.0),  # within a day of the last alert: held back
        share(article(hours=30), 45.0),
    ]
    result = run(rs, facts=facts)
    assert [a.new_value for a in result.alerts] == [35.0, 45.0]


def test_threshold_fires_once_per_crossing_with_hysteresis() -> None:
    rs = ruleset(
        """
rules:
  - id: pe-high
    when: {threshold: {entity: alibaba, metric: pe_ratio, above: 20, hysteresis: 2}}
"""
    )
    values = [18, 21, 19.5, 21.5, 17, 22, 23]
    facts = [
        fact(article(hours=i), v, metric="pe_ratio", unit="multiple") for i, v in enumerate(values)
    ]
    result = run(rs, facts=facts)
    # 21 crosses; 19.5 stays inside the 2-point band; 17 re-arms; 22 crosses again
    assert [a.new_value for a in result.alerts] == [21, 22]
    assert "above 20x: 21x" in result.alerts[0].title


def test_threshold_below_and_first_value_on_the_alert_side() -> None:
    rs = ruleset(
        """
rules:
  - id: pe-low
    when: {threshold: {entity: alibaba, metric: pe_ratio, below: 10, hysteresis: 10%}}
"""
    )
    facts = [
        fact(article(hours=i), v, metric="pe_ratio", unit="multiple")
        for i, v in enumerate([9, 10.5, 8, 11.5, 9.5])
    ]
    result = run(rs, facts=facts)
    assert [a.new_value for a in result.alerts] == [9, 9.5]


def test_conflict_names_who_said_what() -> None:
    rs = ruleset(
        """
rules:
  - id: capex-conflict
    when: {conflict: {entity: alibaba, metric: ai_capex_plan, currency: USD, tolerance: 1%}}
"""
    )
    facts = [
        fact(article(source="wire", story=1), 53e9, surface="$53 billion"),
        fact(article(source="site", story=1, hours=1), 53e9),
        fact(article(source="markets", story=1, hours=2), 52e9, surface="$52 billion"),
        fact(article(source="markets", story=1, hours=3), 52e9),
    ]
    result = run(rs, facts=facts)
    (alert,) = result.alerts
    assert "$53 billion (site, wire) vs $52 billion (markets)" in alert.title
    said = {(c["source"], c["value"]) for c in alert.payload["claims"]}
    assert said == {("wire", 53e9), ("site", 53e9), ("markets", 52e9)}
    assert run(rs, facts=facts, state=roundtrip(result.state)).alerts == ()


def test_conflict_is_silent_within_tolerance_within_one_source_and_across_periods() -> None:
    rs = ruleset(
        """
rules:
  - id: share-conflict
    when: {conflict: {entity: alibaba, metric: cloud_market_share, tolerance: 1%}}
"""
    )
    close = [share(article(source="a", story=1), 36.0), share(article(source="b", story=1), 35.8)]
    assert run(rs, facts=close).alerts == ()
    one_source = [
        share(article(source="a", story=1), 36.0),
        share(article(source="a", story=1, hours=1), 33.0),
    ]
    assert run(rs, facts=one_source).alerts == ()
    periods = [
        share(article(source="a", story=1), 36.0, period="Q3 2025"),
        share(article(source="b", story=1), 33.0, period="Q4 2025"),
    ]
    assert run(rs, facts=periods).alerts == ()
    # "up from 33% to 36%": one source telling a change
    told_change = article(source="b", story=1)
    change = [
        share(article(source="a", story=1), 36.0),
        share(told_change, 33.0),
        share(told_change, 36.0),
    ]
    assert run(rs, facts=change).alerts == ()
    # other stories: the figure may have moved between them
    stories = [share(article(source="a", story=1), 36.0), share(article(source="b", story=2), 33.0)]
    assert run(rs, facts=stories).alerts == ()
    apart = [share(article(source="a", story=1), 36.0), share(article(source="b", story=1), 33.0)]
    assert len(run(rs, facts=apart).alerts) == 1


def test_conflict_across_stories_in_a_window_when_asked() -> None:
    rs = ruleset(
        """
rules:
  - id: c
    when: {conflict: {entity: alibaba, metric: cloud_market_share, compare: window}}
"""
    )
    stories = [share(article(source="a", story=1), 36.0), share(article(source="b", story=2), 33.0)]
    (alert,) = run(rs, facts=stories).alerts
    assert "36% (a) vs 33% (b)" in alert.title


def test_conflict_compares_claims_close_in_time_either_way() -> None:
    rs = ruleset(
        """
rules:
  - id: c
    when: {conflict: {entity: alibaba, metric: ai_capex_plan, compare: window, within: 14d}}
"""
    )
    new = article(source="site", at=T0 + timedelta(days=60))
    old_late = article(source="file", at=T0)  # an old article ingested after the new one
    assert run(rs, facts=[fact(new, 66e9), fact(old_late, 53e9)]).alerts == ()
    state = run(rs, facts=[fact(new, 66e9)]).state
    assert run(rs, facts=[fact(old_late, 53e9)], state=state).alerts == ()


def test_conflict_claims_expire_after_the_window() -> None:
    rs = ruleset(
        """
rules:
  - id: c
    when: {conflict: {entity: alibaba, metric: cloud_market_share, within: 7d}}
"""
    )
    later = T0 + timedelta(days=8)
    facts = [
        share(article(source="a", story=1), 36.0),
        share(article(source="b", story=1, at=later), 30.0),
    ]
    assert run(rs, facts=facts).alerts == ()


def test_one_broken_rule_does_not_stop_the_others() -> None:
    rs = ruleset(
        """
rules:
  - id: broken
    when: {change: {entity: alibaba, metric: ai_capex_plan, by: 1%}}
  - id: fine
    when: {change: {entity: alibaba, metric: ai_capex_plan, by: 1%, first: true}}
"""
    )
    state = {("broken", "alibaba/ai_capex_plan/USD"): {"confirmed": "not a record"}}
    result = run(rs, facts=[fact(article(), 53e9)], state=state)
    assert [a.rule_id for a in result.alerts] == ["fine"]
    assert len(result.errors) == 1 and "broken" in result.errors[0]


def test_small_confirmed_moves_do_not_shift_the_baseline() -> None:
    rs = ruleset(CAPEX)
    facts = [
        fact(article(story=1), 53e9),
        fact(article(story=2), 53e9),
        fact(article(story=3, hours=1), 52e9),  # 1.9% away: below `by`, absorbed
        fact(article(story=4, hours=2), 52e9),
        fact(article(story=5, hours=3), 66e9),
        fact(article(story=6, hours=4), 66e9),
    ]
    result = run(rs, facts=facts)
    assert [(a.old_value, a.new_value) for a in result.alerts] == [(53e9, 66e9)]
    drift = [
        fact(article(story=11), 100e9),
        fact(article(story=12), 100e9),
        fact(article(story=13, hours=1), 101.5e9),
        fact(article(story=14, hours=1), 101.5e9),
        fact(article(story=15, hours=2), 102.5e9),  # 2.5% from the baseline of 100
        fact(article(story=16, hours=2), 102.5e9),
    ]
    result = run(rs, facts=drift)
    assert [(a.old_value, a.new_value) for a in result.alerts] == [(100e9, 102.5e9)]


def test_a_story_backs_the_figure_most_of_its_articles_give() -> None:
    rs = ruleset(
        """
rules:
  - id: capex
    when: {change: {entity: alibaba, metric: ai_capex_plan, by: 2%, first: true}}
    confirm: {stories: 2}
    trust: {ai: count}
"""
    )
    rewrites = [fact(article(story=1, hours=h), 53e9) for h in range(3)]
    outlier = fact(article(story=1, hours=4), 52e9)  # one rewrite of story 1 says $52B
    other = fact(article(story=2, hours=5), 52e9)
    third = fact(article(story=3, hours=6), 53e9)
    result = run(rs, facts=[*rewrites, outlier, other])
    assert result.alerts == ()  # $52B has one story behind it: story 1 backs $53B
    result = run(rs, facts=[*rewrites, outlier, other, third])
    assert [a.new_value for a in result.alerts] == [53e9]
    assert result.alerts[0].payload["confirmed_by"] == ["s1", "s3"]


def test_the_engine_never_changes_the_state_it_is_given() -> None:
    rs = ruleset(CAPEX)
    first = run(rs, facts=[fact(article(story=s), 53e9) for s in (1, 2)])
    given = roundtrip(first.state)
    before = json.dumps([[list(k), v] for k, v in sorted(given.items())], sort_keys=True)
    later = [fact(article(story=s, hours=5), 66e9) for s in (3, 4)]
    result = run(rs, facts=later, state=given)
    assert len(result.alerts) == 1
    assert json.dumps([[list(k), v] for k, v in sorted(given.items())], sort_keys=True) == before


def test_period_filter_and_per_period_series() -> None:
    rs = ruleset(
        """
rules:
  - id: q3
    when: {change: {entity: alibaba, metric: cloud_market_share, period: Q3, by: 1}}
  - id: each
    when: {change: {entity: alibaba, metric: cloud_market_share, per_period: true, by: 1}}
"""
    )
    facts = [
        share(article(hours=0), 30.0, period="Q3 2025"),
        share(article(hours=1), 40.0, period="Q4 2025"),  # another period: not Q3
        share(article(hours=2), 35.0, period="Q3 2025"),
    ]
    result = run(rs, facts=facts)
    # q3 sees 30 -> 35; each sees Q3 (30 -> 35) and Q4 (40, a first value) apart
    assert sorted((a.rule_id, a.old_value, a.new_value) for a in result.alerts) == [
        ("each", 30.0, 35.0),
        ("q3", 30.0, 35.0),
    ]


def test_min_confidence_skips_unsure_figures() -> None:
    rs = ruleset(
        """
rules:
  - id: sure
    when: {change: {entity: alibaba, metric: cloud_market_share, by: 1, min_confidence: 0.8}}
"""
    )
    facts = [share(article(hours=0), 30.0), share(article(hours=1), 40.0, confidence=0.5)]
    assert run(rs, facts=facts).alerts == ()


CAPEX_CONFLICT = """
rules:
  - id: capex-conflict
    when: {conflict: {entity: alibaba, metric: ai_capex_plan, currency: USD, tolerance: 1%}}
"""


def test_one_amount_converted_at_two_rates_is_not_a_conflict() -> None:
    rs = ruleset(CAPEX_CONFLICT)
    # Both outlets give the plan in yuan and convert it: 53 vs 52 billion dollars.
    facts = [
        fact(article(source="wire", story=1), 380e9, currency="CNY", alt=(53e9, "USD")),
        fact(article(source="markets", story=1, hours=1), 380e9, currency="CNY", alt=(52e9, "USD")),
        # the dollar figure itself, linked to the yuan it converts
        fact(article(source="daily", story=1, hours=2), 52e9, alt=(380e9, "CNY")),
    ]
    assert run(rs, facts=facts).alerts == ()


def test_a_real_disagreement_is_still_a_conflict_with_conversions() -> None:
    rs = ruleset(CAPEX_CONFLICT)
    facts = [
        # the same dollar figure converted from different yuan amounts: sources disagree
        fact(article(source="wire", story=1), 380e9, currency="CNY", alt=(53e9, "USD")),
        fact(article(source="markets", story=1, hours=1), 480e9, currency="CNY", alt=(66e9, "USD")),
        # and a dollar figure given alone, with nothing to reconcile it
        fact(article(source="daily", story=1, hours=2), 60e9),
    ]
    alerts = run(rs, facts=facts).alerts
    said = [{c["source"] for c in alert.payload["claims"]} for alert in alerts]
    assert said[0] == {"wire", "markets"}  # 380 vs 480 billion yuan: a real difference
    assert said[-1] == {"wire", "markets", "daily"}  # $60 billion alone disagrees too


def test_a_bare_amount_converted_at_a_rate_an_outlet_used_is_not_a_conflict() -> None:
    """One outlet writes "$52 billion" alone for the plan others give as RMB 380 billion
    ($53 billion): 52/380 is a rate 1.9% from 53/380, the same amount converted."""
    rs = ruleset(CAPEX_CONFLICT)
    facts = [
        fact(article(source="wire", story=1), 380e9, currency="CNY", alt=(53e9, "USD")),
        fact(article(source="markets", story=1, hours=1), 52e9, surface="$52 billion"),
    ]
    assert run(rs, facts=facts).alerts == ()


def test_a_bare_amount_far_from_every_rate_used_is_still_a_conflict() -> None:
    rs = ruleset(CAPEX_CONFLICT)
    facts = [
        fact(article(source="wire", story=1), 380e9, currency="CNY", alt=(53e9, "USD")),
        # 60/380 is 13% from the rate the wire used: another amount, not a conversion
        fact(article(source="markets", story=1, hours=1), 60e9, surface="$60 billion"),
    ]
    (alert,) = run(rs, facts=facts).alerts
    assert {c["source"] for c in alert.payload["claims"]} == {"wire", "markets"}
    # and two bare amounts with no conversion to reconcile them disagree as before
    bare = [
        fact(article(source="wire", story=1), 53e9, surface="$53 billion"),
        fact(article(source="markets", story=1, hours=1), 52e9, surface="$52 billion"),
    ]
    assert len(run(rs, facts=bare).alerts) == 1


def test_support_is_forgotten_after_the_window_to_the_microsecond() -> None:
    """Report times are compared as state text (rule_run.iso): a story exactly
    ``within`` before still counts, one a microsecond older does not."""
    rules = CAPEX.replace("confirm: {stories: 2}", "confirm: {stories: 2, within: 7d}")
    rs = ruleset(rules)
    base = [fact(article(story=1), 53e9), fact(article(story=2, hours=1), 53e9)]
    state = roundtrip(run(rs, facts=base).state)
    first = article(story=3, hours=48)
    at_edge = article(story=4, hours=48 + 7 * 24)
    kept = run(rs, facts=[fact(first, 66e9), fact(at_edge, 66e9)], state=state)
    assert [a.new_value for a in kept.alerts] == [66e9]
    past = article(story=4, hours=48 + 7 * 24)
    past = dataclasses.replace(past, sort_at=past.sort_at + timedelta(microseconds=1))
    lost = run(rs, facts=[fact(first, 66e9), fact(past, 66e9)], state=state)
    assert lost.alerts == ()


def test_state_stamps_sort_as_text_in_time_order() -> None:
    from monitor.rules.rule_run import iso

    whole = T0.replace(microsecond=0)
    times = [
        whole,
        whole + timedelta(microseconds=1),
        whole + timedelta(microseconds=999_999),
        whole + timedelta(seconds=1),
        (whole + timedelta(hours=3)).astimezone(timezone(timedelta(hours=8))),
        whole + timedelta(days=400, microseconds=500_000),
    ]
    stamps = [iso(t) for t in times]
    assert sorted(stamps) == stamps
    assert len(set(stamps)) == len(stamps)
