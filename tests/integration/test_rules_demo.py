"""Issue 6, "done when": the shipped rules over the demo corpus and the seed articles.

The whole chain runs (fetch from the local demo server, dedup, extract, rules), through
the command line, in both orders; then a replay over the stored history must show the
same alerts without storing any.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.app import evaluation
from monitor.rules.loader import load_rules
from monitor.store import alerts as alert_rows
from monitor.store.db import make_engine, session_scope
from tests.conftest import CHANNELS

ROOT = Path(__file__).resolve().parents[2]
SEED_TEXTS = sorted((ROOT.parent / "shared" / "seeds").glob("*.txt"))


def monitor(*args: str, db: str, cwd: Path) -> str:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "MONITOR_DATABASE_URL": db}
    out = subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def expect_mission_alerts(titles_by_rule: Counter[str], titles: list[str]) -> None:
    assert titles_by_rule["alibaba-capex-change"] == 1, titles
    assert any("$53 billion -> $66 billion" in t for t in titles), titles
    # "$52 billion" alone is RMB 380 billion converted at another outlet's rate: one
    # figure, not sources that disagree (issue 13, point 5)
    assert titles_by_rule["alibaba-capex-conflict"] == 0, titles
    assert not any("vs $52 billion" in t for t in titles), titles
    assert titles_by_rule["alibaba-chip-export-controls"] == 1, titles
    qwen = sorted(t.removeprefix("New Qwen model: ") for t in titles if "Qwen model" in t)
    assert qwen == sorted(set(qwen))  # one alert per name
    assert {"Qwen3", "Qwen3-Max", "Qwen3-Omni"} <= set(qwen)


@pytest.mark.slow
@pytest.mark.parametrize("seeds_first", [False, True])
def test_demo_and_seeds_give_the_mission_alerts(tmp_path: Path, seeds_first: bool) -> None:
    if not SEED_TEXTS:
        pytest.skip("../shared/seeds is not beside the project (the seed articles)")
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    # the demo polls into the database named with --db (never MONITOR_DATABASE_URL's)
    steps = [("--db", db, "demo", "--seeds", "seeds"), ("ingest", *map(str, SEED_TEXTS))]
    for step in reversed(steps) if seeds_first else steps:
        monitor(*step, db=db, cwd=tmp_path)
    stored = json.loads(monitor("alerts", "--json", db=db, cwd=tmp_path))
    titles = [a["title"] for a in stored]
    expect_mission_alerts(Counter(a["rule"] for a in stored), titles)
    assert not any(a["rule"].startswith("tencent-") and "capex" in a["rule"] for a in stored)

    rules = load_rules(ROOT / "rules", channels=CHANNELS)
    engine = make_engine(db)
    with session_scope(engine) as s:
        drafts = evaluation.replay(s, rules, since=None, now=datetime.now(UTC))
        assert len(alert_rows.list_alerts(s, since=None, limit=1000)) == len(stored)
    engine.dispose()
    replayed = [d.title for d in drafts]
    expect_mission_alerts(Counter(d.rule_id for d in drafts), replayed)
