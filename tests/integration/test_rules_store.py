"""Rules against a real SQLite store: state survives restarts, alerts are never duplicated."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from monitor.app import evaluation
from monitor.cli.base import emit_json
from monitor.models import Alert, Article, FactRow, Mention, RuleState, Source, Story, Term
from monitor.rules.loader import FileResult, RuleSet, assemble, parse_text
from monitor.store import alerts as alert_rows
from monitor.store import rule_rows
from monitor.store.db import make_engine, session_scope, upgrade
from monitor.store.plain_sql import PlainSql
from monitor.values import EvalInput

T0 = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=3)
CHANNELS = {"email", "slack", "webhook", "log"}
_n = itertools.count(1)

VOCAB = """
entities:
  alibaba: {names: [Alibaba]}
metrics:
  ai_capex_plan: {kind: money, label: AI and cloud capex plan, cues: [invest]}
terms:
  qwen_models: {pattern: '\\bQwen[0-9][0-9.]*(?:-[A-Za-z0-9.]+)*'}
topics:
  chip_export_controls: {phrases: [export controls]}
"""

RULES = """
rules:
  - id: capex
    when: {change: {entity: alibaba, metric: ai_capex_plan, currency: USD, by: 2%}}
    confirm: {stories: 2, within: 180d}
    trust: {ai: count}
    severity: high
    notify: [slack]
    send: immediate
  - id: capex-conflict
    when: {conflict: {entity: alibaba, metric: ai_capex_plan, currency: USD}}
    trust: {ai: count}
  - id: qwen
    when: {new_term: qwen_models}
  - id: export
    when: {topic: {topic: chip_export_controls, entity: alibaba}}
    trust: {ai: count}
  - id: stale-source
    when: {stale: {source: "*", after: 2d}}
