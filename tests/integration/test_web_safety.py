"""The web view's safety (issue 15, point 3): the token, the host check, hostile text,
and read-only database access."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from monitor.store.db import make_read_engine
from monitor.web.security import AUTH_COOKIE, Guard
from tests.integration.conftest import Result
from tests.integration.webdb import (
    HOSTILE_TITLE,
    add_hostile,
    client_for,
    view_of,
)

Run = Callable[..., Result]
TOKEN = "s3cret-token-for-tests"


@pytest.fixture
def db(seeded_copy: str) -> str:
    return seeded_copy


def test_a_token_is_asked_for_every_page_and_the_api(db: str) -> None:
    c = client_for(view_of(db, token=TOKEN), base_url="http://monitor.example.com")
    r = c.get("/facts?entity=alibaba")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Ffacts%3Fentity%3Dalibaba"
    api = c.get("/api/stories")
    assert api.status_code == 401 and api.headers["www-authenticate"].startswith("Bearer")
    assert c.get("/api/stories", headers={"authorization": "Bearer nope"}).status_code == 401
    ok = c.get("/api/stories", headers={"authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.json()
    assert ok.headers["cache-control"] == "no-store"  # kept by no cache, behind a login
    # the login form: a wrong token, then the right one, which sets the session cookie
    login = c.get("/login?next=/facts")
    assert login.status_code == 200
    field = HTMLParser(login.text).css_first("input[name=csrf]")
    assert field is not None
    csrf = field.attributes["value"]
    wrong = c.post("/login", data={"csrf": csrf, "token": "nope", "next": "/facts"})
    assert wrong.status_code == 401 and "wrong token" in wrong.text
    right = c.post("/login", data={"csrf": csrf, "token": TOKEN, "next": "//evil.example/"})
    assert right.status_code == 303 and right.headers["location"] == "/"  # never off-site
    cookie = right.headers["set-cookie"]
    assert cookie.startswith(f"{AUTH_COOKIE}=") and "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    assert c.get("/facts").status_code == 200
    # logging out ends it
    page = c.get("/")
    field = HTMLParser(page.text).css_first("form.logout input[name=csrf]")
    assert field is not None
    csrf = field.attributes["value"]
    assert c.post("/logout", data={"csrf": csrf}).status_code == 303
    assert c.get("/").status_code == 303
    c.close()


def test_a_session_cookie_expires_and_cannot_be_forged() -> None:
    now = [1_000_000.0]
    guard = Guard(token=TOKEN, clock=lambda: now[0])
    cookie = guard.session_cookie()
    issued, sig = cookie.split(".")
    assert Guard(token="another").session_cookie() != cookie
    forged = f"{int(issued) + 10}.{sig}"
    other = Guard(token=TOKEN, clock=lambda: now[0])
    assert other.secret == guard.secret  # derived from the token: a restart keeps logins

    class Req:
        def __init__(self, value: str) -> None:
            self.cookies = {AUTH_COOKIE: value}
            self.headers: dict[str, str] = {}

    assert guard.signed_in(Req(cookie))  # type: ignore[arg-type]
    assert not guard.signed_in(Req(forged))  # type: ignore[arg-type]
    # "²" passes isdigit and int() refuses it, as it refuses 5,000 digits: a 500 for
    # anyone, before any login
    for odd in ("\xb2.x", "9" * 5000 + ".x"):
        assert not guard.signed_in(Req(odd))  # type: ignore[arg-type]
    now[0] += 13 * 3600
    assert not guard.signed_in(Req(cookie))  # type: ignore[arg-type]


def test_without_a_token_only_loopback_host_names_are_served(db: str) -> None:
    c = client_for(view_of(db), base_url="http://rebound.example.com:8080")
    r = c.get("/")
    assert r.status_code == 400 and "unknown host" in r.text
    c.close()
    for base in ("http://localhost:8080", "http://127.0.0.1", "http://[::1]:8080"):
        c = client_for(view_of(db), base_url=base)
        assert c.get("/").status_code == 200, base
        c.close()


def test_serve_refuses_a_network_address_without_a_token(
    run: Run, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = run("serve", "--address", "0.0.0.0:8080", db=db)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "MONITOR_WEB__TOKEN" in lines[0] and "Traceback" not in r.stderr
    r = run("run", "--web", "192.0.2.1:8080", db=db)
    assert r.returncode == 1 and "MONITOR_WEB__TOKEN" in r.stderr


def test_a_hostile_title_link_and_quote_are_inert(db: str) -> None:
    sid = add_hostile(db)
    c = client_for(view_of(db))
    pages = ["/", f"/stories/{sid}", "/facts", "/series/alibaba/ai_capex_plan"]
    for path in pages:
        html = c.get(path).text
        tree = HTMLParser(html)
        assert not tree.css("script"), path
        assert not tree.css("img"), path
        assert not tree.css("[onerror]"), path
        assert not [a for a in tree.css("a[href]") if "javascript" in (a.attributes["href"] or "")]
        assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;" in html, path
        # the title reads as the text it is
        assert any(HOSTILE_TITLE in n.text() for n in tree.css("a, td, blockquote, li")), path
    api = c.get(f"/api/stories/{sid}").json()
    assert api[0]["title"] == HOSTILE_TITLE  # JSON carries the text unchanged
    c.close()


def test_pages_read_through_a_connection_that_cannot_write(db: str) -> None:
    view = view_of(db)
    with view.reading() as session, pytest.raises(sa.exc.OperationalError, match="readonly"):
        session.execute(sa.text("DELETE FROM alert"))
    with view.read.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA query_only").scalar() == 1


@pytest.mark.postgres
def test_read_engine_on_postgresql_refuses_writes(pg_engine: sa.Engine, pg_url: str) -> None:
    read = make_read_engine(pg_url)
    with read.connect() as conn:
        assert conn.exec_driver_sql("SHOW transaction_read_only").scalar() == "on"
        with pytest.raises(sa.exc.InternalError, match="read-only transaction"):
            conn.exec_driver_sql("DELETE FROM alert")
    read.dispose()


ODD = [
    "/stories/" + "9" * 30,
    "/stories/2147483648",  # past PostgreSQL's INTEGER: the driver's range error was a 500
    "/digests/" + "9" * 30,
    "/api/stories/9223372036854775808",
    "/api/digests/" + "9" * 30,
    "/?before=2026-01-01T00:00:00~" + "9" * 30,
    "/digests?before=" + "9" * 30,
    "/deliveries?before=2147483648",
    "/api/stories?limit=%C2%B2",  # "²": isdigit() says yes, int() says no
    "/api/facts?limit=²",
    "/deliveries?before=²",
    "/facts?since=0001-01-01T00:00:00%2B14:00",  # before the first representable UTC time
    "/facts?until=9999-12-31T23:59:59-14:00",
    "/api/stories?since=0001-01-01T00:00:00%2B14:00",
    "/?before=0001-01-01T00:00:00%2B14:00~1",
    "/facts?entity=%00",  # PostgreSQL refuses a NUL in any value: a 500 there
    "/digests?channel=%00",
    "/api/facts?entity=%00",
    # more digits than int() takes (4,300): the routes' own number check was a 500
    "/stories/" + "9" * 5000,
    "/api/stories/" + "9" * 5000,
    "/digests/" + "9" * 5000,
    "/api/digests/" + "9" * 5000,
    "/deliveries/" + "9" * 5000 + "/retry",  # a GET: not allowed
    "/digests?before=" + "9" * 5000,
    "/api/stories?limit=" + "9" * 5000,
    "/?before=2026-01-01T00:00:00~" + "9" * 5000,
]


@pytest.mark.parametrize("url", ODD)
def test_odd_numbers_dates_and_characters_are_the_clients_mistake(db: str, url: str) -> None:
    c = client_for(view_of(db))
    r = c.get(url)
    c.close()
    assert r.status_code in (400, 404, 405), (url, r.status_code, r.text[:300])
    if url.startswith("/api/"):
        assert r.json()["error"]


def test_an_internal_error_is_a_500_with_the_security_headers(
    db: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug's 500 came from the server's error page, outside the middleware that adds
    the security headers: it had none of them."""
    from monitor.web import pages
    from monitor.web.security import HEADERS

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(pages, "page", broken)
    c = client_for(view_of(db))
    with caplog.at_level("ERROR"):
        r = c.get("/")
    c.close()
    assert r.status_code == 500 and "a bug" not in r.text
    assert all(r.headers.get(k) == v for k, v in HEADERS.items())
    assert "internal error on GET /" in caplog.text


def test_a_backtest_to_the_last_day_is_refused_not_an_error(db: str) -> None:
    c = client_for(view_of(db))
    form = HTMLParser(c.get("/rules").text).css_first("form.filters input[name=csrf]")
    assert form is not None
    r = c.post(
        "/rules/backtest",
        data={"csrf": form.attributes["value"], "rule": "new-qwen-model",
              "since": "0001-01-01", "until": "9999-12-31"},
    )  # fmt: skip
    c.close()
    assert r.status_code == 400 and "out of range" in r.text


def test_a_database_that_does_not_answer_is_503_not_a_traceback(
    db: str, caplog: pytest.LogCaptureFixture
) -> None:
    view = view_of(db)
    down = sa.create_engine("postgresql+psycopg://u@127.0.0.1:1/x")  # nothing listens there
    view.read = view.write = down
    c = client_for(view)
    with caplog.at_level("ERROR"):
        pages = [c.get("/"), c.get("/facts"), c.get("/api/stories")]
    c.close()
    down.dispose()
    assert [p.status_code for p in pages] == [503, 503, 503]
    assert "not answering" in pages[0].text and "not answering" in pages[2].json()["error"]
    said = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(said) <= 1 and not any(r.exc_info for r in caplog.records)
