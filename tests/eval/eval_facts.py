"""Fact attribution and model names on the labelled real-news dev set.

    .venv/bin/python tests/eval/eval_facts.py [-v]

Prints one row per file and a total: labelled (entity, value) pairs found,
misattributions (a labelled value found but credited to another company), model
names found. Then the two-fold split by story (stories sorted by id, alternately to
fold A and fold B): a mechanism tuned while looking at one fold must hold on the
other, so both folds' figures are printed. ``-v`` lists every miss. The matching is
defined in ``tests/eval/fact_scoring.py``. Skips, saying why, when the corpus is
absent.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from monitor.extract import extract  # noqa: E402
from monitor.rules.loader import load_rules  # noqa: E402
from monitor.values import Vocabulary  # noqa: E402
from tests.eval.fact_scoring import FileScore, entity_map, score_article, total  # noqa: E402
from tests.eval.news_dev import NEWS_DEV, load, missing_reason, split_by_story  # noqa: E402

VOCABULARY = ROOT / "rules" / "vocabulary.yaml"


def shipped_vocabulary() -> Vocabulary:
    return load_rules(VOCABULARY, channels=()).vocabulary


def score_all(corpus: Path = NEWS_DEV) -> dict[str, FileScore]:
    vocab = shipped_vocabulary()
    ids = entity_map(vocab)
    return {a.file: score_article(a, extract(a.text, a.title, vocab), ids) for a in load(corpus)}


def _pct(a: int, b: int) -> str:
    return f"{a:>4}/{b:<4}{(100.0 * a / b if b else 100.0):6.1f}%"


def row(s: FileScore) -> str:
    return (
        f"{s.file[:44]:<45}{_pct(s.found, s.facts)}  {s.misattributed:>6}  "
        f"{_pct(s.terms_found, s.terms)}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="list every miss")
    args = parser.parse_args()
    reason = missing_reason()
    if reason is not None:
        print(f"eval_facts: skipped: {reason}")
        return 0
    scores = score_all()
    print(f"{'file':<45}{'(entity, value) found':<21}  {'misatt':>6}  {'model names found':<17}")
    for s in scores.values():
        print(row(s))
        if args.verbose:
            for note in s.notes:
                print(f"      {note}")
    print(row(total(scores.values())))
    first, second = split_by_story(load())
    print("\ntwo-fold split by story (stories sorted by id, alternate halves)")
    for name, fold in (("fold A", first), ("fold B", second)):
        stories = len({a.story for a in fold})
        label = f"{name}: {stories} stories, {len(fold)} articles"
        print(row(total((scores[a.file] for a in fold), label)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
