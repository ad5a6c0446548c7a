"""Story grouping through the real pipeline, scored by pairs against labelled events.

A corpus (the real-news dev set, or one of the project's generated corpora) is ingested
through ``monitor.pipeline.Pipeline.ingest`` into a temporary SQLite file with the shipped
rules, one article at a time in order of publication (or all at once, undated, as
``monitor ingest FILE...`` does), and the stories it ends in are compared with the labels:
pair precision and recall (every pair of articles that share a story, or should), and the
stories that hold articles of two labelled companies.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

from monitor.pipeline import Pipeline
from monitor.rules.loader import RuleSet, load_rules
from monitor.settings import Settings
from monitor.store.db import make_engine, session_scope, upgrade
from monitor.values import FetchedArticle

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "monitor" / "bundled" / "rules"


@dataclass(frozen=True, slots=True)
class Item:
    """One article to ingest, with its labels."""

    key: str
    title: str
    text: str
    event: str  # the labelled event: articles with the same one belong to one story
    company: str
    published: datetime | None
    source: str = "eval"


@dataclass
class Score:
    articles: int = 0
    events: int = 0
    stories: int = 0
    precision: float = 1.0
    recall: float = 1.0
    false_pairs: int = 0
    missed_pairs: int = 0
    mixed: list[int] = field(default_factory=list)  # stories holding two labelled companies
    story_of: dict[str, int] = field(default_factory=dict)
    levels: dict[str, str] = field(default_factory=dict)


def _channels() -> frozenset[str]:
    from tests.conftest import CHANNELS

    return CHANNELS


def shipped_rules() -> RuleSet:
    return load_rules(RULES, channels=_channels())


def ingest(items: Sequence[Item], *, dated: bool = True, rules: RuleSet | None = None) -> Score:
    """Ingest ``items`` into a fresh database and score the stories they end in.

    ``dated``: one ingest per article, in order of publication, each with its date. Else
    one ingest of them all in the order given, undated, at one moment.
    """
    rules = rules or shipped_rules()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/eval.db")
        upgrade(engine)
        now = datetime(2027, 1, 1, tzinfo=UTC)
        clock = [now]
        pipe = Pipeline(Settings(), engine, rules, clock=lambda: clock[0])
        fetched = {
            it.key: FetchedArticle(
                url=url_of(it.key),
                guid=it.key,
                title=it.title,
                text=it.text,
                published_at=it.published if dated else None,
            )
            for it in items
        }
        if dated:
            ordered = sorted(items, key=lambda it: (it.published or now, it.key))
            for it in ordered:
                # the clock runs with the news: an article is first seen when published
                clock[0] = (it.published or now) + timedelta(hours=1)
                pipe.ingest([fetched[it.key]], source=it.source)
        else:
            by_source: dict[str, list[FetchedArticle]] = {}
            for it in items:
                by_source.setdefault(it.source, []).append(fetched[it.key])
            for source, batch in by_source.items():
                pipe.ingest(batch, source=source)
        with session_scope(engine) as s:
            rows = s.execute(sa.text("SELECT url, story_id, join_reason FROM article")).all()
        engine.dispose()
    key_of = {url_of(it.key): it.key for it in items}
    story = {key_of[str(url)]: int(sid) for url, sid, _ in rows}
    levels = {key_of[str(url)]: _level(why) for url, _, why in rows}
    return score(items, story, levels)


def url_of(key: str) -> str:
    return f"https://eval.test/{quote(key, safe='')}"


def _level(why: object) -> str:
    if not isinstance(why, dict):
        try:
            why = json.loads(str(why))
        except ValueError:
            return "?"
    return str(why.get("level", "?")) if isinstance(why, dict) else "?"


def score(items: Sequence[Item], story_of: dict[str, int], levels: dict[str, str]) -> Score:
    tp = fp = fn = 0
    keys = [it.key for it in items]
    for i, a in enumerate(items):
        for b in items[i + 1 :]:
            same_true = a.event == b.event
            same_pred = story_of[a.key] == story_of[b.key]
            tp += same_true and same_pred
            fp += same_pred and not same_true
            fn += same_true and not same_pred
    companies: dict[int, set[str]] = {}
    for it in items:
        companies.setdefault(story_of[it.key], set()).add(it.company)
    return Score(
        articles=len(items),
        events=len({it.event for it in items}),
        stories=len({story_of[k] for k in keys}),
        precision=tp / (tp + fp) if tp + fp else 1.0,
        recall=tp / (tp + fn) if tp + fn else 1.0,
        false_pairs=fp,
        missed_pairs=fn,
        mixed=sorted(sid for sid, cs in companies.items() if len(cs) > 1),
        story_of={k: story_of[k] for k in keys},
        levels={k: levels.get(k, "?") for k in keys},
    )


# ------------------------------------------------------------------ the real-news dev set

_DAY = re.compile(r"(\d{4})-(\d{2})(?:-(\d{2}))?")


def labelled_date(date: str | None, date_source: str) -> datetime | None:
    """The labelled publication date: ``date``, else the approximate one the label's
    ``date_source`` gives ("unknown (about 2025-01-13)"); a month alone is its 15th."""
    for text in (date or "", date_source):
        m = _DAY.search(text)
        if m:
            day = int(m.group(3) or 15)
            return datetime(int(m.group(1)), int(m.group(2)), day, 12, tzinfo=UTC)
    return None


def dev_items(path: Path | None = None, *, as_files: bool = False) -> list[Item]:
    """The dev set as items, with its labelled dates (see the corpus README).

    ``as_files``: title and text as ``monitor ingest FILE`` reads each file (the local
    reader's cleaning), instead of the first line and the rest.
    """
    from monitor.fetch.local import read_local
    from tests.eval.news_dev import NEWS_DEV, load

    root = path or NEWS_DEV
    labels = {e["file"]: e for e in json.loads((root / "labels.json").read_text("utf-8"))}
    out = []
    for a in load(root):
        e = labels[a.file]
        title, text = a.title, a.text
        if as_files:
            (read,) = read_local(root / a.file)
            title, text = read.title, read.text
        out.append(
            Item(
                key=a.file,
                title=title,
                text=text,
                event=a.story,
                company=a.company,
                published=labelled_date(e.get("date"), str(e.get("date_source") or "")),
            )
        )
    return out
