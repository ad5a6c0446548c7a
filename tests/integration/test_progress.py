"""Long work says how far it is (issue 16, point 4): ingest, poll, rules test and a
database upgrade, as lines on stderr when it is not a terminal."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.cli import progress
from monitor.store.db import HEAD, alembic_config, make_engine, upgrade
from tests.integration.conftest import Result

ARTICLE = (
    "Alibaba said on Tuesday it would spend RMB 380 billion on AI and cloud infrastructure "
    "over three years, more than it spent in the past decade. Shares rose 4.5% in Hong Kong."
)


def test_progress_line_counts_rate_and_time_left(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = iter([100.0, 110.0, 115.0])
    monkeypatch.setattr(time, "monotonic", lambda: next(ticks))  # progress calls time.monotonic()
    p = progress.Progress("ingest", total=40, unit="files")
    p.advance(10, note="10 new")
    assert p.line(115.0) == "ingest: 10/40 files (1/s, 45 s left); 10 new"


def test_ingest_off_a_terminal_prints_progress_lines_then_the_summary(
    run: Callable[..., Result], db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "EVERY", 0.0)  # a line at every file
    folder = tmp_path / "news"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.txt").write_text(f"Alibaba plan {i}\n\n{ARTICLE} Note {i}.")
    r = run("ingest", "--recursive", str(folder), db=db)
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("ingest: ")]
    assert [ln.split(" (")[0] for ln in lines] == [f"ingest: {i}/3 files" for i in (1, 2, 3)]
    assert r.stderr.strip().splitlines()[-1].startswith("ingested 3 article(s) from 3 file(s)")


def test_rules_test_reports_each_rule_done(
    run: Callable[..., Result], db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "EVERY", 0.0)
    (tmp_path / "a.txt").write_text(f"Alibaba plan\n\n{ARTICLE}")
    assert run("ingest", str(tmp_path / "a.txt"), db=db).returncode == 0
    r = run("rules", "test", db=db)
    assert r.returncode == 0, r.stderr
    counts = [ln.split(" (")[0] for ln in r.stderr.splitlines() if ln.startswith("rules test: ")]
    assert counts[0].startswith("rules test: 0/")  # reading history, before any rule
    total = int(counts[0].split("/")[1].split()[0])
    assert counts[-1] == f"rules test: {total}/{total} rules"


def test_upgrade_reports_each_migration_applied(tmp_path: Path) -> None:
    from alembic import command

    engine = make_engine(f"sqlite:///{tmp_path}/old.db")
    cfg = alembic_config(engine)
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005")
        conn.commit()
    steps: list[tuple[int, int, str | None]] = []
    assert upgrade(engine, on_step=lambda *s: steps.append(s)) == HEAD
    assert steps == [
        (0, 11, "0005"),
        (1, 11, "0006"),
        (2, 11, "0007"),
        (3, 11, "0008"),
        (4, 11, "0009"),
        (5, 11, "0010"),
        (6, 11, "0011"),
        (7, 11, "0012"),
        (8, 11, "0013"),
        (9, 11, "0014"),
        (10, 11, "0015"),
        (11, 11, "0016"),
    ]
    steps.clear()
    upgrade(engine, on_step=lambda *s: steps.append(s))
    assert steps == []  # at the newest already: nothing to say


def test_an_upgrade_that_waited_for_another_process_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two commands started on an old database: one waits for the other's upgrade and
    applies nothing; it said "upgraded to 0016: 0 migration(s) applied"."""
    from monitor.cli import base
    from monitor.store import db

    def waited(engine: object, *, on_step: Callable[[int, int, str | None], None]) -> str:
        on_step(0, 3, "0013")  # older when it looked, at the newest once the lock was its
        return HEAD

    monkeypatch.setattr(db, "upgrade", waited)
    assert base.upgrade_with_progress(None) == HEAD  # type: ignore[arg-type]
    err = capsys.readouterr().err
    assert f"database upgraded to {HEAD} by another process meanwhile" in err
    assert "0 migration" not in err
