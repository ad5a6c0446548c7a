"""The band-key log on SQLite (monitor.store.band_log): merging it changes no verdict,
every process sees what the others logged and merged, and a rolled-back transaction
leaves nothing behind in a process's memory.

Two engines on one file stand for two processes: each has its own in-memory tail.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from monitor.app.placement import Placement, place_articles
from monitor.store import band_log
from monitor.store.band_index import band_rows
from monitor.store.db import alembic_config, current_revision, make_engine, session_scope, upgrade
from monitor.store.plain_sql import PlainSql
from tests.integration.test_place_batch import WINDOW, _docs, _insert, _source, _stories, _view
from tests.unit import dedup_eval as ev


def _engine(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine


def _logged(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT COUNT(*) FROM dedup_band_log")).scalar_one())


def _place(engine: Engine, docs: list[ev.Doc], source: int = 1) -> list[Placement]:
    with session_scope(engine) as s:
        now = max(d.published for d in docs)
        items = [(_insert(s, source, d), d.extraction) for d in docs]
        return place_articles(s, items, now=now, window=WINDOW)


def test_merges_change_no_placement(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = _docs()
    results = {}
    for merge_at in (10**9, 7):
        monkeypatch.setattr(band_log, "MERGE_AT", merge_at)
        engine = _engine(tmp_path / f"merge{merge_at}.db")
        with session_scope(engine) as s:
            _source(s)
        placed: list[Placement] = []
        for start in range(0, len(docs), 5):
            placed += _place(engine, docs[start : start + 5])
        with session_scope(engine) as s:
            merged = s.execute(sa.text("SELECT COUNT(*) FROM dedup_band")).scalar_one()
            results[merge_at] = ([_view(p) for p in placed], _stories(s), band_rows(s))
        logged = _logged(engine)
        engine.dispose()
        if merge_at == 7:
            assert merged > 0 and logged < 7 + 5  # merged whenever the log reached 7
        else:
            assert merged == 0 and logged > 100  # everything still in the log
    assert results[7] == results[10**9]
    assert any(v[2] == "near-duplicate" for v in results[7][0])


def test_processes_see_each_others_log_and_merges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeds = {d.key: d for d in ev.seed_docs()}
    e1 = seeds["E1"]
    words = e1.text.split()
    cut = [
        ev.Doc(**{**e1.__dict__, "key": f"E1-cut{n}", "text": " ".join(words[: -10 * n])})
        for n in (1, 2, 3)
    ]
    path = tmp_path / "shared.db"
    one, two = _engine(path), _engine(path)
    with session_scope(one) as s:
        _source(s)
    first = _place(one, [e1])[0]
    # the second process finds what the first logged
    got = _place(two, [cut[0]])[0]
    assert got.level == "near-duplicate" and got.duplicate_of == first.article_id
    # the first merges (its batch brings the log to MERGE_AT) ...
    monkeypatch.setattr(band_log, "MERGE_AT", 3)
    merged = _place(one, [cut[1]])[0]
    assert merged.level == "near-duplicate" and _logged(one) == 0
    monkeypatch.setattr(band_log, "MERGE_AT", 10**9)
    _place(one, [seeds["D1"]])  # logged after the merge
    # ... and the second drops the merged rows from memory and finds them in dedup_band
    with session_scope(two) as s:
        assert band_log.lookup(PlainSql(s), ())[1] == 1
    got = _place(two, [cut[2]])[0]
    assert got.level == "near-duplicate" and got.duplicate_of == merged.article_id
    one.dispose()
    two.dispose()


def test_a_rolled_back_batch_leaves_nothing_behind(tmp_path: Path) -> None:
    """Rows read within a transaction that then rolls back must not stay in memory: their
    sequence numbers are given out again, to other articles."""
    seeds = {d.key: d for d in ev.seed_docs()}
    a1, e1 = seeds["A1"], seeds["E1"]
    engine = _engine(tmp_path / "rollback.db")
    with session_scope(engine) as s:
        _source(s)

    class Abort(Exception):
        pass

    with pytest.raises(Abort), session_scope(engine) as s:
        now = a1.published
        place_articles(s, [(_insert(s, 1, a1), a1.extraction)], now=now, window=WINDOW)
        # a second batch in the same transaction reads the first one's log row
        d1 = seeds["D1"]
        place_articles(s, [(_insert(s, 1, d1), d1.extraction)], now=now, window=WINDOW)
        raise Abort
    assert _logged(engine) == 0
    kept = _place(engine, [e1])[0]  # takes the rolled-back row's sequence number
    words = e1.text.split()
    copy = ev.Doc(**{**e1.__dict__, "key": "E1-cut", "text": " ".join(words[:-20])})
    got = _place(engine, [copy])[0]
    assert got.level == "near-duplicate" and got.duplicate_of == kept.article_id
    words = a1.text.split()
    ghost = ev.Doc(**{**a1.__dict__, "key": "A1-cut", "text": " ".join(words[:-20])})
    assert _place(engine, [ghost])[0].duplicate_of is None  # A1 was never stored
    engine.dispose()


def test_downgrade_moves_the_log_into_dedup_band(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "down.db")
    with session_scope(engine) as s:
        _source(s)
    _place(engine, _docs()[:30])
    with session_scope(engine) as s:
        before = band_rows(s)
    assert before and _logged(engine) > 0
    assert not _band_foreign_keys(engine)  # merges move rows whose key the log checked
    command.downgrade(alembic_config(engine), "0003")
    assert current_revision(engine) == "0003"
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT key, article_id FROM dedup_band")).all()
    assert sorted((int(k), int(a)) for k, a in rows) == before
    assert _band_foreign_keys(engine) == ["article"]
    upgrade(engine)
    with session_scope(engine) as s:
        assert band_rows(s) == before
    assert not _band_foreign_keys(engine)
    engine.dispose()


def _band_foreign_keys(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("PRAGMA foreign_key_list(dedup_band)").all()
    return [r[2] for r in rows]
