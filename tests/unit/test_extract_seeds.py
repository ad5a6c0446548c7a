"""The real articles in ../shared/seeds: the facts issue 5's "done when" names."""

from __future__ import annotations

import pytest

from monitor.extract import extract
from monitor.values import Extraction
from tests.unit.extract_gold import SHARED_SEEDS, load_vocabulary

pytestmark = pytest.mark.skipif(
    not SHARED_SEEDS.is_dir(),
    reason=f"the shared seed articles are not beside the project ({SHARED_SEEDS})",
)
VOCAB = load_vocabulary()


def _all() -> dict[str, Extraction]:
    return {
        p.name: extract(p.read_text(encoding="utf-8"), "", VOCAB)
        for p in sorted(SHARED_SEEDS.glob("*.txt"))
    }


def test_three_year_capex_plan_in_both_currencies() -> None:
    results = _all()
    assert len(results) >= 3
    plans = [
        f
        for r in results.values()
        for f in r.facts
        if (f.entity, f.metric) == ("alibaba", "ai_capex_plan")
    ]
    usd = [f for f in plans if f.currency == "USD" and f.value == 53e9]
    cny = [f for f in plans if f.currency == "CNY" and f.value == 380e9]
    assert usd and cny
    assert any(f.period == "next 3 years" for f in usd)
    # "$53 billion (RMB 380 billion)": one amount, two currencies, linked.
    linked = [f for f in usd if f.alt_currency == "CNY"]
    assert linked and linked[0].alt_value == 380e9
    for f in usd + cny:
        assert f.surface in f.quote
    # One article restates the plan as $52 billion: kept, for the conflict rule.
    assert any(f.value == 52e9 for f in plans)


def test_global_cloud_share_of_four_percent_and_its_peers() -> None:
    shares = {
        (f.entity, f.value, f.qualifier("scope"))
        for r in _all().values()
        for f in r.facts
        if f.metric == "cloud_market_share"
    }
    assert ("alibaba", 4.0, "global") in shares
    assert ("microsoft", 20.0, "global") in shares
    assert ("aws", 29.0, "global") in shares
    # The China share is a different series of the same metric.
    assert ("alibaba", 36.0, "china") in shares
    assert ("alibaba", 35.8, "china") in shares


def test_qwen_model_names() -> None:
    terms = {t.term for r in _all().values() for t in r.terms if t.family == "qwen_models"}
    assert {"Qwen3", "Qwen2.5-Max", "Qwen3-Next-80B-A3B", "Qwen3-Max-Preview"} <= terms
    assert not any(t.endswith(".") for t in terms)


def test_export_control_topic() -> None:
    hits = [t for r in _all().values() for t in r.topics if t.topic == "chip_export_controls"]
    assert {t.phrase.lower() for t in hits} >= {"export restrictions", "export controls"}
    assert {t.entity for t in hits} == {"alibaba"}


def test_stripped_subject_is_credited_to_alibaba_with_lower_confidence() -> None:
    results = _all()
    first = results["000_a5d52d93e4e3da4f.txt"]
    assert first.main_entity == "alibaba"
    plan = next(f for f in first.facts if f.surface == "$53 billion")
    named = next(f for f in first.facts if f.metric == "fcf_change")
    assert plan.entity == "alibaba" and plan.confidence < named.confidence
