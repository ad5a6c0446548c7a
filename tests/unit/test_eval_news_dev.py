"""The extraction targets of issue 13 on the labelled real-news dev set, and the
scoring rules of tests/eval/fact_scoring.py that those figures rest on.

The dev set is read from ../shared/corpora/news-dev at test time; these tests skip,
saying why, when it is absent.
"""

from __future__ import annotations

import pytest

from monitor.values import Extraction, Fact
from tests.eval.eval_facts import score_all
from tests.eval.fact_scoring import FileScore, entity_map, score_article, total, value_matches
from tests.eval.news_dev import Article, LabelledFact, load, missing_reason, split_by_story
from tests.unit.extract_gold import load_vocabulary

REASON = missing_reason()
needs_corpus = pytest.mark.skipif(REASON is not None, reason=REASON or "")


@pytest.fixture(scope="module")
def scores() -> dict[str, FileScore]:
    return score_all()


@needs_corpus
def test_labelled_entity_value_pairs_are_found(scores: dict[str, FileScore]) -> None:
    t = total(scores.values())
    assert t.facts >= 140, "the dev set should hold its 145 labelled facts"
    notes = [n for s in scores.values() for n in s.notes if not n.startswith("model")]
    assert t.found / t.facts >= 0.90, "\n".join(notes)


@needs_corpus
def test_no_labelled_value_is_given_to_another_company(scores: dict[str, FileScore]) -> None:
    wrong = [n for s in scores.values() for n in s.notes if n.startswith("misattributed")]
    assert total(scores.values()).misattributed == 0, "\n".join(wrong)


@needs_corpus
def test_model_names_are_found(scores: dict[str, FileScore]) -> None:
    t = total(scores.values())
    missed = [n for s in scores.values() for n in s.notes if n.startswith("model")]
    assert t.terms >= 60
    assert t.terms_found / t.terms >= 0.90, "\n".join(missed)


@needs_corpus
def test_each_half_of_the_story_split_holds_on_facts(scores: dict[str, FileScore]) -> None:
    first, second = split_by_story(load())
    assert {a.story for a in first}.isdisjoint({a.story for a in second})
    for fold in (first, second):
        t = total(scores[a.file] for a in fold)
        assert t.misattributed == 0
        assert t.found / t.facts >= 0.85


# ---------------------------------------------------------------- the scoring rules


def _fact(value: float, unit: str, **kw: object) -> Fact:
    base: dict[str, object] = {
        "entity": "alibaba", "metric": None, "value": value, "unit": unit, "surface": "x",
        "quote": "x", "span": (0, 5), "confidence": 0.9,
    }  # fmt: skip
    base.update(kw)
    return Fact(**base)  # type: ignore[arg-type]


def _label(value: float, unit: str, low: float | None = None) -> LabelledFact:
    return LabelledFact("alibaba", "m", value, unit, "quote", low)


@pytest.mark.parametrize(
    ("label", "fact", "matches"),
    [
        (_label(-17, "percent"), _fact(17.0, "percent"), True),  # the sign is not scored
        (_label(380e9, "CNY"), _fact(380e9, "money", currency="CNY"), True),
        (
            _label(52.4e9, "USD"),
            _fact(380e9, "money", currency="CNY", alt_value=52.4e9, alt_currency="USD"),
            True,
        ),
        (_label(380e9, "CNY"), _fact(380e9, "money", currency="USD"), False),
        (_label(280.2e9, "CNY"), _fact(280.15e9, "money", currency="CNY"), False),
        (_label(40, "percent", 30), _fact(30.0, "percent", value_high=40.0), True),
        (_label(40, "percent", 30), _fact(40.0, "percent"), False),  # one bound only
        (_label(0.5, "ratio"), _fact(0.5, "ratio"), True),
        (_label(87.2, "points"), _fact(87.2, "count"), False),
        (_label(3.8, "GW"), _fact(3.8, "GW"), True),
    ],
)
def test_value_matching(label: LabelledFact, fact: Fact, matches: bool) -> None:
    assert value_matches(label, fact) is matches


def test_a_value_is_found_only_at_its_quote_and_credited_by_the_vocabulary() -> None:
    text = "Amazon will spend $100 billion. Elsewhere $100 billion was mentioned."
    label = LabelledFact("amazon", "capex", 100e9, "USD", "Amazon will spend $100 billion")
    article = Article("t.txt", "t", text, "s", "amazon", (label,), ())
    ids = entity_map(load_vocabulary())  # "amazon" is a name of the entity aws
    at_quote = _fact(100e9, "money", currency="USD", entity="aws", span=(18, 30))
    elsewhere = _fact(100e9, "money", currency="USD", entity="aws", span=(42, 54))
    wrong = _fact(100e9, "money", currency="USD", entity="google", span=(18, 30))
    assert score_article(article, Extraction("aws", (at_quote,)), ids).found == 1
    assert score_article(article, Extraction("aws", (elsewhere,)), ids).found == 0
    scored = score_article(article, Extraction("aws", (wrong,)), ids)
    assert (scored.found, scored.misattributed) == (0, 1)
    nobody = _fact(100e9, "money", currency="USD", entity=None, span=(18, 30))
    scored = score_article(article, Extraction(None, (nobody,)), ids)
    assert (scored.found, scored.misattributed) == (0, 0)


def test_an_absent_corpus_is_reported_with_its_path(tmp_path: object) -> None:
    from pathlib import Path

    reason = missing_reason(Path(str(tmp_path)) / "news-dev")
    assert reason is not None and "news-dev" in reason
