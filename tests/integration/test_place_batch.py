"""Placing a batch at once gives what placing its articles one after another gives.

The pipeline places each poll's articles with one band-index lookup and one write
(``place_articles``); an article of the batch must still find the earlier ones, as exact
copies, near-duplicates, story members and bridges between stories.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from monitor.app.placement import Copy, Placement, find_copies, place_article, place_articles
from monitor.app.profile_cache import PROFILES
from monitor.dedup import minhash, story, story_codec
from monitor.models import Source
from monitor.pipeline import Pipeline
from monitor.rules.loader import load_rules
from monitor.settings import Settings
from monitor.store.band_index import band_rows
from monitor.store.db import make_engine, session_scope, upgrade
from tests.bench import news_corpus
from tests.conftest import CHANNELS, ROOT
from tests.unit import dedup_eval as ev

WINDOW = timedelta(days=7)


def _docs() -> list[ev.Doc]:
    """Copies, rewrites and out-of-order stories, shuffled so that originals, copies and
    bridges fall anywhere within and across batches."""
    docs = {d.key: d for d in [*ev.near_duplicate_set(), *ev.rewrite_set()]}
    out = sorted(docs.values(), key=lambda d: d.key)
    random.Random(7).shuffle(out)
    return out


def _insert(s: Session, source_id: int, doc: ev.Doc) -> int:
    return ev.insert_doc(s, source_id, doc)


def _source(s: Session) -> int:
    src = Source(name="eval", url="https://eval.test/")
    s.add(src)
    s.flush()
    assert src.id is not None
    return src.id


def _view(p: Placement) -> tuple[object, ...]:
    return (p.article_id, p.story_id, p.level, p.duplicate_of, p.similarity, p.reason)


def _stories(s: Session) -> list[tuple[object, ...]]:
    return [
        tuple(r)
        for r in s.execute(
            sa.text(
                "SELECT id, article_count, canonical_article_id, first_seen_at, last_seen_at,"
                " main_entity, profile, members FROM story ORDER BY id"
            )
        )
    ]


def _bands(s: Session) -> list[tuple[int, int]]:
    return band_rows(s)


def test_a_batch_places_as_one_article_after_another(tmp_path: Path) -> None:
    docs = _docs()
    now = max(d.published for d in docs)
    results = {}
    for mode in ("one", "batch"):
        engine = make_engine(f"sqlite:///{tmp_path / mode}.db")
        upgrade(engine)
        with session_scope(engine) as s:
            src = _source(s)
            placed: list[Placement] = []
            if mode == "one":
                for d in docs:
                    aid = _insert(s, src, d)
                    placed.append(place_article(s, aid, d.extraction, now=now, window=WINDOW))
            else:
                # uneven batches, as polls bring them
                sizes, start = [1, 5, 17, 40, 3, 60], 0
                while start < len(docs):
                    part = docs[start : start + sizes[start % len(sizes)]]
                    items = [(_insert(s, src, d), d.extraction) for d in part]
                    placed += place_articles(s, items, now=now, window=WINDOW)
                    start += len(part)
            results[mode] = (
                [_view(p) for p in placed],
                _stories(s),
                sorted(_bands(s)),
            )
        engine.dispose()
    one, batch = results["one"], results["batch"]
    levels = {v[2] for v in one[0]}
    # the corpus exercises every level, or the comparison proves little
    assert {"new", "exact", "near-duplicate", "story"} <= levels, levels
    assert batch[0] == one[0]
    assert batch[1] == one[1]
    assert batch[2] == one[2]


def test_a_batch_may_name_an_article_twice_and_one_already_placed(tmp_path: Path) -> None:
    seeds = {d.key: d for d in ev.seed_docs()}
    a1, a2 = seeds["A1"], seeds["A2"]
    engine = make_engine(f"sqlite:///{tmp_path / 'twice.db'}")
    upgrade(engine)
    with session_scope(engine) as s:
        src = _source(s)
        first = _insert(s, src, a1)
        before = place_article(s, first, a1.extraction, now=a1.published, window=WINDOW)
        second = _insert(s, src, a2)
        got = place_articles(
            s,
            [(first, a1.extraction), (second, a2.extraction), (second, a2.extraction)],
            now=a2.published,
            window=WINDOW,
        )
        count = s.execute(sa.text("SELECT article_count FROM story")).scalars().all()
    engine.dispose()
    assert got[0] == before
    assert got[1] == got[2]
    assert sum(count) == 2


def test_articles_of_a_batch_follow_their_story_into_a_merge(tmp_path: Path) -> None:
    """A4 (Dec 9) and A1 (Dec 2) start two stories; A2 (Dec 4), later in the same batch,
    bridges them. Every placement names the story its article ends in, which is where
    the pipeline files the article's facts."""
    seeds = {d.key: d for d in ev.seed_docs()}
    engine = make_engine(f"sqlite:///{tmp_path / 'merge.db'}")
    upgrade(engine)
    with session_scope(engine) as s:
        src = _source(s)
        docs = [seeds["A4"], seeds["A1"], seeds["A2"]]
        items = [(_insert(s, src, d), d.extraction) for d in docs]
        got = place_articles(s, items, now=seeds["A4"].published, window=WINDOW)
        rows = dict(s.execute(sa.text("SELECT id, story_id FROM article")).all())
    engine.dispose()
    assert got[2].reason is not None and got[2].reason["merged"]
    assert {p.story_id for p in got} == {got[2].story_id}
    assert all(rows[p.article_id] == p.story_id for p in got)


