"""`monitor ingest --jobs N`: extraction in worker processes stores what one process
stores, and a worker that dies costs nothing but its speed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench import news_corpus
from tests.bench.compare_instructions import fingerprint
from tests.conftest import ROOT

# What must be stored alike (compare_instructions.SAME, with the facts' quotes); alert
# keys and times hold the clock, so they are left out.
ROWS = {
    "articles": "SELECT id, story_id, duplicate_of, similarity, join_reason FROM article",
    "facts": "SELECT id, article_id, story_id, new_to_story, entity, metric, value, quote"
    " FROM fact",
    "stories": "SELECT id, main_entity, article_count, canonical_article_id, profile FROM story",
    "story keys": "SELECT story_id, company, article_id, unit, currency, value FROM story_key",
    "alerts": "SELECT rule_id, severity, entity, metric, old_value, new_value, story_id FROM alert",
}

# Small batches, so that a few dozen files make several and each one's extraction runs
# while the one before it is stored.
RUN = """
import sys
import monitor.cli.work_cmds as work
work.BATCH = 16
{setup}
from monitor.cli import main
main(sys.argv[1:])
"""

# Kills the workers as the second batch is handed to them.
KILL = """
import os, signal
from monitor.app import extract_pool
handed = []
real = extract_pool.ExtractPool.submit
def submit(self, items):
    handed.append(len(items))
    if len(handed) == 2:
        for pid in list(self._pool._processes):
            os.kill(pid, signal.SIGKILL)
    return real(self, items)
extract_pool.ExtractPool.submit = submit
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("news")
    for i, item in enumerate(news_corpus.generate(70)):
        (out / f"{i:03d}.txt").write_text(f"{item.title}\n\n{item.text}")
    return out


def ingest(tmp: Path, folder: Path, *args: str, setup: str = "") -> tuple[str, dict[str, str]]:
    db = tmp / "m.db"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "MONITOR_DATABASE_URL": f"sqlite:///{db}"}
    done = subprocess.run(
        [sys.executable, "-c", RUN.format(setup=setup), "ingest", "-r", str(folder), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr, fingerprint(db, ROWS)


def test_workers_store_what_one_process_stores(tmp_path: Path, folder: Path) -> None:
    one_err, one = ingest(tmp_path / "one", folder)
    three_err, three = ingest(tmp_path / "three", folder, "--jobs", "3")
    assert three == one
    summary = one_err.strip().splitlines()[-1]
    assert summary.startswith("ingested 70 article(s) from 70 file(s): 70 new")
    assert three_err.strip().splitlines()[-1] == summary
    assert "extracting here" not in three_err


def test_a_killed_worker_costs_its_speed_only(tmp_path: Path, folder: Path) -> None:
    _, one = ingest(tmp_path / "one", folder)
    err, killed = ingest(tmp_path / "killed", folder, "--jobs", "2", setup=KILL)
    assert killed == one
    assert "extracting here" in err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("ingested 70 article(s) from 70 file(s): 70 new")
