"""``/api/`` returns what the command line's ``--json`` prints, on the same database."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RULES
from tests.integration.conftest import Result
from tests.integration.webdb import Client, client_for, seeded, view_of

Run = Callable[..., Result]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return seeded(tmp_path_factory.mktemp("webapi") / "web.db")


@pytest.fixture
def client(db: str) -> Iterator[Client]:
    c = client_for(view_of(db))
    yield c
    c.close()


SINCE = ["--published-since", "2025-12-05"]
PAIRS = [
    ("/api/stories", ["stories", "list"]),
    ("/api/stories?since=2025-12-05&limit=3", ["stories", "list", *SINCE, "--limit", "3"]),
    ("/api/stories/1", ["stories", "show", "1"]),
    ("/api/facts", ["facts"]),
    ("/api/facts?entity=alibaba&metric=ai_capex_plan",
     ["facts", "--entity", "alibaba", "--metric", "ai_capex_plan"]),
    ("/api/facts?all=1&since=2025-12-05&limit=40", ["facts", "--all", *SINCE, "--limit", "40"]),
    ("/api/alerts", ["alerts"]),
    ("/api/alerts?limit=2", ["alerts", "--limit", "2"]),
    ("/api/sources", ["sources", "list"]),
    ("/api/digests", ["digest", "list"]),
    ("/api/digests/1", ["digest", "show", "1"]),
    ("/api/deliveries", ["deliveries", "list"]),
    ("/api/deliveries?state=dead", ["deliveries", "list", "--state", "dead"]),
    ("/api/rules/problems", ["rules", "check"]),
]  # fmt: skip


@pytest.mark.parametrize(("route", "command"), PAIRS)
def test_api_is_the_cli_json(
    run: Run, db: str, client: Client, route: str, command: list[str]
) -> None:
    cli = run("--rules", str(RULES), *command, "--json", db=db)
    assert cli.returncode == 0, cli.stderr
    api = client.get(route)
    assert api.status_code == 200 and api.headers["content-type"] == "application/json"
    expected = json.loads(cli.stdout)
    assert api.json() == expected
    if "problems" not in route:
        assert expected  # a comparison of two empty lists would show nothing


def _timeless(report: dict[str, Any]) -> dict[str, Any]:
    return {**report, "workers": [{**w, "seen_s_ago": None} for w in report["workers"]]}


def test_api_health_is_the_cli_health(run: Run, db: str, client: Client) -> None:
    cli = run("health", "--json", db=db)
    (expected,) = json.loads(cli.stdout)
    (got,) = client.get("/api/health").json()
    assert _timeless(got) == _timeless(expected)


def test_api_refuses_bad_parameters(client: Client) -> None:
    assert client.get("/api/deliveries?state=lost").status_code == 400
    assert client.get("/api/facts?limit=0").status_code == 400
    assert client.get("/api/alerts?since=soon").json()["error"].startswith("since:")


def test_api_rules_problems_lists_a_broken_file(db: str, tmp_path: Path, run: Run) -> None:
    (tmp_path / "bad.yaml").write_text("rules:\n  - id: Bad Id\n    when: {}\n")
    c = client_for(view_of(db, rules=tmp_path))
    got = c.get("/api/rules/problems").json()
    c.close()
    cli = run("rules", "check", str(tmp_path), "--json", db=db)
    assert got and got == json.loads(cli.stdout)


def test_a_story_told_many_times_is_read_in_part(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A story of 300,000 articles was read whole for its page (which lists 500) and its
    API answer (163 MB), with every fact. The page and the API now read the first
    members only, the page none of the story's own facts (it pages them), and the
    story's count of sources is still all of them. Story 3 has 6 articles, 3 sources."""
    from monitor.web import api, pages

    monkeypatch.setattr(pages, "MEMBERS_SHOWN", 2)
    monkeypatch.setattr(api, "MEMBERS_EACH", 2)
    c = client_for(view_of(db))
    try:
        (story,) = c.get("/api/stories/3").json()
        listed = next(s for s in c.get("/api/stories").json() if s["id"] == 3)
        page = c.get("/stories/3").text
    finally:
        c.close()
    assert story["article_count"] == 6 and len(story["members"]) == 2
    assert story["sources"] == 3 and story["facts"]
    assert len(listed["members"]) == 2 and listed["sources"] == 3
    assert "and 4 more articles (the first 2 are listed)" in page and "3 sources" in page
