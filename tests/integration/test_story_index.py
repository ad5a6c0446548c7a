"""The stored same-story index (story keys, story profiles) on a real SQLite file.

The profiles kept up to date as members join must count what the members' rows give
(which is what placement rebuilds a profile from for a story stored before it), a
database upgraded from revision 0001 must find its earlier stories (the migrations index
their figures; placement builds their profiles from the rows when it first meets them),
and merges must carry keys and profiles along.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from monitor.app.placement import build_profiles, place_article
from monitor.dedup import content_hash, story, story_codec
from monitor.models import Article, Source
from monitor.store.db import alembic_config, current_revision, make_engine, session_scope, upgrade
from monitor.store.plain_sql import PlainSql, types
from monitor.values import Extraction, Fact
from tests.unit import dedup_eval as ev

T0 = datetime(2025, 12, 2, 8, 0, tzinfo=UTC)
WINDOW = timedelta(days=7)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'index.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


def ingest(engine: Engine, docs: list[ev.Doc]) -> dict[str, Any]:
    with session_scope(engine) as s:
        src = s.execute(sa.select(Source).where(sa.column("name") == "eval")).scalar_one_or_none()
        if src is None:
            src = Source(name="eval", url="https://eval.test/")
            s.add(src)
            s.flush()
        assert src.id is not None
        return {d.key: ev.ingest(s, src.id, d, d.extraction, window=WINDOW) for d in docs}


def stored(engine: Engine) -> dict[int, tuple[Any, Any]]:
    with session_scope(engine) as s:
        sql = PlainSql(s)
        t = types(sql.dialect)
        return {
            int(sid): (t.json_out(p), t.json_out(m))
            for sid, p, m in sql.rows(
                "SELECT id, profile, members FROM story WHERE article_count > 0", ()
            )
        }


def keys_not_of_their_company(engine: Engine) -> int:
    """Figure keys whose company is not their story's (0013: the lookup by company)."""
    with session_scope(engine) as s:
        return int(
            s.execute(
                sa.text(
                    "SELECT COUNT(*) FROM story_key k JOIN story s ON s.id = k.story_id"
                    # null-safe, as the lookup tells NULL from '' (k.company IS NULL)
                    " WHERE k.company IS DISTINCT FROM s.main_entity"
                )
            ).scalar_one()
        )


def built_now(engine: Engine) -> None:
    """Build the profiles placement has not needed yet."""
    missing = [sid for sid, (p, _) in stored(engine).items() if p is None]
    with session_scope(engine) as s:
        build_profiles(PlainSql(s), missing)


