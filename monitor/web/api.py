"""The JSON API under ``/api/``: the data of the command line's ``--json`` listings,
from the same functions, with the same options as query parameters.

| route | the command |
|---|---|
| ``/api/stories?since=&limit=`` | ``monitor stories list --json`` |
| ``/api/stories/{id}`` | ``monitor stories show ID --json`` |
| ``/api/facts?entity=&metric=&all=1&since=&limit=`` | ``monitor facts --json`` |
| ``/api/alerts?since=&limit=`` | ``monitor alerts --json`` |
| ``/api/sources`` | ``monitor sources list --json`` |
| ``/api/health`` | ``monitor health --json`` |
| ``/api/digests?channel=&limit=`` | ``monitor digest list --json`` |
| ``/api/digests/{id}`` | ``monitor digest show ID --json`` |
| ``/api/deliveries?state=&limit=`` | ``monitor deliveries list --json`` |
| ``/api/rules/problems`` | ``monitor rules check --json`` |

``since`` is the CLI's ``--published-since`` (``--fired-since`` for alerts).
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from monitor.app import health, listings
from monitor.app import stories as app_stories
from monitor.jsonable import plain
from monitor.rules.report import problem_json
from monitor.store import alerts as alert_rows
from monitor.store import deliveries as delivery_rows
from monitor.store import digests as digest_rows
from monitor.web import paging
from monitor.web.view import view_of


def _json(rows: Any) -> Response:
    return JSONResponse(plain(list(rows)))


# At most this many rows an answer, and members or facts a story: a story told 300,000
# times was a 163 MB answer read whole into memory.
MAX_LIMIT = 10_000
MEMBERS_EACH = 1000


def _limit(request: Request, default: int = 1000) -> int:
    return paging.number(request, "limit", default, high=MAX_LIMIT)


def stories(request: Request) -> Response:
    with view_of(request).reading() as session:
        rows = app_stories.list_stories(
            session,
            since=paging.date(request, "since"),
            limit=_limit(request),
            members=MEMBERS_EACH,
        )
    return _json(rows)


def story(request: Request) -> Response:
    story_id = paging.path_id(request, "story_id", "story")
    with view_of(request).reading() as session:
        detail = app_stories.story_detail(session, story_id, members=MEMBERS_EACH, facts=MAX_LIMIT)
    if detail is None:
        raise HTTPException(404, f"no story {story_id}")
    return _json([detail])


def facts(request: Request) -> Response:
    limit = _limit(request)
    with view_of(request).reading() as session:
        rows, mentions = listings.facts(
            session,
            entity=paging.text(request, "entity"),
            metric=paging.text(request, "metric"),
            show_all=paging.flag(request, "all"),
            since=paging.date(request, "since"),
            limit=limit,
        )
    return _json(listings.facts_json(rows, mentions, limit))


def alerts(request: Request) -> Response:
    with view_of(request).reading() as session:
        rows = alert_rows.list_alerts(
            session, since=paging.date(request, "since"), limit=_limit(request)
        )
    return _json(rows)


def sources(request: Request) -> Response:
    view = view_of(request)
    return _json(health.source_views(view.read, now=view.clock(), stale_factor=view.stale_factor))


def health_report(request: Request) -> Response:
    view = view_of(request)
    return _json([health.report(view.read, now=view.clock(), stale_factor=view.stale_factor)])


def digests(request: Request) -> Response:
    with view_of(request).reading() as session:
        rows = digest_rows.list_digests(
            session, channel=paging.text(request, "channel"), limit=_limit(request, 100)
        )
    return _json(rows)


def digest(request: Request) -> Response:
    digest_id = paging.path_id(request, "digest_id", "digest")
    with view_of(request).reading() as session:
        row = digest_rows.get_digest(session, digest_id)
        sent = delivery_rows.list_deliveries(session, kind="digest", ref_id=digest_id)
    if row is None:
        raise HTTPException(404, f"no digest {digest_id}")
    return _json([{"digest": row, "deliveries": sent}])


def deliveries(request: Request) -> Response:
    wanted = paging.text(request, "state")
    if wanted is not None and wanted not in delivery_rows.STATES:
        raise HTTPException(400, f"state: one of {', '.join(delivery_rows.STATES)}")
    with view_of(request).reading() as session:
        rows = delivery_rows.list_deliveries(session, state=wanted, limit=_limit(request))
    return _json(rows)


def rule_problems(request: Request) -> Response:
    return _json(problem_json(p) for p in view_of(request).rules().problems)


ROUTES = [
    Route("/api/stories", stories),
    Route("/api/stories/{story_id}", story),
    Route("/api/facts", facts),
    Route("/api/alerts", alerts),
    Route("/api/sources", sources),
    Route("/api/health", health_report),
    Route("/api/digests", digests),
    Route("/api/digests/{digest_id}", digest),
    Route("/api/deliveries", deliveries),
    Route("/api/rules/problems", rule_problems),
]
