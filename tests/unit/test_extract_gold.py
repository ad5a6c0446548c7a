"""Precision and recall of the extractor over the annotated gold set (issue 5, point 7)."""

from __future__ import annotations

import pytest

from monitor.extract import extract
from tests.unit.extract_gold import (
    DEMO_EXPECTED,
    DEMO_SEEDS,
    GOLD,
    Triple,
    demo_documents,
    load_vocabulary,
    triples,
)

VOCAB = load_vocabulary()


def _score(
    pairs: list[tuple[str, set[Triple], frozenset[Triple]]],
) -> tuple[float, float, list[str]]:
    tp = fp = fn = 0
    misses: list[str] = []
    for name, got, want in pairs:
        tp += len(got & want)
        fp += len(got - want)
        fn += len(want - got)
        for t in sorted(got - want, key=str):
            misses.append(f"{name}: unexpected {t}")
        for t in sorted(want - got, key=str):
            misses.append(f"{name}: missing {t}")
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, misses


def test_gold_sentences_precision_and_recall() -> None:
    pairs = [(c.name, triples(extract(c.text, c.title, VOCAB)), c.expected) for c in GOLD]
    precision, recall, misses = _score(pairs)
    assert sum(len(c.expected) for c in GOLD) >= 60, "the gold set must stay substantial"
    assert precision >= 0.90, "\n".join(misses)
    assert recall >= 0.90, "\n".join(misses)


@pytest.mark.skipif(not (DEMO_SEEDS / "feeds").is_dir(), reason="demo corpus seeds/ is absent")
def test_demo_corpus_precision_and_recall() -> None:
    pairs = []
    for title, body in demo_documents():
        keys = [k for k in DEMO_EXPECTED if k in title]
        assert len(keys) == 1, f"no single gold entry for demo document {title!r}"
        pairs.append((keys[0], triples(extract(body, title, VOCAB)), DEMO_EXPECTED[keys[0]]))
    assert len(pairs) == 15
    precision, recall, misses = _score(pairs)
    assert precision >= 0.90, "\n".join(misses)
    assert recall >= 0.90, "\n".join(misses)
