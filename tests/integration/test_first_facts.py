"""A story's facts are compared with a joining article's through the first of each kind
(migration 0015): many rewrites restate the same figures, and each joining article read
them all. Which facts are new must not change for it, after retention deletes the first
ones too; and a database stored before 0015 gets its first facts marked."""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict

import sqlalchemy as sa
from alembic import command

from monitor.app.placement import mark_new_facts
from monitor.fetch.local import read_local
from monitor.pipeline import Pipeline
from monitor.rules.loader import load_rules
from monitor.settings import Settings
from monitor.store import retention
from monitor.store.db import HEAD, alembic_config, make_engine, session_scope, upgrade
from monitor.store.plain_sql import PlainSql
from monitor.values import Fact, FetchedArticle
from tests.conftest import CHANNELS, RULES, SEEDS

KIND = "story_id, entity, metric, value, unit, currency, alt_value, alt_currency"
ROWS = f"SELECT id, {KIND}, new_to_story, first_in_story, article_id FROM fact ORDER BY id"


def _plain(word: str) -> bool:
    return word.isalpha() and not word.endswith("illion")  # not a figure's scale


def _copies(n: int, *, first: int = 0) -> list[FetchedArticle]:
    """Copies of one seed article, each with other words edited (so none is an exact copy)."""
    (seed, *_) = read_local(SEEDS / "site" / "articles" / "alibaba-bets-the-house-on-ai.html")
    words = seed.text.split(" ")
    out = []
    for i in range(first, first + n):
        edited = [w + "s" if j % 97 == i % 97 and _plain(w) else w for j, w in enumerate(words)]
        out.append(
            dataclasses.replace(
                seed, url=f"https://copies.test/{i}", guid=f"copy-{i}", text=" ".join(edited)
            )
        )
    return out


def _rows(engine: sa.Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(ROWS)).all()]


def _kinds(rows: list[tuple[object, ...]]) -> dict[tuple[object, ...], list[tuple[object, ...]]]:
    out: dict[tuple[object, ...], list[tuple[object, ...]]] = defaultdict(list)
    for r in rows:
        out[r[1:9]].append(r)
    return out


def _ingest(any_url: str, items: list[FetchedArticle]) -> None:
    engine = make_engine(any_url)
    upgrade(engine)
    pipe = Pipeline(Settings(), engine, load_rules(RULES, channels=CHANNELS))
    for i in range(0, len(items), 10):
        pipe.ingest(items[i : i + 10], source="copies")
    engine.dispose()


def test_each_kind_of_fact_is_marked_first_once_and_read_through_its_index(any_url: str) -> None:
    changed = _copies(1, first=500)[0]
    figure = re.search(r"\$(\d+) billion", changed.text)
    assert figure is not None  # the seed states an amount in billions
    other = f"${int(figure.group(1)) + 7} billion"
    changed = dataclasses.replace(changed, text=changed.text.replace(figure.group(), other, 1))
    _ingest(any_url, [*_copies(25), changed])
    engine = make_engine(any_url)
    rows = _rows(engine)
    stories = {r[1] for r in rows}
    assert len(stories) == 1  # the copies are one story
    kinds = _kinds(rows)
    assert len(rows) > 5 * len(kinds)  # every copy restates the story's figures
    for kind, group in kinds.items():
        firsts = [r for r in group if r[10]]
        assert [r[0] for r in firsts] == [group[0][0]], kind  # the earliest, alone
        assert not any(r[9] for r in group[1:]), kind  # a restatement is not new
    (told,) = [r for r in rows if r[4] == (int(figure.group(1)) + 7) * 1e9]
    assert told[9] and told[10]  # the changed figure: new, and the first of its kind
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            plan = conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT entity FROM fact WHERE story_id = ?"
                " AND first_in_story AND value BETWEEN ? AND ?",
                (1, 0.0, 1.0),
            ).all()
        assert "ix_fact_story_id_value" in str(plan)
    engine.dispose()


def test_retention_marks_the_next_first_and_restatements_stay_old(any_url: str) -> None:
    _ingest(any_url, _copies(12))
    engine = make_engine(any_url)
    first_article = _rows(engine)[0][-1]
    with session_scope(engine) as s:
        # nothing refers to the first any more (retention deletes only such articles):
        # the others as rewrites that joined the story on their own, not its copies, and
        # the names it was first to tell seen first by the last
        s.execute(sa.text("UPDATE article SET duplicate_of = NULL"))
        s.execute(sa.text("UPDATE term SET first_article_id = (SELECT MAX(id) FROM article)"))
        sql = PlainSql(s)
        assert not retention.referenced(sql, [int(str(first_article))])
        stories = retention.stories_of(sql, [int(str(first_article))])
        retention.delete_articles(sql, [int(str(first_article))], [])
        retention.recount_stories(sql, stories)
    for kind, group in _kinds(_rows(engine)).items():
        assert any(r[10] for r in group), kind  # each kind the story holds is still read
    (sid,) = stories
    with session_scope(engine) as s:
        held = [
            Fact(e, m, v, u, "", "", (0, 0), 1.0, c, alt_value=av, alt_currency=ac)
            for _, e, m, v, u, c, av, ac in s.execute(sa.text(f"SELECT {KIND} FROM fact")).all()
        ]
        assert mark_new_facts(s, sid, held) == [False] * len(held)
    engine.dispose()


def test_a_database_stored_before_0015_gets_its_first_facts_marked(any_url: str) -> None:
    _ingest(any_url, _copies(12))
    engine = make_engine(any_url)
    before = _rows(engine)
    cfg = alembic_config(engine)
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0014")
        conn.commit()
        assert "first_in_story" not in {c["name"] for c in sa.inspect(conn).get_columns("fact")}
    assert upgrade(engine) == HEAD
    assert _rows(engine) == before
    engine.dispose()
