"""The whole pipeline per core: store, extract, dedup, facts, rules, alerts (issue 16).

Two corpora go through ``Pipeline.ingest`` in batches of 100 into a fresh SQLite file
with the shipped rules:
* realistic (``tests/bench/news_corpus.py``): ~60% distinct events, ~25% syndicated
  copies, ~15% rewrites, 50 companies, 3-4 KB articles;
* worst case (``tests/bench/corpus.py``): every article a near-copy of a few seed texts
  with other names and numbers, so every one reaches the costliest dedup paths.

For each: CPU time per article by stage (the batch flow's own clocks) and what it is made
of (``tests/bench/meter.py``): the stages' own work (the pure functions of extraction,
dedup and the rule engine), the SQL driver, statements per article and everything else
(the time spent outside the stages' own work). Peers measured in the same run: extraction
alone over the same texts, and the store alone (inserting the rows, no analysis).
Then (unless ``--quick`` or ``--no-scale``) the cost per article of the realistic stream
on top of 10k, 100k and 1M stored articles: a real history of 10k articles copied back in
time (``tests/bench/history.py``; ~15 minutes and ~16 GB of temporary disk).

Targets (issue 16, point 3): realistic >= 1,000 articles/s per core, worst case >= 400,
extraction >= 1,500, outside the stages' own work < 30% of the total, the cost at 1M
stored within 25% of the cost at 10k.
Usage: python tests/bench/bench_pipeline.py [--quick] [--no-scale] [--scale-only]
       [--articles N] [--history N]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from monitor import dedup
from monitor.app.stage_times import STAGES, StageTimes
from monitor.extract import extract
from monitor.pipeline import Pipeline
from monitor.rules.loader import RuleSet, load_rules
from monitor.settings import Settings
from monitor.store import articles
from monitor.store import sources as sources_store
from monitor.store.db import make_engine, session_scope, upgrade
from monitor.values import FetchedArticle
from tests.bench import corpus, history, news_corpus
from tests.bench.meter import metered
from tests.conftest import CHANNELS

BATCH = 100
WARM = 200  # articles ingested before measuring: caches, the rule state, first stories


class Run:
    def __init__(self, name: str, n: int) -> None:
        self.name, self.n = name, n
        self.cpu = 0.0
        self.stages = StageTimes()
        self.own: dict[str, float] = {}
        self.statements = 0
        self.gc = 0.0

    def per(self, seconds: float) -> float:
        return seconds / self.n * 1e6  # microseconds per article

    @property
    def rate(self) -> float:
        return self.n / self.cpu

    @property
    def outside(self) -> float:
        own = sum(self.own.get(k, 0.0) for k in ("extract", "dedup", "rules"))
        return 1 - own / self.cpu


def run_pipeline(
    name: str, items: Sequence[FetchedArticle], rules: RuleSet, db: str, warm: int = WARM
) -> Run:
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    pipe = Pipeline(Settings(), engine, rules)
    for i in range(0, min(warm, len(items)), BATCH):
        pipe.ingest(items[i : i + BATCH], source=f"src{i // BATCH % 5}")
    todo = items[warm:]
    run = Run(name, len(todo))
    with metered(engine) as meter:
        started = time.process_time()
        for i in range(0, len(todo), BATCH):
            report = pipe.ingest(todo[i : i + BATCH], source=f"src{i // BATCH % 5}")
            run.stages.add(report.stages)
        run.cpu = time.process_time() - started
        run.own, run.statements, run.gc = dict(meter.own), meter.statements, meter.gc
    engine.dispose()
    return run


def store_only(items: Sequence[FetchedArticle], db: str) -> float:
    """CPU seconds to insert the article rows alone (content hash included)."""
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    started = time.process_time()
    for i in range(0, len(items), BATCH):
        with session_scope(engine) as s:
            src = sources_store.ensure_source(s, "bench", "file://bench")
            assert src.id is not None
            part = items[i : i + BATCH]
            articles.insert_articles(
                s, src.id, [(it, dedup.content_hash(it.text)) for it in part], now=NOW
            )
    spent = time.process_time() - started
    engine.dispose()
    return spent


def extraction_only(items: Sequence[FetchedArticle], rules: RuleSet) -> float:
    vocab = rules.vocabulary
    started = time.process_time()
    for it in items:
        extract(it.text, it.title, vocab)
    return time.process_time() - started


NOW = news_corpus.START


def profile_table(runs: Sequence[Run]) -> None:
    print(f"\nCPU microseconds per article, by stage ({BATCH} articles a batch)")
    head = f"{'':<40}" + "".join(f"{r.name:>16}" for r in runs)
    print(head)
    for stage in STAGES:
        print(
            f"{'  ' + stage:<40}"
            + "".join(f"{r.per(r.stages.seconds.get(stage, 0.0)):>16.0f}" for r in runs)
        )
    print(
        f"{'  commit, session, between stages':<40}"
        + "".join(f"{r.per(r.cpu - sum(r.stages.seconds.values())):>16.0f}" for r in runs)
    )
    print(f"{'whole pipeline':<40}" + "".join(f"{r.per(r.cpu):>16.0f}" for r in runs))
    print("of which")
    for key, label in (
        ("extract", "extraction's own work"),
        ("dedup", "dedup's own work (pure functions)"),
        ("rules", "rule engine's own work"),
        ("sql", "SQL driver (statements' execution)"),
    ):
        print(f"{'  ' + label:<40}" + "".join(f"{r.per(r.own.get(key, 0.0)):>16.0f}" for r in runs))
    print(f"{'  outside the stages own work':<40}" + "".join(f"{r.outside:>15.0%} " for r in runs))
    print(
        f"{'garbage collection (within the above)':<40}"
        + "".join(f"{r.per(r.gc):>16.0f}" for r in runs)
    )
    print(
        f"{'SQL statements per article':<40}"
        + "".join(f"{r.statements / r.n:>16.1f}" for r in runs)
    )
    print(f"{'articles per CPU-second':<40}" + "".join(f"{r.rate:>16.0f}" for r in runs))


HISTORY = 10_000  # real articles behind every size of --scale (--history)


def scale(n: int, rules: RuleSet, tmp: str, history_n: int = HISTORY) -> list[Run]:
    """The realistic stream's cost per article on top of 10k, 100k and 1M stored: a real
    history of ``HISTORY`` articles, copied back in time (``tests/bench/history.py``), then
    the next ``n`` articles of the same stream."""
    items = news_corpus.generate(history_n + WARM + n)
    base = f"{tmp}/history.db"
    print(f"scale: ingesting {history_n:,} articles of history ...", flush=True)
    run_pipeline("history", items[:history_n], rules, base, warm=0)
    runs = []
    for size in (history_n, 10 * history_n, 100 * history_n):
        db = f"{tmp}/scale-{size}.db"
        shutil.copyfile(base, db)
        started = time.monotonic()
        stored = history.clone(db, size // history_n - 1)
        print(f"scale: {stored:,} stored ({time.monotonic() - started:.0f} s to copy)", flush=True)
        runs.append(run_pipeline(f"{stored:,} stored", items[history_n:], rules, db))
        Path(db).unlink()
    return runs


def scale_table(runs: Sequence[Run]) -> bool:
    print("\nwhole pipeline on top of a stored history (realistic stream)")
    print(f"{'':<40}{'us/article':>12}{'art/s':>10}{'vs first':>10}{'SQL/article':>13}")
    first = runs[0].per(runs[0].cpu)
    for r in runs:
        cost = r.per(r.cpu)
        print(
            f"{'  ' + r.name:<40}{cost:>12.0f}{r.rate:>10.0f}{cost / first - 1:>+10.0%}"
            f"{r.statements / r.n:>13.1f}"
        )
    return runs[-1].per(runs[-1].cpu) <= 1.25 * first


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="600 articles a corpus")
    parser.add_argument("--articles", type=int, default=0)
    parser.add_argument(
        "--no-scale", action="store_true", help="skip 10k / 100k / 1M stored (~15 min, ~16 GB)"
    )
    parser.add_argument("--scale-only", action="store_true", help="only the --scale part")
    parser.add_argument("--history", type=int, default=HISTORY, help="real articles of --scale")
    args = parser.parse_args()
    if args.scale_only:
        n = args.articles or 1000
        with tempfile.TemporaryDirectory() as tmp:
            rules = load_rules(corpus.ROOT / "rules", channels=CHANNELS)
            scale_runs = scale(n, rules, tmp, args.history)
        met = scale_table(scale_runs)
        print(f"\n  cost at 1M stored within 25% of 10k: {'met' if met else 'MISSED'}")
        return
    n = args.articles or (600 if args.quick else 3000)
    rules = load_rules(corpus.ROOT / "rules", channels=CHANNELS)
    realistic = news_corpus.generate(n + WARM)
    worst = corpus.generate(n + WARM)
    with tempfile.TemporaryDirectory() as tmp:
        runs = [
            run_pipeline("realistic", realistic, rules, f"{tmp}/a.db"),
            run_pipeline("worst case", worst, rules, f"{tmp}/b.db"),
        ]
        peers = {
            "extraction alone, realistic": n / extraction_only(realistic[WARM:], rules),
            "extraction alone, worst case": n / extraction_only(worst[WARM:], rules),
            "store alone (rows only), realistic": n / store_only(realistic[WARM:], f"{tmp}/c.db"),
        }
        with_scale = not (args.quick or args.no_scale)
        scale_runs = scale(min(n, 1000), rules, tmp, args.history) if with_scale else []
    profile_table(runs)
    print("\npeers, same run                              articles/s per core")
    for name, rate in peers.items():
        print(f"  {name:<44}{rate:>10.0f}")
    real, bad = runs
    targets = [
        ("whole pipeline, realistic", real.rate, ">= 1000", real.rate >= 1000),
        ("whole pipeline, worst case", bad.rate, ">= 400", bad.rate >= 400),
        (
            "extraction, realistic",
            peers["extraction alone, realistic"],
            ">= 1500",
            peers["extraction alone, realistic"] >= 1500,
        ),
        (
            "outside the stages' own work, realistic",
            real.outside * 100,
            "< 30%",
            real.outside < 0.3,
        ),
    ]
    if not scale_runs:
        print("\n(the cost at 10k / 100k / 1M stored: run without --quick, or --scale-only)")
    else:
        met = scale_table(scale_runs)
        first, last = scale_runs[0], scale_runs[-1]
        growth = last.per(last.cpu) / first.per(first.cpu) - 1
        targets.append(("cost at 1M stored vs 10k", growth * 100, "<= +25%", met))
    print("\ntargets")
    for name, value, target, met in targets:
        print(f"  {name:<44}{value:>10.0f} {target:>8}  {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
