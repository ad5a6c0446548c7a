"""The web view as an ASGI application: its routes, its static files, the guard around
every request, and errors as pages (or JSON under ``/api/``)."""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from monitor.store.db import driver_reason
from monitor.web import api, metric_page, pages, rules_page
from monitor.web.security import AUTH_COOKIE, SESSION_AGE, GuardMiddleware, form_checked, safe_next
from monitor.web.templating import STATIC, compile_all
from monitor.web.view import View, page, view_of


def login_form(request: Request) -> Response:
    return page(request, "login.html", next=safe_next(request.query_params.get("next")), error=None)


async def login(request: Request) -> Response:
    form = await form_checked(request)
    guard = view_of(request).guard
    target = safe_next(str(form.get("next", "/")))
    if not guard.token_matches(str(form.get("token", ""))):
        return page(request, "login.html", next=target, error="wrong token", status=401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        AUTH_COOKIE, guard.session_cookie(), max_age=SESSION_AGE, httponly=True, samesite="strict"
    )
    return response


async def logout(request: Request) -> Response:
    await form_checked(request)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(AUTH_COOKIE)
    return response


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
    return page(
        request, "error.html", status=exc.status_code, code=exc.status_code, detail=exc.detail
    )


log = logging.getLogger(__name__)
_SAID_EVERY = 60.0  # seconds between two log lines of one database outage
_said_at = [float("-inf")]


async def database_down(request: Request, exc: Exception) -> Response:
    """The database did not answer (a restart, the network): 503 with the reason, and one
    log line a minute, instead of a 500 and a traceback per request."""
    now = time.monotonic()
    if now - _said_at[0] >= _SAID_EVERY:
        _said_at[0] = now
        log.error("web view: database unavailable (%s)", driver_reason(exc))
    return await http_error(
        request, HTTPException(503, "the database is not answering: try again in a moment")
    )


ROUTES = [
    Route("/", pages.overview),
    Route("/stories/{story_id}", pages.story),
    Route("/series/{entity}/{metric}", metric_page.metric),
    Route("/facts", pages.facts),
    Route("/rules", rules_page.rules),
    Route("/rules/backtest", rules_page.backtest, methods=["POST"]),
    Route("/rules/backtest/{job}", rules_page.backtest_result),
    Route("/sources", pages.sources),
    Route("/digests", pages.digests),
    Route("/digests/{digest_id}", pages.digest),
    Route("/deliveries", pages.deliveries),
    Route("/deliveries/{delivery_id}/retry", pages.retry, methods=["POST"]),
    Route("/login", login_form),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    *api.ROUTES,
    Mount("/static", StaticFiles(directory=STATIC), name="static"),
]


def create_app(view: View) -> Starlette:
    compile_all()
    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(GuardMiddleware, guard=view.guard)],
        exception_handlers={HTTPException: http_error, sa.exc.OperationalError: database_down},
    )
    app.state.view = view
    return app
