"""The labelled real-news development set, read from ``../shared/corpora/news-dev``.

The texts are other outlets' words: they are read here at run time and never copied
into the project. Each file holds a title line, a blank line, then the body;
``labels.json`` gives, per file, the story, the main company, the labelled facts and
the model names (see the corpus README).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NEWS_DEV = ROOT.parent / "shared" / "corpora" / "news-dev"


@dataclass(frozen=True, slots=True)
class LabelledFact:
    entity: str  # the company the figure belongs to, a lower-case id
    metric: str
    value: float  # base units; the upper bound of a range
    unit: str  # percent | points | ratio | count | a currency code (CNY, USD) | others
    quote: str  # an exact substring of the file
    value_low: float | None = None  # the lower bound of a range


@dataclass(frozen=True, slots=True)
class Article:
    file: str
    title: str
    text: str  # the body, as given to the extractor
    story: str
    company: str
    facts: tuple[LabelledFact, ...]
    terms: tuple[str, ...]  # model names as spelled in the file


def missing_reason(path: Path = NEWS_DEV) -> str | None:
    """Why the set cannot be read, or None when it can."""
    if not (path / "labels.json").is_file():
        return f"the news-dev corpus is absent ({path}/labels.json not found)"
    return None


def load(path: Path = NEWS_DEV) -> list[Article]:
    labels = json.loads((path / "labels.json").read_text(encoding="utf-8"))
    out: list[Article] = []
    for entry in labels:
        raw = (path / entry["file"]).read_text(encoding="utf-8")
        title, _, body = raw.partition("\n")
        facts = tuple(
            LabelledFact(
                f["entity"],
                f["metric"],
                float(f["value"]),
                f["unit"],
                f["quote"],
                None if f.get("value_low") is None else float(f["value_low"]),
            )
            for f in entry["facts"]
        )
        out.append(
            Article(
                entry["file"],
                title.strip(),
                body.lstrip("\n"),
                entry["story"],
                entry["company"],
                facts,
                tuple(dict.fromkeys(entry.get("terms") or ())),
            )
        )
    return out


def split_by_story(articles: list[Article]) -> tuple[list[Article], list[Article]]:
    """Two folds: stories sorted by id, alternately to the first and the second half.

    Every article of a story lands in the same half, so a mechanism tuned on the
    wording of one outlet's report cannot be measured on another outlet's report of
    the same event.
    """
    stories = sorted({a.story for a in articles})
    first = set(stories[0::2])
    return [a for a in articles if a.story in first], [a for a in articles if a.story not in first]
