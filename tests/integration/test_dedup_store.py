"""The persisted dedup index and stories, on a real SQLite file (and PostgreSQL when given).

Issue 4, points 2 and 4: signatures and band keys live in the database, so a restart
rebuilds nothing; each story has a canonical article, members, first/last seen and the
facts that were new to it; listing and detail are JSON-ready and explain every join.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitor.app.placement import Placement, mark_new_facts, place_article, place_articles
from monitor.app.stories import list_stories, story_detail
from monitor.cli.base import emit_json
from monitor.dedup import content_hash, minhash
from monitor.models import Article, DedupBand, Source
from monitor.store.band_index import band_rows
from monitor.store.db import make_engine, session_scope, upgrade, writer_turn
from monitor.store.story_views import Member, MemberDetail
from monitor.values import Extraction, Fact
from tests.unit import dedup_eval as ev

T0 = datetime(2025, 12, 2, 8, 0, tzinfo=UTC)
WINDOW = timedelta(days=7)


@pytest.fixture(scope="module")
def seeds() -> dict[str, ev.Doc]:
    return {d.key: d for d in ev.seed_docs()}


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dedup.db'}"


@pytest.fixture
def engine(db_path: str) -> Iterator[Engine]:
    eng = make_engine(db_path)
    upgrade(eng)
    yield eng
    eng.dispose()


def add(
    s: Session,
    text: str,
    *,
    key: str,
    at: datetime = T0,
    title: str = "",
    ai: bool = True,
    source: str = "wire",
) -> int:
    src = s.execute(sa.select(Source).where(sa.column("name") == source)).scalar_one_or_none()
    if src is None:
        src = Source(name=source, url=f"https://{source}.test/")
        s.add(src)
        s.flush()
    assert src.id is not None
    row = Article(
        source_id=src.id,
        entry_key=key,
        url=f"https://{source}.test/{key}",
        title=title or key,
        text=text,
        first_seen_at=at,
        sort_at=at,
        ai_generated=ai,
        content_hash=content_hash(text),
    )
    s.add(row)
    s.flush()
    assert row.id is not None
    return row.id


def test_exact_copy_with_other_chrome_and_formatting(
    engine: Engine, seeds: dict[str, ev.Doc]
) -> None:
    a1 = seeds["A1"]
    with session_scope(engine) as s:
        first = add(s, a1.text, key="a1")
        p1 = place_article(s, first, a1.extraction, now=T0, window=WINDOW)
        copy = add(s, a1.text.upper().replace(". ", " .  "), key="b", source="boletin")
        p2 = place_article(s, copy, a1.extraction, now=T0, window=WINDOW)
    assert p1.new_story and p1.level == "new"
    assert p2.level == "exact" and p2.duplicate_of == first and p2.story_id == p1.story_id
    assert p2.similarity == 1.0


def test_near_duplicate_found_after_a_restart(db_path: str, seeds: dict[str, ev.Doc]) -> None:
    """Band keys and signatures are rows: a new process finds earlier articles at once."""
    text = seeds["E1"].text
    eng = make_engine(db_path)
    upgrade(eng)
    with session_scope(eng) as s:
        first = add(s, text, key="e1")
        place_article(s, first, Extraction(main_entity="alibaba"), now=T0, window=WINDOW)
        bands = sum(aid == first for _, aid in band_rows(s))
        stored = s.get(Article, first)
        assert stored is not None and stored.minhash is not None
    assert bands == minhash.BANDS
    eng.dispose()

    eng = make_engine(db_path)  # "restart": nothing is rebuilt
    words = text.split()
    truncated = " ".join(words[: int(len(words) * 0.9)])
    with session_scope(eng) as s:
        second = add(s, truncated, key="e1-syndicated", source="other")
        p = place_article(s, second, Extraction(main_entity="alibaba"), now=T0, window=WINDOW)
    eng.dispose()
    assert p.level == "near-duplicate" and p.duplicate_of == first
    assert p.similarity == pytest.approx(minhash.jaccard(text, truncated), abs=0.1)
    assert p.reason is not None and p.reason["verified"] in ("signatures", "exact shingles")


def test_placing_twice_changes_nothing(engine: Engine, seeds: dict[str, ev.Doc]) -> None:
    d = seeds["D1"]
    with session_scope(engine) as s:
        aid = add(s, d.text, key="d1")
        p1 = place_article(s, aid, d.extraction, now=T0, window=WINDOW)
        p2 = place_article(s, aid, d.extraction, now=T0, window=WINDOW)
        count = s.execute(sa.text("SELECT article_count FROM story")).scalar_one()
    assert p1.story_id == p2.story_id and p2.level == "new"
    assert count == 1


def test_short_teasers_are_not_exact_duplicates(engine: Engine) -> None:
    with session_scope(engine) as s:
        a = add(s, "Read more", key="t1", title="Tesla deliveries slip")
        b = add(s, "Read more", key="t2", title="Gold near record")
        pa = place_article(s, a, Extraction(main_entity=None), now=T0, window=WINDOW)
        pb = place_article(s, b, Extraction(main_entity=None), now=T0, window=WINDOW)
    assert pb.level == "new" and pa.story_id != pb.story_id


def test_story_window(engine: Engine, seeds: dict[str, ev.Doc]) -> None:
    a1, a2 = seeds["A1"], seeds["A2"]
    with session_scope(engine) as s:
        first = add(s, a1.text, key="a1", at=T0)
        p1 = place_article(s, first, a1.extraction, now=T0, window=WINDOW)
        late = T0 + WINDOW + timedelta(days=1)
        second = add(s, a2.text, key="a2", at=late)
        p2 = place_article(s, second, a2.extraction, now=late, window=WINDOW)
        third = add(s, a2.text + " Extra.", key="a2b", at=T0 + timedelta(days=2))
        p3 = place_article(s, third, a2.extraction, now=T0, window=WINDOW)
    assert p2.new_story  # same facts, outside the window: a new story
    assert p3.story_id in (p1.story_id, p2.story_id) and not p3.new_story


def details(members: list[Member]) -> list[MemberDetail]:
    """A story detail's members, each of which is a ``MemberDetail``."""
    out = []
    for m in members:
        assert isinstance(m, MemberDetail)
        out.append(m)
    return out


