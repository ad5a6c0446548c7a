"""The web view in a real browser: Debian's Chromium driven by Playwright (issue 15,
point 4), against a real uvicorn server on a database filled from ``seeds/``.

Skipped, with the reason, where Playwright or Chromium cannot be had; a browser is never
downloaded (``.ci/run`` installs Debian's ``chromium`` when it runs as root).
Screenshots go to the test's folder, and to ``$MONITOR_TEST_SCREENSHOTS`` when it is set
(``MONITOR_TEST_SCREENSHOTS=docs/screenshots`` makes the README's).
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from monitor.web.app import create_app
from monitor.web.security import CSP
from tests.conftest import ROOT
from tests.integration.webdb import HOSTILE_TITLE, add_hostile, view_of

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (it is in the dev extra)"
)
CHROMIUM = next(
    (p for p in (shutil.which("chromium"), shutil.which("chromium-browser")) if p), None
)
if CHROMIUM is None:
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium; .ci/run does it as root)",
        allow_module_level=True,
    )
SHOTS = os.environ.get("MONITOR_TEST_SCREENSHOTS")


class Server:
    """uvicorn on 127.0.0.1, a free port, in a thread."""

    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:  # set once it listens; the thread ends on failure
            self.thread.join(0.01)
            assert self.thread.is_alive(), "the server did not start"
        port = self.server.servers[0].sockets[0].getsockname()[1]
        socket.create_connection(("127.0.0.1", port), timeout=5).close()  # it accepts
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def db(seeded_copy: str) -> str:
    return seeded_copy


@pytest.fixture
def site(db: str) -> Iterator[str]:
    with Server(create_app(view_of(db, page_size=20))) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        except Exception as exc:  # a chromium that cannot start here (no sandbox, no libs)
            pytest.skip(f"{CHROMIUM} does not start: {str(exc).splitlines()[0]}")
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.problems = []  # console errors (a CSP violation is one) and dialogs
    pg.on("console", lambda m: pg.problems.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.problems.append(str(e)))
    pg.on("dialog", lambda d: (pg.problems.append(f"dialog: {d.message}"), d.dismiss()))
    yield pg
    context.close()


def shoot(page: Any, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / name), full_page=True)
    if SHOTS:
        folder = Path(SHOTS) if Path(SHOTS).is_absolute() else ROOT / SHOTS
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / name), full_page=True)
    assert (tmp_path / name).stat().st_size > 10_000


def rows(db: str, query: str, *params: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        return conn.execute(query, params).fetchall()


PAGES = ["/", "/stories/1", "/series/alibaba/ai_capex_plan", "/facts", "/rules", "/sources",
         "/digests", "/digests/1", "/deliveries"]  # fmt: skip


def test_every_page_loads_with_its_policy_and_no_error(site: str, page: Any) -> None:
    for path in PAGES:
        response = page.goto(site + path)
        assert response.ok, path
        assert response.headers["content-security-policy"] == CSP
        assert page.locator("main h1").count() == 1, path
        # the stylesheet applied: the header bar is dark, not the browser's default
        bg = page.eval_on_selector("header.top", "e => getComputedStyle(e).backgroundColor")
        assert bg == "rgb(29, 35, 48)", path
    assert page.problems == []


def test_overview_to_story_to_chart_whose_marks_are_the_stored_values(
    site: str, db: str, page: Any, tmp_path: Path
) -> None:
    page.goto(site + "/")
    shoot(page, tmp_path, "overview.png")
    (sid,) = rows(
        db,
        "SELECT id FROM story WHERE main_entity = 'alibaba' ORDER BY article_count DESC LIMIT 1",
    )[0]
    page.click(f"ul.stories a[href='/stories/{sid}']")
    page.wait_for_url(f"{site}/stories/{sid}")
    assert page.locator("h1").inner_text().strip()
    assert (
        page.locator("table.members tbody tr").count()
        == rows(db, "SELECT COUNT(*) FROM article WHERE story_id = ?", sid)[0][0]
    )
    page.click("table.facts a[href='/series/alibaba/ai_capex_plan']")
    page.wait_for_url(f"{site}/series/alibaba/ai_capex_plan")
    marks = page.eval_on_selector_all(
        "svg.chart g.marks circle",
        "els => els.map(e => [+e.dataset.fact, +e.dataset.value, e.dataset.source,"
        " e.dataset.date, getComputedStyle(e).fill])",
    )
    stored = rows(
        db,
        "SELECT f.id, f.value, s.name, a.sort_at, a.ai_generated FROM fact f JOIN article a"
        " ON a.id = f.article_id JOIN source s ON s.id = a.source_id WHERE f.entity ="
        " 'alibaba' AND f.metric = 'ai_capex_plan' AND f.currency = 'USD'",
    )
    assert sorted(tuple(m[:3]) for m in marks) == sorted(
        (fid, v, src) for fid, v, src, _, _ in stored
    )
    dates = {fid: at[:10] for fid, _, _, at, _ in stored}
    assert all(m[3][:10] == dates[m[0]] for m in marks)
    ai = {fid: bool(a) for fid, _, _, _, a in stored}
    # AI-written: hollow (white fill); the seeds are all AI-written
    assert all((m[4] == "rgb(255, 255, 255)") == ai[m[0]] for m in marks)
    box = page.locator("svg.chart").bounding_box()
    assert box["width"] > 600 and box["height"] > 200
    for m in page.locator("svg.chart g.marks circle").all():  # drawn inside the chart
        b = m.bounding_box()
        assert box["x"] <= b["x"] <= box["x"] + box["width"]
        assert box["y"] <= b["y"] <= box["y"] + box["height"]
    assert page.locator("svg.chart polyline.baseline").count() == 1
    shoot(page, tmp_path, "metric.png")
    assert page.problems == []


def test_retry_button_queues_the_dead_delivery_again(site: str, db: str, page: Any) -> None:
    (dead,) = rows(db, "SELECT id FROM delivery WHERE status = 'dead'")[0]
    page.goto(site + "/deliveries?state=dead")
    page.click(f"#delivery-{dead} button")
    page.wait_for_url(f"{site}/deliveries?retried={dead}")
    assert "is queued again" in page.locator("p[role=status]").inner_text()
    assert rows(db, "SELECT status FROM delivery WHERE id = ?", dead) == [("pending",)]
    assert page.problems == []


def test_the_backtest_form_shows_what_the_rule_would_fire(site: str, page: Any) -> None:
    page.goto(site + "/rules")
    page.select_option("select[name=rule]", "alibaba-capex-change")
    page.fill("input[name=since]", "2025-01-01")
    page.click("form[action='/rules/backtest'] button")
    page.wait_for_url(f"{site}/rules/backtest/*")
    # the replay runs in a worker process: the page reloads itself until it is done
    heading = page.locator("#backtest h3")
    sync_api.expect(heading).to_contain_text("would have fired", timeout=60_000)
    assert page.locator("#backtest .draft").count() >= 1
    assert "replayed in" in page.locator("#backtest").inner_text()
    assert page.problems == []


def test_a_hostile_title_runs_nothing_and_adds_no_element(site: str, db: str, page: Any) -> None:
    sid = add_hostile(db)
    for path in ("/", f"/stories/{sid}", "/facts", "/series/alibaba/ai_capex_plan"):
        page.goto(site + path)
        assert page.evaluate("document.querySelectorAll('script, img, [onerror]').length") == 0
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        assert not [h for h in hrefs if not h.startswith(("http://", "https://"))], path
        assert HOSTILE_TITLE in page.locator("main").inner_text(), path
    page.goto(f"{site}/stories/{sid}")
    assert page.locator("h1").inner_text() == HOSTILE_TITLE
    assert page.problems == []  # no dialog opened, no script error