def sample() -> list[ev.Doc]:
    rewrites = ev.rewrite_set()
    by_key = {d.key: d for d in ev.seed_docs() + rewrites[: len(rewrites) // 2]}
    return sorted(by_key.values(), key=lambda d: (d.published, d.key))


def counted(profile: Any) -> tuple[Any, ...]:
    """What a profile counts: members, each figure's amount with how many state it, each
    name's count. Its word weights depend on the frequencies when each member joined."""
    d = profile if isinstance(profile, dict) else story_codec.encode_story(profile)
    figures = sorted((r[0], r[1], r[2], r[-1]) for r in d["f"])
    return d["n"], figures, d["t"], d["lt"]


def test_kept_profiles_are_those_the_rows_give(engine: Engine) -> None:
    ingest(engine, sample())
    kept = stored(engine)
    assert len(kept) > 5
    with session_scope(engine) as s:
        rebuilt = build_profiles(PlainSql(s), sorted(kept))
    for sid, (profile, held) in kept.items():
        assert counted(profile) == counted(rebuilt[sid]), sid
        assert held is None  # the member profiles of revision 0002 are no longer kept
    # every figure an article states is a key of its story
    with session_scope(engine) as s:
        missing = s.execute(
            sa.text(
                "SELECT COUNT(*) FROM fact f WHERE f.story_id IS NOT NULL AND f.unit = 'money'"
                " AND NOT EXISTS (SELECT 1 FROM story_key k WHERE k.story_id = f.story_id"
                " AND k.article_id = f.article_id AND k.value = f.value AND k.alt = :no)"
            ),
            {"no": False},
        ).scalar_one()
    assert missing == 0
    assert keys_not_of_their_company(engine) == 0


def test_upgrade_from_0001_backfills_and_finds_earlier_stories(tmp_path: Path) -> None:
    docs = sample()
    first, later = docs[: len(docs) // 2], docs[len(docs) // 2 :]

    fresh = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    upgrade(fresh)
    ingest(fresh, first)
    expected = ingest(fresh, later)

    old = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(old)
    ingest(old, first)
    before = stored(old)
    cfg = alembic_config(old)
    with old.connect() as conn:  # back to the schema without the index, data kept
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
        conn.commit()
    assert current_revision(old) == "0001"
    with old.connect() as conn:
        assert "story_key" not in sa.inspect(conn).get_table_names()
    upgrade(old)
    # the migration runs no live code: figures are indexed, profiles wait for placement
    assert set(stored(old)) == set(before)
    assert all(p is None and m is None for p, m in stored(old).values())
    # 0013 gave every key its story's company
    assert keys_not_of_their_company(old) == 0
    # 0008 gave every story the end of its event window, which the candidate reads range
    with session_scope(old) as s:
        unset = s.execute(sa.text("SELECT COUNT(*) FROM story WHERE event_until IS NULL"))
        assert unset.scalar_one() == 0
    got = ingest(old, later)
    # the same stories; the word weights behind each join differ, since the frequencies
    # count only what was placed after the upgrade
    assert {k: (p.story_id, p.level) for k, p in got.items()} == {
        k: (p.story_id, p.level) for k, p in expected.items()
    }
    built_now(old)
    # rebuilt from the rows: what was counted as they joined
    assert {k: counted(p) for k, (p, _) in stored(old).items()} == {
        k: counted(p) for k, (p, _) in stored(fresh).items()
    }
    fresh.dispose()
    old.dispose()


def test_merge_moves_keys_and_profiles(engine: Engine) -> None:
    seeds = {d.key: d for d in ev.seed_docs()}
    placed = ingest(engine, [seeds["A4"]])
    placed |= ingest(engine, [seeds["A1"]])
    placed |= ingest(engine, [seeds["A2"]])
    keep = placed["A2"].story_id
    gone = max(placed["A1"].story_id, placed["A4"].story_id)
    assert keep != gone and placed["A2"].reason is not None
    assert placed["A2"].reason["merged"] == [gone]
    with session_scope(engine) as s:
        owners = s.execute(sa.text("SELECT DISTINCT story_id FROM story_key")).scalars().all()
        emptied = s.execute(
            sa.text("SELECT profile, members FROM story WHERE id = :i"), {"i": gone}
        ).one()
    assert owners == [keep]
    assert keys_not_of_their_company(engine) == 0
    assert tuple(emptied) == (None, None)
    assert stored(engine)[keep][0]["n"] == 3  # both founders and the article that bridged


@pytest.mark.postgres
def test_postgresql_places_as_sqlite_and_upgrades_from_0001(
    pg_engine: Engine, engine: Engine
) -> None:
    """The index statements (float ranges, booleans, JSON) mean the same on PostgreSQL,
    and after an upgrade from 0001 the same profiles are rebuilt there."""
    docs = sample()
    first, later = docs[: len(docs) // 2], docs[len(docs) // 2 :]
    ingest(pg_engine, first)
    ingest(engine, first)
    before = stored(pg_engine)
    assert before == stored(engine)
    cfg = alembic_config(pg_engine)
    with pg_engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
        conn.commit()
    upgrade(pg_engine)
    assert all(p is None and m is None for p, m in stored(pg_engine).values())
    got = ingest(pg_engine, later)
    expected = ingest(engine, later)
    assert {k: (p.story_id, p.level) for k, p in got.items()} == {
        k: (p.story_id, p.level) for k, p in expected.items()
    }
    built_now(pg_engine)
    assert {k: counted(p) for k, (p, _) in stored(pg_engine).items()} == {
        k: counted(p) for k, (p, _) in stored(engine).items()
    }


def money(i: int) -> Fact:
    v = 1e9 * (1.1**i)  # 10% apart: no two match each other
    return Fact("acme", None, v, "money", f"${v:,.0f}", "q", (0, 0), 0.9, "USD")


def put(s: Any, key: str, title: str, facts: list[Fact], at: datetime) -> Any:
    """An article of Acme with these figures, stored and placed."""
    text = f"{title}, as {key} tells it: " + " ".join(f"{key}{k}" for k in range(20))
    row = Article(
        source_id=1, entry_key=key, url=f"https://x.test/{key}", title=title, text=text,
        first_seen_at=at, sort_at=at, content_hash=content_hash(text),
    )  # fmt: skip
    s.add(row)
    s.flush()
    assert row.id is not None
    return place_article(s, row.id, Extraction("acme", facts=tuple(facts)), now=at, window=WINDOW)


def test_the_figure_lookup_reads_the_scanned_stories_by_id(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the scan bound, the figure lookup reads the scanned stories by id: not every
    story of the company in the window, each tested against the scanned list (a backfill
    of undated files puts the whole history in the window); and the company's stories
    holding a figure come from one index range per figure."""
    from monitor.store import plain_sql, story_index

    monkeypatch.setattr(story_index, "MAX_RECENT", 2)
    monkeypatch.setattr(story_index, "MAX_EVENT_SCAN", 3)
    keyed: list[tuple[str, tuple[Any, ...]]] = []
    rows = plain_sql.PlainSql.rows

    def kept(self: PlainSql, sql: str, params: Any) -> list[Any]:
        if "story_key" in sql and sql.startswith("SELECT s.id"):
            keyed.append((sql.replace("%s", self.mark), tuple(params)))
        return rows(self, sql, params)

    with session_scope(engine) as s:
        s.add(Source(id=1, name="x", url="https://x.test/"))
        s.flush()
        for n in range(6):
            put(s, f"n{n}", f"Acme item{n} report{n}", [money(10 * n)], T0 + timedelta(hours=n))
        monkeypatch.setattr(plain_sql.PlainSql, "rows", kept)
        again = put(s, "again", "Acme item5 report5", [money(50)], T0 + timedelta(hours=7))
        assert keyed and again.level == "story"
        sql, params = keyed[-1]
        plan = [
            str(r[-1]) for r in s.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
        ]
    outer = [step for step in plan if step.startswith("SEARCH s ")]
    assert outer[0] == "SEARCH s USING INTEGER PRIMARY KEY (rowid=?)", plan
    # the scan and its filters from the index alone (0012): only the stories found are
    # read, by id
    assert outer[1:] and all("COVERING INDEX ix_story_scan" in step for step in outer[1:]), plan
    # the keys: one range of the company's keys per figure, from the index alone (0013),
    # not a probe of every scanned story per figure
    keys = [step for step in plan if step.startswith("SEARCH k ")]
    assert keys == [
        "SEARCH k USING COVERING INDEX ix_story_key_company_figure"
        " (company=? AND unit=? AND currency=? AND value>? AND value<?)"
    ], plan


def test_a_figure_finds_the_story_that_states_it_with_the_other_sign(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys hold magnitudes (0012), as the matcher compares them: a story that stated a
    figure as negative is found through one range of keys by an article stating it as
    positive, past the scan bound where only the keyed lookup reaches it."""
    from monitor.dedup import story_members
    from monitor.store import story_index

    monkeypatch.setattr(story_index, "MAX_RECENT", 2)
    drop = Fact("acme", "revenue_growth", -12.5, "percent", "-12.5%", "q", (0, 0), 0.9)
    with session_scope(engine) as s:
        s.add(Source(id=1, name="x", url="https://x.test/"))
        s.flush()
        told = put(s, "old", "Acme sales", [drop, money(40)], T0)
        for n in range(3):
            put(s, f"n{n}", f"Acme item{n} report{n}", [money(10 * n)], T0 + timedelta(hours=n))
        sql = PlainSql(s)
        keys = sql.rows("SELECT unit, value FROM story_key WHERE unit = 'percent'", ())
        assert keys == [("percent", 12.5)]
        rise = story.profile(
            "", "", Extraction("acme", facts=(dataclasses.replace(drop, value=12.5),))
        )
        spans = story_members.figure_spans(rise.figures)
        assert len(spans) == 1  # one range, not one per sign
        found = story_index.event_candidates(
            sql, company="acme", spans=spans, earliest=T0 - WINDOW, latest=T0 + WINDOW
        )
    # the two most recent, then the one holding the figure
    assert [r.story_id for r in found][2:] == [told.story_id]


def test_standing_stories_holding_a_figure_come_from_the_company_index(engine: Engine) -> None:
    """The standing stories an article may restate: those of its company holding one of
    its figures, found through one range of the company's keys per figure (0013)."""
    from monitor.dedup import story_members
    from monitor.store import story_index

    with session_scope(engine) as s:
        s.add(Source(id=1, name="x", url="https://x.test/"))
        s.flush()
        plan = put(s, "plan", "Acme plan", [money(40)], T0)
        put(s, "other", "Acme other", [money(20)], T0 + timedelta(hours=1))
        asked: list[tuple[str, tuple[Any, ...]]] = []

        class Kept(PlainSql):
            """Plain SQL that keeps each query it runs, with its parameters."""

            def rows(self, sql: str, params: Sequence[Any]) -> list[Any]:
                asked.append((sql.replace("%s", self.mark), tuple(params)))
                return super().rows(sql, params)

        sql = Kept(s)
        later = story.profile("", "", Extraction("acme", facts=(money(40),)))
        spans = story_members.figure_spans(later.figures)
        found = story_index.standing_candidates(
            sql, company="acme", spans=spans, earliest=T0 - WINDOW, before=T0 + 60 * WINDOW
        )
        query, params = asked[-1]
        steps = [
            str(r[-1])
            for r in s.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {query}", params)
        ]
    assert [r.story_id for r in found] == [plan.story_id]
    keys = [step for step in steps if step.startswith("SEARCH k ")]
    assert keys == [
        "SEARCH k USING COVERING INDEX ix_story_key_company_figure"
        " (company=? AND unit=? AND currency=? AND value>? AND value<?)"
    ], steps


@pytest.mark.parametrize("scan", ["default", "bounded"])
def test_an_article_with_hundreds_of_figures_finds_its_story(
    engine: Engine, scan: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The figure lookup is split over several statements (100 key ranges each); a story
    of the company too old to be among its most recent ones is found through the figures
    of the last statement, as long as it is among the ``MAX_EVENT_SCAN`` most recent
    stories of the window: past them, the lookup's work stops growing and it is not."""
    from monitor.store import story_index

    if scan == "bounded":
        monkeypatch.setattr(story_index, "MAX_EVENT_SCAN", story_index.MAX_RECENT + 2)
    from monitor.store.story_index import MAX_RECENT

    with session_scope(engine) as s:
        s.add(Source(id=1, name="x", url="https://x.test/"))
        s.flush()
        title = "Acme opens a foundry in Patagonia"
        first = put(s, "first", title, [money(i) for i in range(150)], T0)
        for n in range(MAX_RECENT + 5):  # newer stories of the same company
            words = f"Acme item{n} report{n} note{n}"
            put(s, f"other{n}", words, [money(200 + n)], T0 + timedelta(hours=1 + n))
        # its own figures come first: the one it shares with the story, in the last
        # statement of the lookup
        figures = [money(i) for i in range(300, 360)] + [money(1)]
        again = put(s, "again", title, figures, T0 + timedelta(days=2))
    assert first.new_story
    if scan == "default":
        assert again.story_id == first.story_id and again.level == "story"
    else:
        assert again.new_story and again.story_id != first.story_id
