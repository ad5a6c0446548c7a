"""Retention: old bodies and articles go, what a live story or the rules still need stays."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.app import retention
from monitor.fetch.local import read_local
from monitor.pipeline import Pipeline
from monitor.rules.loader import load_rules
from monitor.settings import Settings
from monitor.store.band_index import band_rows
from monitor.store.db import session_scope
from tests.conftest import CHANNELS, RULES

NOW = datetime.now(UTC)
TEXTS = {
    "dead": "Baidu said it would spend RMB 12 billion on new data centres in Shanxi over "
    "two years, a plan its chief financial officer called the largest in its history.",
    "live": "Xiaomi raised its electric car delivery goal to 350,000 vehicles for the "
    "year after orders for its second model passed 240,000 in a single day.",
    "cited": "Tencent set aside RMB 80 billion for AI servers this year, up from RMB 50 "
    "billion last year, according to its annual results published on Wednesday.",
    "named": "Moonshot released Kimi K2 on Friday, an open model it says rivals the best "
    "coding assistants, and cut the price of its API by half for developers.",
    "middle": "Meituan will invest RMB 20 billion in drone delivery networks across "
    "twelve cities, the company told investors during its quarterly call.",
    "fresh": "JD.com said its logistics arm would hire 10,000 couriers before the "
    "shopping festival, as parcel volumes grew 18% from a year earlier.",
}


def ingest(engine: Engine, tmp_path: Path) -> tuple[Pipeline, dict[str, int]]:
    settings = Settings(database_url=str(engine.url))
    pipe = Pipeline(settings, engine, load_rules(RULES, channels=CHANNELS))
    ids = {}
    for key, text in TEXTS.items():
        path = tmp_path / f"{key}.txt"
        path.write_text(text, encoding="utf-8")
        report = pipe.ingest(read_local(path), source="file")
        ids[key] = report.new_ids[0]
    return pipe, ids


def age(engine: Engine, article_id: int, days: float) -> None:
    at = NOW - timedelta(days=days)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE article SET first_seen_at = :at, sort_at = :at WHERE id = :id"),
            {"at": at.replace(tzinfo=None), "id": article_id},
        )
        conn.execute(
            sa.text(
                "UPDATE story SET first_seen_at = :at, last_seen_at = :at WHERE id ="
                " (SELECT story_id FROM article WHERE id = :id)"
            ),
            {"at": at.replace(tzinfo=None), "id": article_id},
        )


def count(engine: Engine, sql: str, **params: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql), params).scalar_one())


@pytest.mark.parametrize("batch", [1000, 2], ids=["one batch", "batches of two"])
def test_prune_keeps_what_is_needed_and_drops_the_rest(
    engine: Engine, tmp_path: Path, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # batches of two: every batch goes on from the last article the one before it read
    monkeypatch.setattr(retention, "BATCH", batch)
    pipe, ids = ingest(engine, tmp_path)
    for key in ("dead", "live", "cited", "named"):
        age(engine, ids[key], 800)
    age(engine, ids["middle"], 200)
    with engine.begin() as conn:  # the "live" story got a new article yesterday
        conn.execute(
            sa.text(
                "UPDATE story SET last_seen_at = :at WHERE id ="
                " (SELECT story_id FROM article WHERE id = :id)"
            ),
            {"at": (NOW - timedelta(days=1)).replace(tzinfo=None), "id": ids["live"]},
        )
        conn.execute(  # a rule's confirmed value cites the "cited" article as evidence
            sa.text(
                "INSERT INTO rule_state (rule_id, key, state, updated_at) VALUES"
                " ('capex', 'tencent', :state, :at)"
            ),
            {
                "state": json.dumps(
                    {"confirmed": {"value": 8e10}, "evidence": [{"article_id": ids["cited"]}]}
                ),
                "at": NOW.replace(tzinfo=None),
            },
        )
    named = count(engine, "SELECT COUNT(*) FROM term WHERE first_article_id = :id", id=ids["named"])
    assert named, "the model name's first sighting is the 'named' article"
    dead_facts = count(engine, "SELECT COUNT(*) FROM fact WHERE article_id = :id", id=ids["dead"])
    assert dead_facts > 0
    with session_scope(engine) as s:
        assert any(aid == ids["dead"] for _, aid in band_rows(s))

    report = retention.prune(pipe, now=NOW)

    # "live" is no candidate at all; "cited" and "named" are old but still needed
    assert report.articles_deleted == 1 and report.articles_kept == 2
    left = {
        key for key, aid in ids.items()
        if count(engine, "SELECT COUNT(*) FROM article WHERE id = :id", id=aid)
    }  # fmt: skip
    assert left == set(TEXTS) - {"dead"}
    assert count(engine, "SELECT COUNT(*) FROM fact WHERE article_id = :id", id=ids["dead"]) == 0
    with session_scope(engine) as s:
        assert all(aid != ids["dead"] for _, aid in band_rows(s))
    bodies = {
        key: count(engine, "SELECT LENGTH(text) FROM article WHERE id = :id", id=ids[key])
        for key in left
    }
    assert bodies["middle"] == 0 and bodies["fresh"] > 0 and bodies["live"] > 0
    # the facts of a pruned body stay
    assert count(engine, "SELECT COUNT(*) FROM fact WHERE article_id = :id", id=ids["middle"])
    # a second run finds nothing more, and stories still place new articles
    again = retention.prune(pipe, now=NOW)
    assert again.articles_deleted == 0 and again.bodies_dropped == 0
    path = tmp_path / "dead-again.txt"
    path.write_text(TEXTS["dead"], encoding="utf-8")
    assert pipe.ingest(read_local(path), source="file").new == 1


def test_sent_messages_go_after_their_days_and_dead_letters_stay(engine: Engine) -> None:
    old = (NOW - timedelta(days=40)).replace(tzinfo=None)
    with engine.begin() as conn:
        for key, status in (("a", "sent"), ("b", "dead"), ("c", "sent")):
            conn.execute(
                sa.text(
                    "INSERT INTO delivery (unique_key, kind, channel, recipient, part, parts,"
                    " message_id, status, attempts, next_attempt_at, created_at, sent_at,"
                    " lease_token) VALUES (:k, 'digest', 'desk', '', 1, 1, :k, :s, 1, :at,"
                    " :at, :sent, 0)"
                ),
                {"k": key, "s": status, "at": old, "sent": old if key == "a" else None},
            )
    pipe = Pipeline(
        Settings(database_url=str(engine.url)), engine, load_rules(RULES, channels=CHANNELS)
    )
    assert retention.prune(pipe, now=NOW).deliveries_deleted == 1
    with engine.connect() as conn:
        left = sorted(r[0] for r in conn.execute(sa.text("SELECT unique_key FROM delivery")))
    assert left == ["b", "c"]


def _aged_database(tmp_path: Path, name: str) -> tuple[str, dict[str, int]]:
    from monitor.store.db import make_engine, upgrade

    url = f"sqlite:///{tmp_path / name}"
    engine = make_engine(url)
    upgrade(engine)
    _, ids = ingest(engine, tmp_path)
    age(engine, ids["dead"], 800)  # past article_days: deleted with its facts
    age(engine, ids["middle"], 200)  # past text_days: its body goes, its facts stay
    engine.dispose()
    return url, ids


def _env(url: str, tmp_path: Path, **more: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(
        PYTHONPATH=str(RULES.parent), MONITOR_DATABASE_URL=url, MONITOR_RULES__DIR=str(RULES),
        HOME=str(tmp_path), **more,
    )  # fmt: skip
    return env


def test_monitor_db_prune_applies_the_settings_and_says_what_it_did(tmp_path: Path) -> None:
    import subprocess
    import sys

    url, ids = _aged_database(tmp_path, "cli.db")
    env = _env(url, tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "monitor", "db", "prune", "--json"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    (report,) = json.loads(out.stdout)
    # the old article's body goes first, then the article itself
    assert report["articles_deleted"] == 1 and report["bodies_dropped"] == 2, report
    engine = sa.create_engine(url)
    assert count(engine, "SELECT COUNT(*) FROM article WHERE id = :id", id=ids["dead"]) == 0
    assert count(engine, "SELECT LENGTH(text) FROM article WHERE id = :id", id=ids["middle"]) == 0
    engine.dispose()
    again = subprocess.run(
        [sys.executable, "-m", "monitor", "db", "prune"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 0 and again.stdout.startswith("0 article bodies dropped, 0 art")


def test_the_daemon_runs_retention_on_its_schedule(tmp_path: Path) -> None:
    import subprocess
    import sys

    url, ids = _aged_database(tmp_path, "daemon.db")
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources: []\n", encoding="utf-8")
    env = _env(
        url, tmp_path, MONITOR_SOURCES_FILE=str(sources), MONITOR_RETENTION__INTERVAL="1",
        MONITOR_SCHEDULE__TICK="0.5",
    )  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run"],
        env=env, cwd=tmp_path, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    seen = []
    watchdog = threading.Timer(60, proc.kill)  # a daemon that never prunes fails the test
    watchdog.start()
    try:
        for line in proc.stderr:  # reading is waiting: the daemon says when it pruned
            seen.append(line)
            if "retention: 2 article bodies dropped, 1 articles deleted" in line:
                break
        else:
            raise AssertionError("the daemon ended before pruning:\n" + "".join(seen))
    finally:
        watchdog.cancel()
        proc.terminate()
        rest = proc.communicate(timeout=30)[1]
    assert proc.returncode == 0, rest
    assert "Traceback" not in "".join(seen) + rest
    engine = sa.create_engine(url)
    assert count(engine, "SELECT COUNT(*) FROM article WHERE id = :id", id=ids["dead"]) == 0
    engine.dispose()