"""


def ruleset() -> RuleSet:
    results = []
    for name, text in (("vocabulary.yaml", VOCAB), ("rules.yaml", RULES)):
        parsed, problems = parse_text(text, name)
        results.append(FileResult(name, "", parsed, problems))
    rs = assemble(results, channels=CHANNELS)
    assert rs.problems == ()
    return rs


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'rules.db'}")
    upgrade(engine)
    return engine


def add_source(s: Session, name: str, last_new: datetime | None = None) -> int:
    row = Source(name=name, url=f"https://{name}.test/feed", last_new_item_at=last_new or NOW)
    s.add(row)
    s.flush()
    assert row.id is not None
    return row.id


def add_story(s: Session, at: datetime) -> int:
    row = Story(title="story", main_entity="alibaba", first_seen_at=at, last_seen_at=at)
    s.add(row)
    s.flush()
    assert row.id is not None
    return row.id


def add_article(
    s: Session,
    source_id: int,
    story_id: int | None,
    at: datetime,
    *,
    facts: list[tuple[float, str]] = (),  # type: ignore[assignment]
    terms: list[str] = (),  # type: ignore[assignment]
    topics: list[str] = (),  # type: ignore[assignment]
    ai: bool = True,
) -> int:
    n = next(_n)
    art = Article(
        source_id=source_id,
        entry_key=f"k{n}",
        url=f"https://news.test/{n}",
        title=f"a{n}",
        first_seen_at=at,
        sort_at=at,
        content_hash=f"h{n}",
        ai_generated=ai,
        story_id=story_id,
    )
    s.add(art)
    s.flush()
    assert art.id is not None
    for value, surface in facts:
        s.add(
            FactRow(
                article_id=art.id,
                story_id=story_id,
                entity="alibaba",
                metric="ai_capex_plan",
                value=value,
                unit="money",
                currency="USD",
                surface=surface,
                quote=f"Alibaba will invest {surface}.",
                span_start=0,
                span_end=5,
                confidence=0.9,
                created_at=at,
                qualifiers={},
            )
        )
    for term in terms:
        s.add(
            Mention(
                article_id=art.id,
                kind="term",
                name="qwen_models",
                value=term,
                quote=f"{term} launched.",
                span_start=0,
                span_end=len(term),
            )
        )
    for phrase in topics:
        s.add(
            Mention(
                article_id=art.id,
                kind="topic",
                name="chip_export_controls",
                value=phrase,
                entity="alibaba",
                quote=f"... {phrase} ...",
                span_start=0,
                span_end=3,
            )
        )
    s.flush()
    return art.id


def alert_count(engine: Engine) -> int:
    with session_scope(engine) as s:
        return int(s.exec(select(func.count()).select_from(Alert)).one())


def seed_history(engine: Engine) -> tuple[list[int], list[int]]:
    """Two batches: the $53B plan (and a $52B outlier), then the raise to $66B."""
    with session_scope(engine) as s:
        wire, site, markets = (add_source(s, n) for n in ("wire", "site", "markets"))
        a, b = add_story(s, T0), add_story(s, T0 + timedelta(hours=5))
        first = [
            add_article(s, wire, a, T0, facts=[(53e9, "$53 billion")], terms=["Qwen3"]),
            add_article(s, site, a, T0 + timedelta(hours=1), facts=[(53e9, "$53 billion")]),
            add_article(s, markets, a, T0 + timedelta(hours=2), facts=[(52e9, "$52 billion")]),
            add_article(
                s,
                site,
                b,
                T0 + timedelta(hours=5),
                facts=[(53e9, "$53 billion")],
                topics=["export controls"],
            ),
        ]
        c, d = add_story(s, T0 + timedelta(days=1)), add_story(s, T0 + timedelta(days=2))
        second = [
            add_article(
                s,
                wire,
                c,
                T0 + timedelta(days=1),
                facts=[(66e9, "$66 billion"), (53e9, "$53 billion")],
                terms=["Qwen3", "Qwen3-Max"],
            ),
            add_article(s, site, d, T0 + timedelta(days=2), facts=[(66e9, "$66 billion")]),
        ]
    return first, second


def test_evaluating_twice_or_after_a_restart_adds_no_alert(engine: Engine, tmp_path: Path) -> None:
    restart_scenario(engine, lambda: make_engine(f"sqlite:///{tmp_path / 'rules.db'}"))


@pytest.mark.postgres
def test_evaluating_twice_or_after_a_restart_adds_no_alert_postgres(pg_url: str) -> None:
    engine = make_engine(pg_url)
    upgrade(engine)
    restart_scenario(engine, lambda: make_engine(pg_url))


def restart_scenario(engine: Engine, reopen: Callable[[], Engine]) -> None:
    rs = ruleset()
    first, second = seed_history(engine)
    with session_scope(engine) as s:
        new = evaluation.run_rules(s, rs, article_ids=first, now=T0 + timedelta(hours=6))
    with session_scope(engine) as s:
        rows = s.exec(select(Alert).order_by(col(Alert.id))).all()
        assert [r.rule_id for r in rows] == ["qwen", "capex-conflict", "export"]
        assert sorted(new) == sorted(r.id for r in rows if r.id is not None)
    with session_scope(engine) as s:
        again = evaluation.run_rules(s, rs, article_ids=first, now=T0 + timedelta(hours=7))
    assert again == []
    with session_scope(engine) as s:
        new = evaluation.run_rules(s, rs, article_ids=second, now=T0 + timedelta(days=2, hours=1))
        assert len(new) == 2  # the capex change and the new Qwen3-Max
    engine.dispose()
    # a restart: a new engine on the same database, state from the database only
    restarted = reopen()
    with session_scope(restarted) as s:
        assert evaluation.run_rules(s, rs, article_ids=first + second, now=NOW) == []
    with session_scope(restarted) as s:
        rows = s.exec(select(Alert).where(Alert.rule_id == "capex")).all()
        (capex,) = rows
        assert (capex.old_value, capex.new_value) == (53e9, 66e9)
        assert capex.severity == "high" and capex.immediate and capex.channels == ["slack"]
        assert "$53 billion -> $66 billion" in capex.title
        # lost state (say, a rule_state restore from an old backup): keys still hold
        for row in s.exec(select(RuleState)).all():
            s.delete(row)
    with session_scope(restarted) as s:
        assert evaluation.run_rules(s, rs, article_ids=first + second, now=NOW) == []
    assert alert_count(restarted) == 5
    with session_scope(restarted) as s:
        terms = {(t.term, t.first_article_id) for t in s.exec(select(Term)).all()}
    assert terms == {("Qwen3", first[0]), ("Qwen3-Max", second[0])}
    restarted.dispose()


def test_list_alerts_is_json_ready_and_names_who_said_what(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    rs = ruleset()
    first, _ = seed_history(engine)
    with session_scope(engine) as s:
        evaluation.run_rules(s, rs, article_ids=first, now=T0 + timedelta(hours=6))
    with session_scope(engine) as s:
        listed = alert_rows.list_alerts(s, since=None, limit=10)
        assert alert_rows.list_alerts(s, since=NOW + timedelta(days=1), limit=10) == []
    emit_json(listed)
    shown = json.loads(capsys.readouterr().out)
    conflict = next(a for a in shown if a["rule"] == "capex-conflict")
    assert conflict["old"] == 52e9 and conflict["new"] == 53e9
    assert "$53 billion (site, wire) vs $52 billion (markets)" in conflict["title"]
    assert {e["source"] for e in conflict["evidence"]} == {"wire", "site", "markets"}
    assert all(e["url"].startswith("https://news.test/") for e in conflict["evidence"])
    assert set(conflict) >= {
        "id",
        "rule",
        "severity",
        "entity",
        "metric",
        "old",
        "new",
        "story_id",
        "created_at",
        "evidence",
    }
    assert listed[0].id == shown[0]["id"]


def test_replay_shows_what_would_fire_and_writes_nothing(engine: Engine) -> None:
    rs = ruleset()
    seed_history(engine)
    with session_scope(engine) as s:
        drafts = evaluation.replay(s, rs, since=None, now=NOW)
    assert sorted(d.rule_id for d in drafts) == [
        "capex",
        "capex-conflict",
        "export",
        "qwen",
        "qwen",
    ]
    assert alert_count(engine) == 0
    with session_scope(engine) as s:
        assert s.exec(select(RuleState)).all() == []
        later = evaluation.replay(s, rs, since=T0 + timedelta(days=1), now=NOW)
        cold = evaluation.replay(s, rs, since=T0 + timedelta(days=1), now=NOW, warmup=None)
    # history before the period is read, not shown: the change has its old value, and
    # Qwen3 (seen before) is not new
    assert sorted(d.rule_id for d in later) == ["capex", "qwen"]
    assert [d.payload["term"] for d in later if d.rule_id == "qwen"] == ["Qwen3-Max"]
    # without warm-up: no value to change from, and Qwen3 looks new
    assert sorted(d.rule_id for d in cold) == ["qwen", "qwen"]


def test_stale_source_from_the_store(engine: Engine) -> None:
    rs = ruleset()
    with session_scope(engine) as s:
        add_source(s, "quiet", last_new=NOW - timedelta(days=3))
        add_source(s, "busy", last_new=NOW - timedelta(hours=1))
    with session_scope(engine) as s:
        new = evaluation.run_rules(s, rs, article_ids=[], now=NOW)
        assert len(new) == 1
    with session_scope(engine) as s:
        assert evaluation.run_rules(s, rs, article_ids=[], now=NOW + timedelta(hours=1)) == []
        (row,) = s.exec(select(Alert)).all()
        assert row.rule_id == "stale-source" and "quiet" in row.title


def test_gather_input_builds_stories_and_activity(engine: Engine) -> None:
    _first, second = seed_history(engine)
    with session_scope(engine) as s:
        batch = rule_rows.gather_input(
            s, article_ids=second, since=None, now=NOW, lookback=timedelta(days=30)
        )
    assert {f.article.source for f in batch.facts} == {"wire", "site"}
    assert all(f.article.sort_at.tzinfo is not None for f in batch.facts)
    assert len(batch.stories) == 4
    assert all(st.started_at.tzinfo is not None for st in batch.stories)
    assert all("alibaba" in st.entities for st in batch.stories)
    assert sum("chip_export_controls" in st.topics for st in batch.stories) == 1
    assert len(batch.batch_story_ids) == 2
    assert {src.name for src in batch.sources} == {"wire", "site", "markets"}


def _gathered(
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    article_ids: list[int],
    counted: tuple[frozenset[str], frozenset[str]],
) -> tuple[EvalInput, list[tuple[str, tuple[object, ...]]]]:
    """A batch's rule input, with the plain-SQL statements that read it."""
    statements: list[tuple[str, tuple[object, ...]]] = []
    real_rows = PlainSql.rows

    def recording(self: PlainSql, sql: str, params: Sequence[object]) -> list[object]:
        statements.append((sql.replace("%s", self.mark), tuple(params)))
        return real_rows(self, sql, params)

    monkeypatch.setattr(PlainSql, "rows", recording)
    with session_scope(engine) as s:
        batch = rule_rows.gather_input(
            s,
            article_ids=article_ids,
            since=None,
            now=NOW,
            lookback=timedelta(days=30),
            counted=counted,
        )
    return batch, statements