def test_find_copies_alone_finds_what_placing_finds(tmp_path: Path) -> None:
    """The copy levels without the story level (what the benchmark measures): exact and
    near copies come back as Copy, originals as their signature, band keys written."""
    seeds = {d.key: d for d in ev.seed_docs()}
    e1 = seeds["E1"]
    words = e1.text.split()
    cut = dataclasses.replace(e1, key="E1-cut", text=" ".join(words[: int(len(words) * 0.9)]))
    same = dataclasses.replace(e1, key="E1-upper", text=e1.text.upper())
    engine = make_engine(f"sqlite:///{tmp_path / 'copies.db'}")
    upgrade(engine)
    with session_scope(engine) as s:
        src = _source(s)
        ids = [_insert(s, src, d) for d in (e1, cut)]
        first = find_copies(s, ids)
        bands = len(band_rows(s))
    with session_scope(engine) as s:
        placed = place_articles(s, [(ids[0], e1.extraction)], now=e1.published, window=WINDOW)
        again = _insert(s, src, same)
        second = find_copies(s, [again])
    engine.dispose()
    assert isinstance(first[ids[0]], bytes)
    near = first[ids[1]]
    assert isinstance(near, Copy) and near.original == ids[0]
    assert near.reason["level"] == "near-duplicate" and 0.8 <= near.similarity < 1.0
    assert bands == 2 * minhash.BANDS
    assert placed[0].level == "new"
    exact = second[again]
    assert isinstance(exact, Copy) and exact.original == ids[0] and exact.similarity == 1.0


def test_profiles_whose_words_cannot_meet_are_left_undecoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A candidate story whose words do not reach the text floor with the article's is
    not decoded (most of a company's stories): the stories and copies come out the same
    as when every candidate is decoded and compared, with far fewer profiles decoded."""
    items = [dataclasses.replace(it, published_at=None) for it in news_corpus.generate(400)]
    rules = load_rules(ROOT / "rules", channels=CHANNELS)
    decoded: list[int] = []
    real_decode = story_codec.decode_story

    def counting(story_id: int, *args: Any) -> Any:
        decoded.append(story_id)
        return real_decode(story_id, *args)

    monkeypatch.setattr(story_codec, "decode_story", counting)
    outcome = {}
    for mode in ("filtered", "all"):
        if mode == "all":
            monkeypatch.setattr(story, "words_meet", lambda *_: True)
        PROFILES.clear()
        decoded.clear()
        engine = make_engine(f"sqlite:///{tmp_path / mode}.db")
        upgrade(engine)
        pipe = Pipeline(Settings(), engine, rules)
        for i in range(0, len(items), 100):
            pipe.ingest(items[i : i + 100], source="wire")
        with session_scope(engine) as s:
            rows = s.execute(
                sa.text("SELECT id, story_id, duplicate_of, join_reason FROM article ORDER BY id")
            ).all()
        engine.dispose()
        outcome[mode] = ([tuple(r) for r in rows], len(decoded))
    (filtered, n_filtered), (everything, n_all) = outcome["filtered"], outcome["all"]
    assert filtered == everything
    assert len({r[1] for r in filtered}) < len(filtered)  # stories of several articles
    assert n_filtered < 0.75 * n_all, (n_filtered, n_all)  # 149 of 242 when written


def test_a_batch_of_copies_files_each_fact_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The facts of a batch's earlier articles counted as held by their story were indexed
    again for each later article: a batch of N copies of one story cost N squared (2,000
    copies: 16 s). Each fact is now put in the batch's index once, and the first copy's
    facts are new to the story, the others' not."""
    from monitor.dedup import story_members

    held: list[int] = []
    real = story_members.hold

    def counted(index: Any, f: Any, keys: Any = None) -> None:
        held.append(1)
        real(index, f, keys)

    monkeypatch.setattr(story_members, "hold", counted)
    base = news_corpus.generate(1)[0]
    copies = [
        dataclasses.replace(base, url=f"https://copy{n}.test/a", guid=f"g{n}") for n in range(60)
    ]
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    upgrade(engine)
    pipe = Pipeline(Settings(), engine, load_rules(ROOT / "rules", channels=CHANNELS))
    report = pipe.ingest(copies, source="file")
    assert report.new == 60 and report.new_stories == 1
    assert report.facts > 0 and len(held) <= 3 * report.facts
    with session_scope(engine) as s:
        fresh = s.execute(sa.text("SELECT DISTINCT article_id FROM fact WHERE new_to_story")).all()
        first = s.execute(sa.text("SELECT min(article_id) FROM fact")).scalar_one()
    assert [tuple(r) for r in fresh] == [(first,)]  # the first copy's, and no other's