def ingest_seeds(engine: Engine, seeds: dict[str, ev.Doc], keys: list[str]) -> dict[str, Placement]:
    with session_scope(engine) as s:
        src = Source(name="seeds", url="https://seeds.test/")
        s.add(src)
        s.flush()
        assert src.id is not None
        docs = sorted((seeds[k] for k in keys), key=lambda d: d.published)
        return {d.key: ev.ingest(s, src.id, d, d.extraction, window=WINDOW) for d in docs}


def test_story_canonical_members_and_reasons(
    engine: Engine, seeds: dict[str, ev.Doc], capsys: pytest.CaptureFixture[str]
) -> None:
    placed = ingest_seeds(engine, seeds, ["A1", "A2", "B", "A3", "A4", "C1", "C2"])
    sid = placed["A1"].story_id
    with session_scope(engine) as s:
        # a non-AI member published later still becomes the canonical article
        wire = add(s, seeds["A5"].text, key="human", at=seeds["A5"].published, ai=False)
        place_article(s, wire, seeds["A5"].extraction, now=T0, window=WINDOW)
        listed = list_stories(s, since=None, limit=10)
        detail = story_detail(s, sid)
        assert story_detail(s, 10_000) is None
    assert detail is not None
    emit_json([*listed, detail])  # read models print as JSON
    assert detail.article_count == 6
    assert detail.canonical_article_id == wire
    assert detail.first_seen_at == seeds["A1"].published
    assert detail.last_seen_at == seeds["A4"].published
    members = details(detail.members)
    joined = {m.title: m.joined for m in members}
    b = next(m for m in members if m.url.endswith("/B"))
    assert b.duplicate_of == placed["A1"].article_id
    assert b.joined.startswith("exact copy of article")
    a4 = next(m for m in members if m.url.endswith("/A4"))
    assert "same story, on" in a4.joined and "figures $52 billion" in a4.joined
    assert a4.reason is not None
    assert a4.reason["level"] == "story" and a4.reason["shared_facts"]
    assert len(joined) == 5  # B shares A1's title
    # C1 and C2 are other stories; the newest story comes first
    ids = [st.id for st in listed]
    assert sid in ids and len(ids) == 3
    shown = json.loads(capsys.readouterr().out)[0]["members"][0]
    assert shown.keys() >= {
        "id", "url", "title", "source", "ai_generated", "duplicate_of", "similarity"
    }  # fmt: skip
    since = list_stories(s, since=seeds["C1"].published, limit=10)
    assert [st.id for st in since] == ids[:2]


