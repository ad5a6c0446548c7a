"""Two processes writing one SQLite file wait for each other; none sees "database is locked"
(RELIABILITY S7: WAL, busy timeout, and BEGIN IMMEDIATE so a reader never has to upgrade
its lock mid-transaction)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from tests.conftest import ROOT, SEEDS


def test_two_processes_ingest_into_one_sqlite_file(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MONITOR_DATABASE_URL": db}
    subprocess.run(
        [sys.executable, "-m", "monitor", "db", "upgrade"],
        check=True,
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    pages = sorted((SEEDS / "site" / "articles").glob("*.html"))
    feeds = [SEEDS / "feeds" / "markets.rss"]
    # the same files twice each, interleaved, so both writers insert and collide often
    jobs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "monitor",
                "ingest",
                "--source",
                f"w{i}",
                *map(str, (pages if i % 2 else feeds)),
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    results = [job.communicate(timeout=300) for job in jobs]
    for job, (_, err) in zip(jobs, results, strict=True):
        assert job.returncode == 0, err
        assert "database is locked" not in err
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        urls = conn.exec_driver_sql("select count(distinct url), count(*) from article").one()
    engine.dispose()
    assert urls[0] == urls[1] == len(pages) + 5  # each article once, whoever stored it
