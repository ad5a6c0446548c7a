"""Articles per second through the skeleton pipeline (store, dedup, extract, rules).

A generated corpus of 2,000 articles (tests/bench/corpus.py) is ingested in batches of 100
into a fresh SQLite file with the shipped rules. The peer row is the store alone (insert
only), measured in the same run, so the cost of the analysis stages shows by difference.
Usage: python tests/bench/bench_pipeline.py [--quick]
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from monitor import dedup
from monitor.pipeline import Pipeline
from monitor.rules.loader import load_rules
from monitor.settings import Settings
from monitor.store import articles
from monitor.store import sources as sources_store
from monitor.store.db import make_engine, session_scope, upgrade
from tests.bench.corpus import ROOT, generate
from tests.conftest import CHANNELS


def main() -> None:
    n = 400 if "--quick" in sys.argv else 2000
    corpus = generate(n)
    rules = load_rules(ROOT / "rules", channels=CHANNELS)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/store.db")
        upgrade(engine)
        t0 = time.perf_counter()
        with session_scope(engine) as s:
            src = sources_store.ensure_source(s, "bench", "file://bench")
            assert src.id is not None
            for item in corpus:
                articles.insert_article(
                    s,
                    src.id,
                    item,
                    content_hash=dedup.content_hash(item.text),
                    now=datetime.now(UTC),
                )
        store_only = time.perf_counter() - t0
        rows.append(("store only (insert + content hash)", n, store_only))

        engine = make_engine(f"sqlite:///{tmp}/pipeline.db")
        pipe = Pipeline(Settings(), engine, rules)
        upgrade(engine)
        t0 = time.perf_counter()
        for i in range(0, n, 100):
            pipe.ingest(corpus[i : i + 100], source="bench")
        rows.append(("skeleton pipeline (store+dedup+extract+rules)", n, time.perf_counter() - t0))
    print(f"{'path':<48} {'articles':>8} {'seconds':>8} {'articles/s':>11}")
    for name, count, secs in rows:
        print(f"{name:<48} {count:>8} {secs:>8.2f} {count / secs:>11.0f}")


if __name__ == "__main__":
    main()