def test_the_windows_stories_are_read_from_index_pages(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's count rules read every story of the look-back window and the companies
    its facts name. In SQLite an article's story_id lies after its text in the row (past
    the text's overflow pages): the window and the facts' companies come from covering
    indexes (migration 0011), never from the rows. Nor is a story's row (with its
    profile) read to test its company: the companies' stories are one set."""
    _first, second = seed_history(engine)
    batch, statements = _gathered(
        engine, monkeypatch, second, (frozenset({"alibaba"}), frozenset())
    )
    assert len(batch.stories) == 4
    window = [(q, p) for q, p in statements if q.startswith("WITH recent")]
    companies = [(q, p) for q, p in statements if "entity FROM fact WHERE story_id IN" in q]
    assert window and companies
    with engine.connect() as conn:
        for sql, params in [*window, *companies]:
            plan = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)]
            # the steps that read article or fact (aliased a and f in the subqueries)
            reads = [
                step
                for step in plan
                if step.split()[0] in ("SEARCH", "SCAN")
                and step.split()[1] in ("article", "fact", "a", "f")
            ]
            assert reads and all("COVERING INDEX" in step for step in reads), plan
            assert any("ix_fact_story_id_entity" in step for step in reads), plan
        (window_sql, params), *_ = window
        plan = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {window_sql}", params)]
        assert any("COVERING INDEX ix_article_sort_at_story_id" in step for step in plan), plan
        stories = [
            step
            for step in plan
            if step.split()[0] in ("SEARCH", "SCAN") and step.split()[1] in ("story", "s")
        ]
        assert stories and all("COVERING INDEX ix_story_scan" in s for s in stories), plan


