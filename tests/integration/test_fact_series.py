"""Facts carry their article's time, source and writer (migration 0010), as stored by the
ingest and as filled in for facts stored before; a series is read from them."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from monitor.cli import main
from monitor.store import series_rows
from monitor.store.db import (
    HEAD,
    alembic_config,
    current_revision,
    make_engine,
    session_scope,
    upgrade,
)
from tests.conftest import RULES, SEEDS

COPIED = (
    "SELECT f.id, f.sort_at, a.sort_at, f.source_id, a.source_id, f.ai_generated,"
    " a.ai_generated FROM fact f JOIN article a ON a.id = f.article_id"
)


def _copied_right(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(COPIED)).all()
    for fid, f_at, a_at, f_src, a_src, f_ai, a_ai in rows:
        assert (f_at, f_src, bool(f_ai)) == (a_at, a_src, bool(a_ai)), f"fact {fid}"
    return len(rows)


def test_facts_carry_their_articles_time_source_and_writer_and_old_ones_are_filled(
    any_url: str,
) -> None:
    pages = sorted((SEEDS / "site" / "articles").glob("*.html"))
    args = ["--db", any_url, "--rules", str(RULES), "ingest", "--source", "ainvest-site"]
    assert main([*args, *map(str, pages)]) == 0
    engine = make_engine(any_url)
    stored = _copied_right(engine)
    assert stored > 10  # the seeds give facts: the check above looked at some
    cfg = alembic_config(engine)
    with engine.connect() as conn:  # as a database stored before 0010
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0009")
        conn.commit()
        assert "sort_at" not in {c["name"] for c in sa.inspect(conn).get_columns("fact")}
    assert upgrade(engine) == current_revision(engine) == HEAD
    assert _copied_right(engine) == stored
    with session_scope(engine) as session:
        (entity, metric, n), *_ = session.execute(
            sa.text(
                "SELECT entity, metric, COUNT(*) FROM fact WHERE entity IS NOT NULL"
                " GROUP BY entity, metric ORDER BY COUNT(*) DESC, entity, metric"
            )
        ).all()
        points = series_rows.series_points(session, metric=metric, entity=entity, limit=10**6)
        newest = series_rows.series_points(session, metric=metric, entity=entity, limit=2)
    assert len(points) == n
    assert [(p.at, p.fact_id) for p in points] == sorted((p.at, p.fact_id) for p in points)
    assert newest == points[-2:]  # the newest, still in time order
    engine.dispose()