def test_new_facts_of_a_story(engine: Engine, seeds: dict[str, ev.Doc]) -> None:
    placed = ingest_seeds(engine, seeds, ["A1", "A2", "A4"])
    with session_scope(engine) as s:
        rows = s.execute(
            sa.text(
                "SELECT a.entry_key, f.surface, f.new_to_story FROM fact f"
                " JOIN article a ON a.id = f.article_id"
            )
        ).all()
        sid = placed["A1"].story_id
        probe = [
            Fact("alibaba", None, 53e9, "money", "$53 billion", "", (0, 0), 0.9, "USD"),
            Fact("alibaba", None, 54e9, "money", "$54 billion", "", (0, 0), 0.9, "USD"),
            Fact("alibaba", None, 54e9, "money", "$54 billion", "", (0, 0), 0.9, "USD"),
        ]
        assert mark_new_facts(s, sid, probe) == [False, True, False]
    new = {(k, surf): n for k, surf, n in rows}
    # everything A1 says is new, except the second currency of "$53 billion (RMB 380 billion)"
    assert [surf for (k, surf), n in new.items() if k == "A1" and not n] == ["RMB 380 billion"]
    assert not new[("A2", "RMB 380 billion")]
    assert new[("A2", "18x")]
    assert new[("A4", "$52 billion")]  # the conflicting figure is news
    assert not new[("A4", "36%")]


@pytest.mark.postgres
def test_postgresql_shares_one_index() -> None:
    """Two sessions (workers) on one PostgreSQL: the second finds the first's article."""
    url = os.environ.get("MONITOR_TEST_DATABASE_URL")
    if not url:
        pytest.skip("MONITOR_TEST_DATABASE_URL is not set")
    schema = f"dedup_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        eng = make_engine(url)

        @sa.event.listens_for(eng, "connect")
        def _path(dbapi_conn: object, _record: object) -> None:
            cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
            cur.execute(f'SET search_path TO "{schema}"')
            cur.close()
            # committed: a statement that fails in the connection's first transaction
            # would roll the setting back with it
            dbapi_conn.commit()  # type: ignore[attr-defined]

        upgrade(eng)
        seeds = {d.key: d for d in ev.seed_docs()}
        a1 = seeds["A1"]
        with session_scope(eng) as s:
            first = add(s, a1.text, key="a1")
            place_article(s, first, a1.extraction, now=T0, window=WINDOW)
            replay = s.execute(
                sa.select(sa.func.min(DedupBand.key), sa.func.max(DedupBand.key))
            ).one()
        with session_scope(eng) as s:  # another worker
            words = a1.text.split()
            second = add(s, " ".join(words[:-30]), key="a1-cut", source="other")
            p = place_article(s, second, a1.extraction, now=T0, window=WINDOW)
            # replaying the index rows of an article inserts nothing and raises nothing
            from monitor.store.band_index import BandIndex
            from monitor.store.plain_sql import PlainSql

            sig = minhash.signature(" ".join(words[:-30]))
            replayed = BandIndex(PlainSql(s), [])
            replayed.add(second, sig, minhash.band_keys(sig), "", "")
            replayed.flush()
            bands = s.execute(
                sa.select(sa.func.count()).where(DedupBand.article_id == second)  # type: ignore[arg-type]
            ).scalar_one()
        assert p.level == "near-duplicate" and p.duplicate_of == first
        assert bands == minhash.BANDS
        assert -(2**63) <= replay[0] <= replay[1] < 2**63
        eng.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_out_of_order_stories_merge_when_an_article_bridges_them(
    engine: Engine, seeds: dict[str, ev.Doc]
) -> None:
    """A feed lists newest first: A4 (Dec 9) arrives before A1 (Dec 2), more than the
    window apart, so they start two stories; A2 (Dec 4) restates both and joins them."""
    with session_scope(engine) as s:
        src = Source(name="feed", url="https://feed.test/")
        s.add(src)
        s.flush()
        assert src.id is not None
        a4 = ev.ingest(s, src.id, seeds["A4"], seeds["A4"].extraction, window=WINDOW)
        a1 = ev.ingest(s, src.id, seeds["A1"], seeds["A1"].extraction, window=WINDOW)
        assert a1.new_story and a1.story_id != a4.story_id
        a2 = ev.ingest(s, src.id, seeds["A2"], seeds["A2"].extraction, window=WINDOW)
        keep = min(a1.story_id, a4.story_id)
        assert a2.story_id == keep
        assert a2.reason is not None and a2.reason["merged"] == [max(a1.story_id, a4.story_id)]
        detail = story_detail(s, keep)
        assert detail is not None and detail.article_count == 3
        assert detail.first_seen_at == seeds["A1"].published
        assert detail.last_seen_at == seeds["A4"].published
        founder = a1 if a1.story_id > a4.story_id else a4  # started the story merged away
        members = details(detail.members)
        later = next(m for m in members if m.id == founder.article_id)
        assert later.reason is not None
        assert later.reason["level"] == "merged" and "merged into this one" in later.joined
        bridge = next(m for m in members if m.id == a2.article_id)
        assert "merged them" in bridge.joined
        emptied = story_detail(s, max(a1.story_id, a4.story_id))
        assert emptied is not None and emptied.article_count == 0 and not emptied.members
        assert [st.id for st in list_stories(s, since=None, limit=10)] == [keep]
        facts = s.execute(sa.text("SELECT DISTINCT story_id FROM fact")).scalars().all()
        assert facts == [keep]


