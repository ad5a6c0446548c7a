"""Rule engine benchmark: loading, reloading, evaluating, and one store round per batch.

    .venv/bin/python tests/bench/bench_rules.py [--quick]

Synthetic news: C companies, each with the Tencent watch list of rules/tencent.yaml copied
for it (11 rules each); articles of 8 facts and 2 mentions, grouped 3 to a story, spread
over 60 days. Prints one plain-text table.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from monitor.app import evaluation  # noqa: E402
from monitor.models import Article, FactRow, Mention, Source, Story  # noqa: E402
from monitor.rules.engine import EvalInput, evaluate  # noqa: E402
from monitor.rules.loader import RuleSet, load_rules  # noqa: E402
from monitor.rules.reload import RuleBook  # noqa: E402
from monitor.store.db import make_engine, session_scope, upgrade  # noqa: E402
from monitor.values import (  # noqa: E402
    ArticleRef,
    Fact,
    FactRecord,
    MentionRecord,
)

CHANNELS = None  # the names notify: uses are not checked here
T0 = datetime(2026, 1, 1, tzinfo=UTC)
METRICS = [
    ("ai_capex_plan", "money", "CNY"),
    ("cloud_market_share", "percent", None),
    ("cloud_revenue_growth", "growth", None),
    ("fcf_change", "growth", None),
    ("pe_ratio", "multiple", None),
]


def timed(fn: Callable[[], Any], repeat: int = 5) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def rules_dir(tmp: Path, companies: int) -> Path:
    vocab = (ROOT / "rules" / "vocabulary.yaml").read_text(encoding="utf-8")
    extra = "".join(f"  co{i}: {{names: [Company{i}]}}\n" for i in range(companies))
    vocab = vocab.replace("entities:\n", "entities:\n" + extra, 1)
    (tmp / "vocabulary.yaml").write_text(vocab, encoding="utf-8")
    template = (ROOT / "rules" / "tencent.yaml").read_text(encoding="utf-8")
    for i in range(companies):
        text = template.replace("tencent", f"co{i}").replace("new-hunyuan-model", f"new-co{i}")
        (tmp / f"co{i}.yaml").write_text(text, encoding="utf-8")
    return tmp


def synthetic(companies: int, articles: int, seed: int = 7) -> EvalInput:
    rng = random.Random(seed)
    facts, mentions = [], []
    n = 0
    for a in range(articles):
        company = f"co{rng.randrange(companies)}"
        art = ArticleRef(
            id=a + 1,
            url=f"https://b.test/{a}",
            title=f"a{a}",
            source=f"src{rng.randrange(6)}",
            ai_generated=rng.random() < 0.8,
            sort_at=T0 + timedelta(minutes=a * 60 * 24 * 60 // articles),
            story_id=a // 3 + 1,
        )
        for _ in range(8):
            metric, unit, currency = rng.choice(METRICS)
            base = {"money": 5e10, "percent": 20.0, "growth": 15.0, "multiple": 18.0}[unit]
            value = base * rng.choice([1.0, 1.0, 1.0, 1.3, 0.8])
            quals = (("scope", "china"),) if metric == "cloud_market_share" else ()
            n += 1
            fact = Fact(
                company,
                metric,
                value,
                unit,
                f"{value:g}",
                "quote",
                (0, 1),
                0.9,
                currency=currency,
                qualifiers=quals,
            )
            facts.append(FactRecord(n, art, fact))
        n += 1
        mentions.append(
            MentionRecord(
                n, art, "term", "hunyuan_models", f"Hunyuan-{rng.randrange(400)}", "q", company
            )
        )
        n += 1
        mentions.append(
            MentionRecord(n, art, "topic", "chip_export_controls", "chip ban", "q", company)
        )
    return EvalInput(facts=tuple(facts), mentions=tuple(mentions))


def batches(batch: EvalInput, size: int) -> list[EvalInput]:
    by_article: dict[int, list[Any]] = {}
    for rec in batch.facts:
        by_article.setdefault(rec.article.id, []).append(rec)
    ids = sorted(by_article)
    out = []
    for i in range(0, len(ids), size):
        chosen = set(ids[i : i + size])
        out.append(
            EvalInput(
                facts=tuple(r for r in batch.facts if r.article.id in chosen),
                mentions=tuple(m for m in batch.mentions if m.article.id in chosen),
            )
        )
    return out


def incremental(rs: RuleSet, parts: list[EvalInput]) -> tuple[float, int, int]:
    """Per-batch evaluation with state carried through JSON, as the store holds it."""
    state: dict[Any, Any] = {}
    alerts = 0
    start = time.perf_counter()
    for part in parts:
        result = evaluate(rs, part, state, T0 + timedelta(days=61))
        for key, value in result.state.items():
            state[key] = json.loads(json.dumps(value))
        alerts += len(result.alerts)
    elapsed = time.perf_counter() - start
    size = sum(len(json.dumps(v)) for v in state.values())
    return elapsed / len(parts), alerts, size // max(1, len(state))


def store_round(rs: RuleSet, stored: int, tmp: Path) -> float:
    """run_rules for a batch of 20 new articles with ``stored`` articles already there."""
    engine = make_engine(f"sqlite:///{tmp / 'bench.db'}")
    upgrade(engine)
    rng = random.Random(3)
    with session_scope(engine) as s:
        src = Source(name="src", url="https://b.test/feed")
        s.add(src)
        s.flush()
        assert src.id is not None
        story_ids = []
        for i in range(stored // 3 + 10):
            at = T0 + timedelta(minutes=i * 20)
            story = Story(title="s", main_entity=f"co{i % 50}", first_seen_at=at, last_seen_at=at)
            s.add(story)
            story_ids.append(story)
        s.flush()
        ids = []
        for i in range(stored + 20):
            at = T0 + timedelta(minutes=i * 7)
            story = story_ids[i // 3]
            art = Article(
                source_id=src.id,
                entry_key=f"k{i}",
                url=f"https://b.test/{i}",
                title="t",
                first_seen_at=at,
                sort_at=at,
                content_hash=f"h{i}",
                ai_generated=True,
                story_id=story.id,
            )
            s.add(art)
            ids.append(art)
        s.flush()
        for art in ids:
            assert art.id is not None
            for _ in range(4):
                metric, unit, currency = rng.choice(METRICS)
                s.add(
                    FactRow(
                        article_id=art.id,
                        story_id=art.story_id,
                        entity=f"co{art.id % 50}",
                        metric=metric,
                        value=rng.choice([1.0, 1.3]) * 20,
                        unit=unit,
                        currency=currency,
                        surface="x",
                        quote="q",
                        span_start=0,
                        span_end=1,
                        confidence=0.9,
                        created_at=art.first_seen_at,
                        qualifiers={},
                    )
                )
            s.add(
                Mention(
                    article_id=art.id,
                    kind="topic",
                    name="chip_export_controls",
                    value="chip ban",
                    entity=f"co{art.id % 50}",
                    quote="q",
                    span_start=0,
                    span_end=1,
                )
            )
    new_ids = [a.id for a in ids[-20:] if a.id is not None]
    now = T0 + timedelta(days=400)

    def one() -> None:
        with session_scope(engine) as s:
            evaluation.run_rules(s, rs, article_ids=new_ids, now=now)

    one()  # the first round writes the state rows; the timed rounds are steady state
    result = timed(one, repeat=5)
    engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    args = parser.parse_args()
    companies = 10 if args.quick else 20
    articles = 1_000 if args.quick else 3_000
    stored = 2_000 if args.quick else 5_000
    rows: list[tuple[str, str]] = []
    shipped = ROOT / "rules"
    rows.append(
        (
            "load shipped rules/ (ms)",
            f"{timed(lambda: load_rules(shipped, channels=CHANNELS)) * 1e3:.1f}",
        )
    )
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = rules_dir(Path(tmp_name), companies)
        rs = load_rules(tmp, channels=CHANNELS)
        assert not rs.problems, rs.problems[:3]
        rows.append(
            (
                f"load {len(rs.rules)} rules in {companies + 1} files (ms)",
                f"{timed(lambda: load_rules(tmp, channels=CHANNELS), 3) * 1e3:.1f}",
            )
        )
        book = RuleBook(tmp, channels=CHANNELS)
        rows.append(
            ("reload check, nothing changed (us)", f"{timed(book.maybe_reload, 50) * 1e6:.0f}")
        )
        target = tmp / "co0.yaml"
        original = target.read_text(encoding="utf-8")

        def edit() -> None:
            target.write_text(original + f"\n# {time.perf_counter_ns()}\n", encoding="utf-8")
            assert book.maybe_reload().changed

        rows.append(("reload after an edit (ms)", f"{timed(edit, 3) * 1e3:.1f}"))
        batch = synthetic(companies, articles)
        n_facts = len(batch.facts)
        full = timed(lambda: evaluate(rs, batch, {}, T0 + timedelta(days=61)), 1)
        rows.append(
            (
                f"replay {articles} articles, {n_facts} facts, {len(rs.rules)} rules (s)",
                f"{full:.2f}",
            )
        )
        rows.append(("replay throughput (facts/s)", f"{n_facts / full:,.0f}"))
        per_batch, alerts, state_size = incremental(rs, batches(batch, 20))
        rows.append(
            ("evaluate one batch of 20 articles, state via JSON (ms)", f"{per_batch * 1e3:.2f}")
        )
        rows.append(("alerts raised over the run", f"{alerts}"))
        rows.append(("state row size, mean (bytes)", f"{state_size}"))
        rows.append(
            (
                f"store round (gather+state+alerts), {stored} stored, SQLite (ms)",
                f"{store_round(rs, stored, Path(tmp_name)) * 1e3:.1f}",
            )
        )
    width = max(len(k) for k, _ in rows)
    print(f"{'measure':<{width}}  value")
    print(f"{'-' * width}  -----")
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
