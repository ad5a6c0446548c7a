"""The command line contract: exit codes, JSON on stdout only, located rule errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, RULES, SHARED


def run(*args: str, db: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "MONITOR_DATABASE_URL": db}
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], capture_output=True, text=True, cwd=cwd,
        env=env, timeout=120,
    )


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_help_lists_the_commands(db: str) -> None:
    out = run("--help", db=db)
    assert out.returncode == 0
    for command in ("demo", "ingest", "poll", "stories", "facts", "alerts", "digest", "rules"):
        assert command in out.stdout


def test_bad_usage_exits_2(db: str) -> None:
    assert run("frobnicate", db=db).returncode == 2
    assert run("stories", "--limit", "many", db=db).returncode == 2


def test_missing_file_is_a_one_line_error(db: str) -> None:
    out = run("ingest", "/nonexistent/article.txt", db=db)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1] == (
        "monitor: error: /nonexistent/article.txt: no such file"
    )


def test_ingest_then_list_as_json(db: str, tmp_path: Path) -> None:
    shared = sorted((SHARED / "seeds").glob("*.txt"))
    if not shared:
        pytest.skip(f"{SHARED / 'seeds'} is absent (the shared folder sits beside the repo)")
    out = run("ingest", *map(str, shared), db=db)
    assert out.returncode == 0, out.stderr
    stories = run("stories", "--json", db=db)
    assert stories.returncode == 0, stories.stderr
    parsed = json.loads(stories.stdout)  # exactly one JSON document on stdout
    assert isinstance(parsed, list) and parsed
    members = [m for s in parsed for m in s["members"]]
    assert len(members) == len(shared)
    assert all(m["url"].startswith("file://") for m in members)
    facts = run("facts", "--json", db=db)
    assert facts.returncode == 0, facts.stderr
    rows = json.loads(facts.stdout)
    capex = {(r["value"], r["currency"]) for r in rows if r.get("metric") == "ai_capex_plan"}
    assert (53e9, "USD") in capex and (380e9, "CNY") in capex
    assert all(r["quote"] for r in rows)
    again = run("ingest", *map(str, shared), db=db)  # idempotent: nothing new
    assert again.returncode == 0 and " 0 new" in again.stderr


def test_rules_check_reports_a_misspelt_key_with_its_location(db: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "rules:\n"
        "  - id: capex\n"
        "    when: {change: {entity: alibaba, metric: ai_capex_plan, by: 2%}}\n"
        "    severty: high\n",
        encoding="utf-8",
    )
    # the rule refers to the shipped vocabulary, so check the folder holding both
    (tmp_path / "vocabulary.yaml").write_text(
        (RULES / "vocabulary.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    out = run("rules", "check", str(tmp_path), db=db)
    assert out.returncode == 1
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith(str(bad))]
    assert lines and lines[0].startswith(f"{bad}:4:5: ")
    assert "severty" in lines[0] and "severity" in lines[0]  # did you mean


def test_shipped_rules_are_valid(db: str) -> None:
    out = run("rules", "check", db=db)
    assert out.returncode == 0, out.stdout + out.stderr