@pytest.mark.postgres
def test_postgresql_workers_place_one_after_another(pg_engine: Engine) -> None:
    """Two workers place copies of one article at the same time on one PostgreSQL: the
    second waits for the first's transaction and finds its article, instead of reading
    the index before the first commits and starting a second story for the same event."""
    a1 = {d.key: d for d in ev.seed_docs()}["A1"]
    words = a1.text.split()
    backend: list[int] = []  # the second worker's connection, once it has one
    second_done = threading.Event()
    outcome: list[Placement | BaseException] = []

    def second_worker() -> None:
        try:
            with session_scope(pg_engine) as s:
                backend.append(s.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
                second = add(s, " ".join(words[:-30]), key="a1-cut", source="other")
                outcome.append(place_article(s, second, a1.extraction, now=T0, window=WINDOW))
        except BaseException as exc:  # re-raised by the test's thread
            outcome.append(exc)
        finally:
            second_done.set()

    worker = threading.Thread(target=second_worker)
    try:
        with session_scope(pg_engine) as s:
            first = add(s, a1.text, key="a1")
            place_article(s, first, a1.extraction, now=T0, window=WINDOW)
            worker.start()
            # the first transaction stays open until the second worker waits for a lock
            # (or, were placement not serialised, has placed its copy without seeing it)
            waiting = sa.text("SELECT COUNT(*) FROM pg_locks WHERE pid = :pid AND NOT granted")
            with pg_engine.connect() as watch:
                deadline = time.monotonic() + 30
                while not second_done.is_set() and not (
                    backend and watch.execute(waiting, {"pid": backend[0]}).scalar_one()
                ):
                    assert time.monotonic() < deadline, "the second worker neither waited nor ended"
                    second_done.wait(0.01)
    finally:
        if worker.ident is not None:  # started: the first transaction has ended, freeing it
            worker.join(30)
    assert not worker.is_alive()
    (got,) = outcome
    if isinstance(got, BaseException):
        raise got
    assert got.level == "near-duplicate" and got.duplicate_of == first


@pytest.mark.postgres
def test_postgresql_a_poll_with_nothing_new_waits_for_no_worker(pg_engine: Engine) -> None:
    """A poll that brought no new article places nothing: it does not wait for the
    writers' turn another worker holds (most polls of a feed bring nothing new)."""
    with session_scope(pg_engine) as holder:
        writer_turn(holder)
        with session_scope(pg_engine) as s:
            # were the turn asked for, this would fail after a second instead of waiting
            s.execute(sa.text("SET LOCAL lock_timeout = '1s'"))
            assert place_articles(s, [], now=T0, window=WINDOW) == []
            with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
                writer_turn(s)  # the check above is not vacuous: the turn is held
