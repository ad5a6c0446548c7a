"""The story targets of issue 13 through the real pipeline (``tests/eval/eval_stories.py``
prints the same figures).

* The real-news dev set, dated: pair precision >= 0.95 and recall >= 0.90; each half of
  the two-fold split by story, placed on its own, holds too. Read from
  ``../shared/corpora/news-dev`` at test time; skipped, saying why, when it is absent.
* The generated corpus of >= 1,000 distinct events sharing boilerplate: pair precision
  >= 0.99 and no story holding two companies.
"""

from __future__ import annotations

import pytest

from tests.eval import story_corpus
from tests.eval.eval_stories import fold_items
from tests.eval.news_dev import missing_reason
from tests.eval.story_scoring import Item, Score, dev_items, ingest

REASON = missing_reason()
needs_corpus = pytest.mark.skipif(REASON is not None, reason=REASON or "")


@pytest.fixture(scope="module")
def dev() -> list[Item]:
    return dev_items()


@needs_corpus
def test_dev_set_dated_meets_the_targets(dev: list[Item]) -> None:
    s = ingest(dev, dated=True)
    assert s.articles == 40 and s.events == 19
    assert s.precision >= 0.95, (s.false_pairs, s.story_of)
    assert s.recall >= 0.90, (s.missed_pairs, s.story_of)
    assert not s.mixed


@needs_corpus
@pytest.mark.parametrize("which", [0, 1], ids=["fold A", "fold B"])
def test_each_fold_alone_holds(dev: list[Item], which: int) -> None:
    """Placed on its own (half the corpus to learn word frequencies from), each fold
    keeps precision and nearly the whole set's recall."""
    fold = fold_items(dev, which)
    other = {it.event for it in fold_items(dev, 1 - which)}
    assert fold and other.isdisjoint(it.event for it in fold)
    s = ingest(fold, dated=True)
    assert s.precision >= 0.95
    assert s.recall >= 0.85


@needs_corpus
def test_dev_set_undated_keeps_companies_apart(dev: list[Item]) -> None:
    """Without dates, same-company events of other weeks look alike (reported, no target);
    two companies never share a story."""
    files = dev_items(as_files=True)
    s = ingest(sorted(files, key=lambda it: it.key), dated=False)
    assert not s.mixed
    assert s.recall >= 0.6


@pytest.fixture(scope="module")
def generated() -> tuple[list[Item], Score]:
    items = story_corpus.generate()
    return items, ingest(items, dated=True)


def test_the_generated_corpus_is_what_it_claims() -> None:
    items = story_corpus.generate()
    assert items == story_corpus.generate()  # deterministic
    assert len({it.event for it in items}) >= 1000
    assert len({it.company for it in items}) >= 16
    told: dict[str, set[str]] = {}
    for it in items:
        told.setdefault(it.event, set()).add(it.source)
    assert sum(len(s) > 1 for s in told.values()) >= 200  # events told by several outlets
    text = " ".join(it.text for it in items[:200])
    for boilerplate in ("Analysts remain split", "free to your inbox", " 10% ", "$1 billion"):
        assert boilerplate in text


def test_generated_distinct_events_are_not_chained(generated: tuple[list[Item], Score]) -> None:
    items, s = generated
    assert s.precision >= 0.99, s.false_pairs
    assert not s.mixed
    assert s.recall >= 0.85
    restated = [it for it in items if "-restated" in it.key]
    linked = [
        it
        for it in restated
        if s.levels[it.key] == "restatement"
        and s.story_of[it.key] == s.story_of[f"{it.event}-wire"]
    ]
    assert len(linked) >= 0.6 * len(restated)