def test_a_counted_topic_is_looked_up_in_each_storys_own_mentions(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule counting a topic's stories: each story of the window is tested on its own
    articles' mentions, never by reading every mention of the topic through the name
    index once per story (at 50,000 stored articles, 38 s a batch)."""
    first, _second = seed_history(engine)  # the first batch names the topic
    batch, statements = _gathered(
        engine, monkeypatch, first, (frozenset(), frozenset({"chip_export_controls"}))
    )
    assert sum("chip_export_controls" in st.topics for st in batch.stories) == 1
    (sql, params), *_ = [(q, p) for q, p in statements if q.startswith("WITH recent")]
    assert "m.kind = 'topic'" in sql
    with engine.connect() as conn:
        plan = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)]
    mentions = [step for step in plan if step.startswith(("SEARCH m ", "SCAN m"))]
    assert mentions and all("ix_mention_article_id" in step for step in mentions), plan


def test_a_copy_without_a_story_counts_as_its_originals_story(engine: Engine) -> None:
    with session_scope(engine) as s:
        src = add_source(s, "wire")
        story = add_story(s, T0)
        original = add_article(s, src, story, T0, facts=[(53e9, "$53 billion")])
        copy = add_article(s, src, None, T0, facts=[(53e9, "$53 billion")])
        row = s.get(Article, copy)
        assert row is not None
        row.duplicate_of = original
        s.add(row)
    with session_scope(engine) as s:
        batch = rule_rows.gather_input(
            s, article_ids=[original, copy], since=None, now=NOW, lookback=timedelta(days=30)
        )
    assert {f.article.story_key for f in batch.facts} == {f"s{story}"}


def test_prune_state_forgets_removed_rules_only(engine: Engine) -> None:
    rs = ruleset()
    with session_scope(engine) as s:
        rule_rows.save_state(s, {("capex", "k"): {"a": 1}, ("gone", "k"): {"b": 2}}, NOW)
    with session_scope(engine) as s:
        assert evaluation.prune_state(s, rs) == 1
    with session_scope(engine) as s:
        assert rule_rows.load_state(s) == {("capex", "k"): {"a": 1}}


def test_saved_state_replaces_the_key_and_keeps_the_others(engine: Engine) -> None:
    state_round_trip(engine)


@pytest.mark.postgres
def test_saved_state_replaces_the_key_and_keeps_the_others_postgres(pg_engine: Engine) -> None:
    state_round_trip(pg_engine)


def state_round_trip(engine: Engine) -> None:
    later = NOW + timedelta(hours=1)
    with session_scope(engine) as s:
        rule_rows.save_state(s, {("capex", "a"): {"n": 1}, ("capex", "b"): {"n": 2}}, NOW)
    with session_scope(engine) as s:
        rule_rows.save_state(s, {("capex", "a"): {"n": 3, "seen": ["x"]}}, later)
        rule_rows.save_state(s, {}, later)  # nothing to write writes nothing
    with session_scope(engine) as s:
        assert rule_rows.load_state(s) == {
            ("capex", "a"): {"n": 3, "seen": ["x"]},
            ("capex", "b"): {"n": 2},
        }
        stamps = {r.key: r.updated_at for r in s.exec(select(RuleState)).all()}
    assert stamps == {"a": later, "b": NOW}


@pytest.mark.postgres
def test_two_workers_evaluating_at_once_lose_no_state_postgres(pg_url: str) -> None:
    """Each worker's batch is one story; together they confirm the value (no lost update)."""
    engine = make_engine(pg_url)
    upgrade(engine)
    rules = ruleset()
    with session_scope(engine) as s:
        src = add_source(s, "wire")
        batches = [
            [add_article(s, src, add_story(s, T0), T0, facts=[(53e9, "$53 billion")])],
            [add_article(s, src, add_story(s, T0), T0, facts=[(53e9, "$53 billion")])],
        ]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker(ids: list[int]) -> None:
        try:
            with session_scope(engine) as s:
                s.exec(select(func.count()).select_from(Source)).one()  # begin the transaction
                barrier.wait(timeout=30)
                evaluation.run_rules(s, rules, article_ids=ids, now=NOW)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(ids,)) for ids in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with session_scope(engine) as s:
        state = rule_rows.load_state(s)
    engine.dispose()
    capex = state[("capex", "alibaba/ai_capex_plan/USD")]
    # both stories were counted: without the lock one worker's report is overwritten
    assert "confirmed" in capex and capex["confirmed"]["value"] == 53e9
    assert len(capex["confirmed"]["stories"]) == 2
