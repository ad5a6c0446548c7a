"""A deterministic corpus of articles for benchmarks, generated from the bundled seeds/."""

from __future__ import annotations

import random
import re
from pathlib import Path

from monitor.fetch.feeds import parse_feed
from monitor.fetch.local import read_local
from monitor.values import FetchedArticle

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"

COMPANIES = [
    "Alibaba",
    "Tencent",
    "Baidu",
    "ByteDance",
    "Huawei",
    "Microsoft",
    "Amazon",
    "Google",
    "Nvidia",
    "Tesla",
    "Meta",
    "Apple",
]


def seed_articles() -> list[FetchedArticle]:
    items: list[FetchedArticle] = []
    for path in sorted((SEEDS / "feeds").glob("*")):
        items.extend(parse_feed(path.read_bytes(), {}, path.as_uri()).articles)
    for path in sorted((SEEDS / "site" / "articles").glob("*.html")):
        items.extend(read_local(path))
    return items


def generate(n: int, *, seed: int = 7) -> list[FetchedArticle]:
    """``n`` distinct articles: seed texts with other companies, numbers and paragraph order."""
    rng = random.Random(seed)
    base = seed_articles()
    out = []
    for i in range(n):
        src = base[i % len(base)]
        who = rng.choice(COMPANIES)
        text = re.sub(r"\bAlibaba\b", who, src.text)
        text = re.sub(
            r"\d+(?:\.\d+)?",
            lambda m: str(round(float(m.group()) * rng.uniform(0.5, 1.5), 1)),
            text,
        )
        paras = text.split("\n\n")
        rng.shuffle(paras)
        out.append(
            FetchedArticle(
                url=f"https://bench.test/{i}",
                guid=f"bench-{i}",
                title=f"{who}: {src.title} ({i})",
                text="\n\n".join(paras),
                published_at=src.published_at,
                ai_generated=src.ai_generated,
            )
        )
    return out
