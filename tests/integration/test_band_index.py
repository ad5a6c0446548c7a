"""The band index as a batch sees it (``monitor.store.band_index``), on SQLite and on
PostgreSQL when given: a band key shared by more stored articles than the cap yields the
newest of them, and only their signatures are read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine

from monitor.models import Article, DedupBand, Source
from monitor.store import band_log
from monitor.store.band_index import MAX_CANDIDATES, BandIndex
from monitor.store.db import session_scope
from monitor.store.plain_sql import PlainSql

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
# two keys of boilerplate, a rare key and an unshared one
HOT, HOT2, COLD, OTHER = -(2**62) + 7, 2**62 + 9, 12345, 777


def _stored(engine: Engine, n: int) -> list[int]:
    """``n`` stored articles sharing the key HOT; the oldest 100 share HOT2 too, the
    oldest three COLD."""
    with session_scope(engine) as s:
        src = Source(name="wire", url="https://wire.test/")
        s.add(src)
        s.flush()
        assert src.id is not None
        rows = [
            Article(
                source_id=src.id,
                entry_key=f"a{i}",
                url=f"https://wire.test/a{i}",
                title=f"a{i}",
                text=f"text {i}",
                first_seen_at=T0,
                sort_at=T0,
                content_hash=f"h{i}",
                minhash=i.to_bytes(4, "big"),
            )
            for i in range(n)
        ]
        s.add_all(rows)
        s.flush()
        ids = [int(r.id) for r in rows if r.id is not None]
        s.add_all(DedupBand(key=HOT, article_id=a) for a in ids)
        s.add_all(DedupBand(key=HOT2, article_id=a) for a in ids[:100])
        s.add_all(DedupBand(key=COLD, article_id=a) for a in ids[:3])
    return ids


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request: pytest.FixtureRequest) -> Engine:
    name = "engine" if request.param == "sqlite" else "pg_engine"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


def test_a_hot_key_yields_its_newest_articles_and_only_their_signatures(
    any_engine: Engine,
) -> None:
    ids = _stored(any_engine, MAX_CANDIDATES + 60)
    new, later = ids[-1] + 1, ids[-1] + 2  # the batch's articles, not stored yet
    with session_scope(any_engine) as s:
        index = BandIndex(PlainSql(s), [(new, [HOT, HOT2]), (later, [COLD, OTHER])])
        hot = index.candidates(new, [HOT, HOT2])
        # the newest of the two keys' articles, newest first, each with its signature
        assert list(hot) == sorted(ids, reverse=True)[:MAX_CANDIDATES]
        assert all(hot[a] == (a - ids[0]).to_bytes(4, "big") for a in hot)
        # the oldest three are not among ``new``'s newest: read for ``later`` alone, which
        # shares only the rare key with them
        assert index.candidates(later, [COLD, OTHER]) == {
            a: (a - ids[0]).to_bytes(4, "big") for a in reversed(ids[:3])
        }
        # and no other signature is read: not those of HOT2's articles past the newest
        assert set(index.hashes) == set(hot) | set(ids[:3])
        # an article of the batch is a candidate of the later ones at once, newest first
        index.add(new, b"sig", [HOT, COLD], "text", "hnew")
        got = index.candidates(later, [COLD, OTHER])
        assert list(got) == [new, *reversed(ids[:3])]


def test_logged_articles_are_candidates_on_sqlite(engine: Engine) -> None:
    """Recent band keys are in the log until a merge: found like the merged ones."""
    ids = _stored(engine, MAX_CANDIDATES + 5)
    with session_scope(engine) as s:
        sql = PlainSql(s)
        logged = ids[-1]
        sql.run("DELETE FROM dedup_band WHERE article_id = %s", (logged,))
        band_log.append(sql, [(logged, [HOT, OTHER])])
    with session_scope(engine) as s:
        index = BandIndex(PlainSql(s), [(logged + 1, [OTHER])])
        assert list(index.candidates(logged + 1, [OTHER])) == [logged]
