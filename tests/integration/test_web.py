"""The web view over the seeds' database, through its ASGI interface (issue 15)."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import cast

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser
from selectolax.lexbor import LexborNode
from starlette.applications import Starlette

from monitor.web.backtests import Backtest, Backtests, Replayed
from monitor.web.security import CSP
from monitor.web.view import View
from tests.integration.webdb import DEAD_ERROR, Client, client_for, seeded, view_of


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return seeded(tmp_path_factory.mktemp("web") / "web.db")


@pytest.fixture
def client(db: str) -> Iterator[Client]:
    c = client_for(view_of(db, page_size=5))
    yield c
    c.close()


def sql(db: str, query: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        return conn.execute(query, params).fetchall()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def first_node(tree: HTMLParser | LexborNode, selector: str) -> LexborNode:
    """The first node ``selector`` finds in ``tree``; the test fails when there is none."""
    node = tree.css_first(selector)
    assert node is not None, f"nothing matches {selector!r}"
    return node


def attr(node: LexborNode, name: str) -> str:
    """The value of the attribute ``name``, which the test needs to be there with a value."""
    value = node.attributes[name]
    assert value is not None, f"{name} has no value"
    return value


PAGES = [
    ("/", "Alerts since the last digest"),
    ("/stories/1", "Members and why each joined"),
    ("/series/alibaba/ai_capex_plan", "Rules watching it"),
    ("/facts", "Facts"),
    ("/facts?entity=alibaba&metric=ai_capex_plan&period=3&since=2025-12-01&until=2026-03-01",
     "next 3 years"),
    ("/rules", "alibaba-capex-change"),
    ("/sources", "HTTP 503 from https://broken.example.test/"),
    ("/digests", "Alibaba: capex plan"),
    ("/digests/1", "the digest text"),
    ("/deliveries", DEAD_ERROR),
]  # fmt: skip


@pytest.mark.parametrize(("path", "shows"), PAGES)
def test_every_page_renders_with_the_security_headers(
    client: Client, path: str, shows: str
) -> None:
    r = client.get(path)
    assert r.status_code == 200, r.text[:500]
    assert shows in r.text
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    # nothing inline for the CSP to forbid, and nothing from elsewhere
    tree = HTMLParser(r.text)
    assert not tree.css("script") and not tree.css("style") and not tree.css("[style]")
    for node in tree.css("link[href], img[src]"):
        assert (node.attributes.get("href") or node.attributes.get("src") or "").startswith("/")


def test_static_css_ships_in_the_package(client: Client) -> None:
    r = client.get("/static/style.css")
    assert r.status_code == 200 and ".mark.ai" in r.text
    assert r.headers["content-security-policy"] == CSP


def test_unknown_ids_are_404_pages(client: Client) -> None:
    assert client.get("/stories/99999").status_code == 404
    assert client.get("/series/alibaba/no_such_metric").status_code == 404
    assert client.get("/api/stories/99999").json() == {"error": "no story 99999"}
    assert client.get("/facts?since=yesterday").status_code == 400


def test_overview_groups_stories_by_company_with_their_sources(db: str, client: Client) -> None:
    html = client.get("/").text
    tree = HTMLParser(html)
    shown = {}
    for li in tree.css("ul.stories li"):
        sid = int(attr(first_node(li, "a"), "href").rsplit("/", 1)[1])
        shown[sid] = first_node(li, ".muted").text()
    assert len(shown) == 5  # the page size
    for sid, line in shown.items():
        rows = sql(
            db,
            "SELECT source_id, MIN(ai_generated) FROM article WHERE story_id = ? GROUP BY 1",
            sid,
        )
        ai_only = sum(1 for _, least in rows if least)
        assert re.match(rf"{len(rows)} sources? \({ai_only} AI-generated\)", line), line
    # newest first, and the next page goes on from there
    order = sql(
        db,
        "SELECT id, main_entity FROM story WHERE article_count > 0"
        " ORDER BY last_seen_at DESC, id DESC",
    )
    assert list(shown) == grouped(order[:5])
    (more,) = [a.attributes["href"] for a in tree.css("p.pager a") if "stories" in a.text()]
    second = HTMLParser(client.get(more or "").text)
    ids = [int(attr(a, "href").rsplit("/", 1)[1]) for a in second.css("ul.stories li > a")]
    assert ids == grouped(order[5:10])
    # the alerts since the digest (built a day before the ingest): all of them, 5 a page
    alerts = [r[0] for r in sql(db, "SELECT title FROM alert ORDER BY created_at DESC, id DESC")]
    titles = [td.text().strip() for td in tree.css("table.alerts tr td:nth-child(2)")]
    assert titles == alerts[:5]


def grouped(stories: list[tuple[object, ...]]) -> list[object]:
    """Story ids as the overview lists them: by company, companies in the order of their
    newest story."""
    companies: dict[object, list[object]] = {}
    for sid, entity in stories:
        companies.setdefault(entity, []).append(sid)
    return [sid for ids in companies.values() for sid in ids]


def test_story_page_explains_members_and_quotes_facts(db: str, client: Client) -> None:
    (sid,) = sql(db, "SELECT id FROM story ORDER BY article_count DESC LIMIT 1")[0]
    tree = HTMLParser(client.get(f"/stories/{sid}").text)
    members = tree.css("table.members tbody tr")
    assert len(members) == sql(db, "SELECT COUNT(*) FROM article WHERE story_id = ?", sid)[0][0]
    reasons = [tr.css("td")[3].text().strip() for tr in members]
    assert reasons[0] and all(reasons[1:]), reasons
    quotes: set[str] = set()
    page = tree
    while True:
        quotes |= {q.text() for q in page.css("table.facts blockquote")}
        more = page.css_first("p.pager a")
        if more is None:
            break
        page = HTMLParser(client.get(more.attributes["href"] or "").text)
    stored = {q for (q,) in sql(db, "SELECT quote FROM fact WHERE story_id = ?", sid)}
    assert quotes == stored
    assert tree.css("table.facts a[href^='/series/']")
    timeline = tree.css("ol.timeline li")
    assert len(timeline) >= len(members)


def test_metric_chart_marks_are_the_stored_values(db: str, client: Client) -> None:
    html = client.get("/series/alibaba/ai_capex_plan").text
    tree = HTMLParser(html)
    marks = tree.css("svg.chart g.marks circle")
    got = {
        int(attr(m, "data-fact")): (
            float(attr(m, "data-value")),
            m.attributes["data-source"],
            m.attributes["data-ai"] == "true",
            "ai" in attr(m, "class").split(),
        )
        for m in marks
    }
    stored = sql(
        db,
        "SELECT f.id, f.value, s.name, a.ai_generated FROM fact f JOIN article a ON a.id ="
        " f.article_id JOIN source s ON s.id = a.source_id WHERE f.entity = 'alibaba' AND"
        " f.metric = 'ai_capex_plan' AND f.currency = 'USD'",
    )
    assert got == {fid: (v, src, bool(ai), bool(ai)) for fid, v, src, ai in stored}
    # the baseline the change rule confirmed, as a step line: $53 billion, then $66 billion
    assert "alibaba-capex-change: confirmed baseline (now $66 billion)" in html
    assert tree.css_first("svg.chart polyline.baseline") is not None
    # the other currency is its own line
    cny = HTMLParser(client.get("/series/alibaba/ai_capex_plan?variant=money+CNY").text)
    values = {float(attr(m, "data-value")) for m in cny.css("svg.chart g.marks circle")}
    assert values == {380e9, 480e9}


def walk(client: Client, url: str | None, rows: str) -> list[int]:
    """The ids (``data-fact``) of the rows ``rows`` on a page and every next one."""
    seen: list[int] = []
    while url:
        tree = HTMLParser(client.get(url).text)
        seen += [int(tr.attributes["data-fact"] or 0) for tr in tree.css(rows)]
        nxt = tree.css_first("p.pager a")
        url = nxt.attributes["href"] if nxt else None
    return seen


def test_metric_table_pages_through_every_value(db: str, client: Client) -> None:
    seen = walk(client, "/series/alibaba/ai_capex_plan", "table.values tbody tr")
    stored = sql(
        db,
        "SELECT f.id FROM fact f JOIN article a ON a.id = f.article_id WHERE f.entity ="
        " 'alibaba' AND f.metric = 'ai_capex_plan' AND f.currency = 'USD'"
        " ORDER BY a.sort_at DESC, f.id DESC",
    )
    assert seen == [r[0] for r in stored]


def test_facts_filters_and_pages(db: str, client: Client) -> None:
    seen = walk(
        client, "/facts?entity=alibaba&period=years&since=2025-12-03", "table.facts tbody tr"
    )
    stored = sql(
        db,
        "SELECT f.id FROM fact f JOIN article a ON a.id = f.article_id WHERE f.entity ="
        " 'alibaba' AND f.metric IS NOT NULL AND lower(f.period) LIKE '%years%' AND"
        " a.sort_at >= '2025-12-03' ORDER BY a.sort_at DESC, f.id DESC",
    )
    assert len(seen) > 5 and seen == [r[0] for r in stored]


def test_rules_page_shows_where_each_rule_is_and_what_is_wrong(db: str, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    for f in Path("rules").glob("*.yaml"):
        (rules / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    (rules / "broken.yaml").write_text("rules:\n  - id: x\n    when: {chang: {}}\n")
    c = client_for(view_of(db, rules=rules))
    tree = HTMLParser(c.get("/rules").text)
    c.close()
    problems = [li.text() for li in tree.css("ul.problems li")]
    assert problems and all(p.startswith(str(rules / "broken.yaml") + ":3:") for p in problems)
    row = first_node(tree, "tr#rule-alibaba-capex-change")
    assert re.search(r"alibaba\.yaml:\d+", row.css("td")[1].text())
    (title,) = sql(
        db,
        "SELECT title FROM alert WHERE rule_id = 'alibaba-capex-change'"
        " ORDER BY created_at DESC LIMIT 1",
    )[0]
    assert str(title)[:60] in row.css("td")[2].text()


def test_backtest_shows_what_the_rule_would_fire_and_writes_nothing(
    db: str, client: Client
) -> None:
    from datetime import UTC, datetime

    from monitor.app import evaluation
    from monitor.rules.loader import load_rules
    from monitor.store.db import make_engine, session_scope
    from tests.conftest import RULES

    before = sql(db, "SELECT COUNT(*), (SELECT COUNT(*) FROM rule_state) FROM alert")
    token = csrf_of(client.get("/rules").text)
    r = client.post(
        "/rules/backtest",
        data={"csrf": token, "rule": "alibaba-capex-change", "since": "2025-12-01",
              "until": "2026-03-31"},
    )  # fmt: skip
    assert r.status_code == 303, r.text[:300]
    result = r.headers["location"]
    assert result.startswith("/rules/backtest/") and result.endswith("#backtest")
    job = view_of_client(client).backtests.get(result.split("/")[-1].split("#")[0])
    assert job is not None
    job.future.result(timeout=120)  # awaited: it runs beside the requests
    r = client.get(result)
    assert r.status_code == 200, r.text[:300]
    tree = HTMLParser(r.text)
    assert not tree.css('meta[http-equiv="refresh"]')  # done: the page stays
    shown = [p.text() for p in tree.css("#backtest .draft > p:first-child")]
    ruleset = load_rules(RULES, channels=None)
    with session_scope(make_engine(db)) as session:
        expected = [
            d
            for d in evaluation.replay(
                session, ruleset, since=datetime(2025, 12, 1, tzinfo=UTC), now=datetime.now(UTC)
            )
            if d.rule_id == "alibaba-capex-change"
        ]
    assert expected and len(shown) == len(expected)
    assert all(d.title in text for d, text in zip(expected, shown, strict=True))
    assert tree.css("#backtest blockquote")  # with the evidence
    assert sql(db, "SELECT COUNT(*), (SELECT COUNT(*) FROM rule_state) FROM alert") == before


def test_a_running_backtest_says_so_and_reloads_until_done(client: Client) -> None:
    view = view_of_client(client)
    view.backtests = Backtests(pool=ThreadPoolExecutor(1))
    go = threading.Event()

    def replay() -> Replayed:
        assert go.wait(60)
        return Replayed(12345, 0.5, [])

    first = view.backtests.start(
        "alibaba-capex-change", since=None, until=None, form={}, run=replay, args=()
    )
    second = view.backtests.start(
        "alibaba-capex-change", since=None, until=None, form={}, run=replay, args=()
    )
    tree = HTMLParser(client.get(f"/rules/backtest/{first.id}").text)
    assert first_node(tree, "#backtest h3").text().startswith("alibaba-capex-change: running for")
    assert "Replaying the stored history" in first_node(tree, "#backtest").text()
    refresh = first_node(tree, 'meta[http-equiv="refresh"]').attributes["content"]
    assert refresh == f"1; url=/rules/backtest/{first.id}?poll=1#backtest"  # a new address
    tree = HTMLParser(client.get(f"/rules/backtest/{second.id}").text)
    assert "Waiting for another backtest to finish" in first_node(tree, "#backtest").text()
    go.set()
    first.future.result(timeout=60)
    tree = HTMLParser(client.get(f"/rules/backtest/{first.id}").text)
    assert "0 alerts would have fired" in first_node(tree, "#backtest h3").text()
    assert "12,345 values replayed in 0.5 s" in first_node(tree, "#backtest").text()
    assert not tree.css('meta[http-equiv="refresh"]')
    second.future.result(timeout=60)


def test_a_failed_or_unknown_backtest_is_one_line(client: Client) -> None:
    view = view_of_client(client)
    view.backtests = Backtests(pool=ThreadPoolExecutor(1))

    def replay() -> Replayed:
        raise ValueError("the series\nis broken")

    job = view.backtests.start(
        "alibaba-capex-change", since=None, until=None, form={}, run=replay, args=()
    )
    with contextlib.suppress(ValueError):
        job.future.result(timeout=60)
    tree = HTMLParser(client.get(f"/rules/backtest/{job.id}").text)
    assert first_node(tree, "#backtest p.attention").text() == "ValueError: the series is broken"
    r = client.get("/rules/backtest/no-such-job")
    assert r.status_code == 404 and "the newest 16 are kept" in r.text


def test_only_the_newest_backtests_are_kept_and_a_waiting_one_is_dropped() -> None:
    jobs = Backtests(keep=2, pool=ThreadPoolExecutor(1))
    go = threading.Event()

    def slow() -> Replayed:
        assert go.wait(60)
        return Replayed(None, 0.0, [])

    def start() -> Backtest:
        return jobs.start("r", since=None, until=None, form={}, run=slow, args=())

    first = start()
    second = start()  # waits for the first
    third = start()
    assert jobs.get(first.id) is None  # forgotten, though still running
    assert not second.future.cancelled()
    fourth = start()
    assert jobs.get(second.id) is None and second.future.cancelled()  # never ran
    assert jobs.get(third.id) is third and jobs.get(fourth.id) is fourth
    go.set()
    assert first.future.result(timeout=60).drafts == []
    assert third.future.result(timeout=60).facts is None and fourth.future.result(timeout=60)
    jobs.close()


def test_closing_the_backtests_stops_a_replay_under_way() -> None:
    """`monitor serve` stopped while a backtest ran left its worker process running, its
    parent gone; closing now ends it."""
    jobs = Backtests()  # the real worker process
    forever = cast(Callable[..., Replayed], time.sleep)  # picklable, and runs long enough
    jobs.start("r", since=None, until=None, form={}, run=forever, args=(600,))
    processes = list(getattr(jobs._pool, "_processes", {}).values())
    assert processes and all(p.is_alive() for p in processes)
    jobs.close()
    assert not any(p.is_alive() for p in processes)


def test_every_post_needs_the_csrf_token(client: Client) -> None:
    client.get("/")  # the nonce cookie
    dead = 1
    for path, form in [
        (f"/deliveries/{dead}/retry", {}),
        ("/rules/backtest", {"rule": "alibaba-capex-change"}),
        ("/login", {"token": "x"}),
        ("/logout", {}),
    ]:
        assert client.post(path, data=form).status_code == 403, path
        assert client.post(path, data={**form, "csrf": "0" * 64}).status_code == 403, path
    # a token that was right for another browser's nonce is wrong for this one
    other = client_for(client_view := view_of_client(client))
    theirs = csrf_of(other.get("/deliveries").text)
    other.close()
    assert client_view is not None
    assert client.post(f"/deliveries/{dead}/retry", data={"csrf": theirs}).status_code == 403


def view_of_client(client: Client) -> View:
    transport = client.http._transport
    assert isinstance(transport, httpx.ASGITransport) and isinstance(transport.app, Starlette)
    view = transport.app.state.view
    assert isinstance(view, View)
    return view


def test_retry_queues_a_dead_delivery_again(db: str, client: Client) -> None:
    (dead,) = sql(db, "SELECT id FROM delivery WHERE status = 'dead'")[0]
    page = HTMLParser(client.get("/deliveries?state=dead").text)
    form = first_node(page, f"tr#delivery-{dead} form")
    assert form.attributes["action"] == f"/deliveries/{dead}/retry"
    r = client.post(form.attributes["action"] or "", data={"csrf": csrf_of(page.html or "")})
    assert r.status_code == 303 and r.headers["location"] == f"/deliveries?retried={dead}"
    assert sql(
        db, "SELECT status, next_attempt_at IS NOT NULL FROM delivery WHERE id = ?", dead
    ) == [("pending", 1)]
    assert "is queued again" in client.get(r.headers["location"]).text
    sql(db, "UPDATE delivery SET status = 'dead' WHERE id = ?", dead)  # as the fixture had it


def test_a_stored_conflict_is_marked_on_the_chart(db: str, tmp_path: Path) -> None:
    import json
    import shutil

    path = tmp_path / "conflict.db"
    shutil.copy(db.removeprefix("sqlite:///"), path)
    copy = f"sqlite:///{path}"
    (a1, v1, at1), (a2, v2, at2) = sql(
        copy,
        "SELECT a.id, f.value, a.sort_at FROM fact f JOIN article a ON a.id = f.article_id"
        " WHERE f.entity = 'alibaba' AND f.metric = 'ai_capex_plan' AND f.currency = 'USD'"
        " AND f.value IN (52e9, 66e9) GROUP BY f.value ORDER BY f.value",
    )
    evidence = [
        {"article_id": a1, "value": v1, "at": str(at1).replace(" ", "T") + "+00:00"},
        {"article_id": a2, "value": v2, "at": str(at2).replace(" ", "T") + "+00:00"},
    ]
    sql(
        copy,
        "INSERT INTO alert (rule_id, key, severity, entity, metric, title, payload, channels,"
        " immediate, created_at) VALUES ('alibaba-capex-conflict', 'c1', 'medium', 'alibaba',"
        " 'ai_capex_plan', 'Alibaba capex: sources differ', ?, '[]', 0, '2026-03-01')",
        json.dumps({"evidence": evidence, "series": "alibaba/ai_capex_plan/USD"}),
    )
    c = client_for(view_of(copy))
    html = c.get("/series/alibaba/ai_capex_plan").text
    tree = HTMLParser(html)
    c.close()
    assert len(tree.css("svg.chart g.conflict-flag")) == 1
    marked = {
        int(m.attributes["data-article"] or 0)
        for m in tree.css("svg.chart g.marks circle.conflict")
    }
    assert marked == {a1, a2}
    assert "conflict: Alibaba capex: sources differ" in html  # the flag's title
    assert [li.text().split(": ", 1)[1] for li in tree.css("h3 + ul li")] == [
        "Alibaba capex: sources differ (alibaba-capex-conflict)"
    ]


def test_the_chart_follows_facts_added_and_pruned(db: str, tmp_path: Path) -> None:
    import shutil

    path = tmp_path / "grow.db"
    shutil.copy(db.removeprefix("sqlite:///"), path)
    copy = f"sqlite:///{path}"
    c = client_for(view_of(copy))

    def marks() -> dict[int, float]:
        tree = HTMLParser(c.get("/series/alibaba/ai_capex_plan").text)
        return {
            int(m.attributes["data-fact"] or 0): float(m.attributes["data-value"] or 0)
            for m in tree.css("svg.chart g.marks circle")
        }

    before = marks()
    (aid,) = sql(copy, "SELECT MAX(id) FROM article")[0]
    sql(
        copy,
        "INSERT INTO fact (article_id, entity, metric, value, unit, currency, surface, quote,"
        " span_start, span_end, confidence, new_to_story, created_at, sort_at, source_id,"
        " ai_generated) SELECT id, 'alibaba', 'ai_capex_plan', 7e10, 'money', 'USD',"
        " '$70 billion', 'q', 0, 1, 1.0, 1, '2026-03-01', sort_at, source_id, ai_generated"
        " FROM article WHERE id = ?",
        aid,
    )
    (new,) = sql(copy, "SELECT MAX(id) FROM fact")[0]
    assert isinstance(new, int)
    grown = marks()
    assert grown == {**before, new: 7e10}  # read incrementally: the new fact only
    oldest = min(before)
    sql(copy, "DELETE FROM fact WHERE id = ?", oldest)
    pruned = marks()
    assert oldest not in pruned and pruned == {k: v for k, v in grown.items() if k != oldest}
    c.close()
