"""What a long-running story costs each article that joins it.

Copies of one seed article (three words edited in each, so that none is an exact copy)
go through ``Pipeline.ingest`` in batches of 100 into a fresh SQLite file, and the CPU
time of each stage is printed for batches as the story grows. Every copy restates the
story's figures: the facts stage read all of them for each joining article until it
compared with the first fact of each kind alone (migration 0015), 4.8 ms an article at
2,500 members against 0.1 ms. The dedup stage looks at a bounded number of candidates
(``MAX_CANDIDATES`` newest copies), so it levels off.

    python tests/bench/bench_story_growth.py [--members 2500]
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from monitor.pipeline import Pipeline  # noqa: E402
from monitor.rules.loader import load_rules  # noqa: E402
from monitor.settings import Settings  # noqa: E402
from monitor.store.db import make_engine, upgrade  # noqa: E402
from monitor.values import FetchedArticle  # noqa: E402
from tests.bench import corpus  # noqa: E402
from tests.conftest import CHANNELS  # noqa: E402

BATCH = 100
STAGES = ("store", "extract", "dedup", "facts", "rules")


def copies(n: int) -> list[FetchedArticle]:
    base = corpus.seed_articles()[0]
    rng = random.Random(3)
    words = base.text.split(" ")
    out = []
    for i in range(n):
        edited = list(words)
        for _ in range(3):
            j = rng.randrange(len(edited))
            edited[j] += "s"
        out.append(
            dataclasses.replace(
                base, url=f"https://b.test/{i}", guid=f"g{i}", text=" ".join(edited)
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=2500, help="articles in the story")
    parser.add_argument("--quick", action="store_true", help="1,000 members")
    args = parser.parse_args()
    members = 1000 if args.quick else args.members
    rules = load_rules(corpus.ROOT / "rules", channels=CHANNELS)
    items = copies(members)
    print(f"one story of {members:,} copies, {BATCH} a batch: CPU ms a batch, by stage")
    print(f"{'members before':>15}" + "".join(f"{s:>10}" for s in STAGES))
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/s.db")
        upgrade(engine)
        pipe = Pipeline(Settings(), engine, rules)
        shown = {0, 500, 1000, 2000} | {members - BATCH}
        for i in range(0, members, BATCH):
            report = pipe.ingest(items[i : i + BATCH], source="copies")
            if i in shown:
                spent = report.stages.seconds
                print(f"{i:>15,}" + "".join(f"{spent.get(s, 0.0) * 1e3:>10.0f}" for s in STAGES))
        engine.dispose()


if __name__ == "__main__":
    main()
