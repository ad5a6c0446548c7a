"""The reading pages: overview, story, facts, sources, digests, deliveries (and the
one write of the view: a delivery queued again). Each list is one keyset page."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from monitor.app import health
from monitor.app import stories as app_stories
from monitor.store import alerts as alert_rows
from monitor.store import deliveries as delivery_rows
from monitor.store import digests as digest_rows
from monitor.store import fact_pages, story_views
from monitor.store.alerts import AlertView
from monitor.store.db import session_scope
from monitor.store.story_views import StorySummary
from monitor.web import paging
from monitor.web.security import form_checked
from monitor.web.view import page, view_of

# ---------------------------------------------------------------------- overview


@dataclass(frozen=True, slots=True)
class Company:
    entity: str | None
    stories: list[StorySummary]


def overview(request: Request) -> Response:
    """The alerts since the last digest, and the stories newest first by company."""
    view = view_of(request)
    size = view.page_size
    with view.reading() as session:
        last = digest_rows.last_digest_at(session)
        alerts, more_alerts = paging.page_of(
            alert_rows.list_alerts(
                session, since=last, limit=size + 1, before=paging.cursor(request, "alerts")
            ),
            size,
        )
        stories, more_stories = paging.page_of(
            story_views.story_page(session, before=paging.cursor(request), limit=size + 1), size
        )
    companies: OrderedDict[str | None, list[StorySummary]] = OrderedDict()
    for s in stories:  # the first story of a company places it: newest news first
        companies.setdefault(s.main_entity, []).append(s)
    return page(
        request,
        "overview.html",
        last_digest_at=last,
        alerts=alerts,
        alerts_next=_next(request, "alerts", alerts[-1] if more_alerts else None),
        companies=[Company(e, got) for e, got in companies.items()],
        stories_next=paging.link(
            request, before=paging.make_cursor(stories[-1].last_seen_at, stories[-1].id)
        )
        if more_stories
        else None,
    )


def _next(request: Request, name: str, last: AlertView | None) -> str | None:
    if last is None:
        return None
    return paging.link(request, **{name: paging.make_cursor(last.created_at, last.id)})


# ------------------------------------------------------------------------- story

MEMBERS_SHOWN = 500  # a story told a thousand times lists its first 500 articles


@dataclass(frozen=True, slots=True)
class Moment:
    """One line of a story's timeline."""

    at: datetime | None
    kind: str  # article | alert
    text: str
    source: str | None = None
    ai: bool = False
    url: str | None = None
    severity: str | None = None
    ref: int | None = None


def story(request: Request) -> Response:
    view = view_of(request)
    story_id = paging.path_id(request, "story_id", "story")
    with view.reading() as session:
        # the facts are paged below: the story's own list is not read
        detail = app_stories.story_detail(session, story_id, members=MEMBERS_SHOWN, facts=0)
        if detail is None:
            raise HTTPException(404, f"no story {story_id}")
        facts, more_facts = paging.page_of(
            fact_pages.search_facts(
                session,
                story_id=story_id,
                typed_only=False,
                before=paging.cursor(request, "facts"),
                limit=view.page_size + 1,
            ),
            view.page_size,
        )
        alerts = alert_rows.list_alerts(session, since=None, limit=100, story_id=story_id)
    members = detail.members
    moments = [
        Moment(
            getattr(m, "published_at", None) or getattr(m, "first_seen_at", None),
            "article",
            m.title,
            m.source,
            m.ai_generated,
            m.url,
            ref=m.id,
        )
        for m in members
    ]
    moments += [
        Moment(a.created_at, "alert", a.title, severity=a.severity, ref=a.id) for a in alerts
    ]
    moments.sort(key=lambda m: (m.at is None, m.at or datetime.max, m.kind))
    return page(
        request,
        "story.html",
        story=detail,
        members=members,
        hidden=max(detail.article_count - len(members), 0),
        facts=facts,
        facts_next=paging.link(request, facts=paging.make_cursor(facts[-1].at, facts[-1].fact.id))
        if more_facts
        else None,
        alerts=alerts,
        moments=moments,
    )


# ------------------------------------------------------------------------- facts


def facts(request: Request) -> Response:
    """Facts newest first, filtered by entity, metric, period and article date."""
    view = view_of(request)
    size = view.page_size
    wanted = {
        "entity": paging.text(request, "entity"),
        "metric": paging.text(request, "metric"),
        "period": paging.text(request, "period"),
        "since": paging.date(request, "since"),
        "until": paging.date(request, "until"),
    }
    with view.reading() as session:
        hits, more = paging.page_of(
            fact_pages.search_facts(
                session,
                **wanted,  # type: ignore[arg-type]
                typed_only=not paging.flag(request, "all"),
                before=paging.cursor(request),
                limit=size + 1,
            ),
            size,
        )
    vocab = view.rules().vocabulary
    return page(
        request,
        "facts.html",
        hits=hits,
        wanted={k: request.query_params.get(k, "") for k in wanted},
        show_all=paging.flag(request, "all"),
        entities=[e.id for e in vocab.entities],
        metrics=[m.id for m in vocab.metrics],
        next=paging.link(request, before=paging.make_cursor(hits[-1].at, hits[-1].fact.id))
        if more
        else None,
    )


# ----------------------------------------------------------------------- sources


def sources(request: Request) -> Response:
    view = view_of(request)
    now = view.clock()
    report = health.report(view.read, now=now, stale_factor=view.stale_factor)
    rows = health.source_views(view.read, now=now, stale_factor=view.stale_factor)
    return page(request, "sources.html", report=report, sources=rows, now=now)


# ----------------------------------------------------------------------- digests


def digests(request: Request) -> Response:
    view = view_of(request)
    size = view.page_size
    with view.reading() as session:
        rows, more = paging.page_of(
            digest_rows.list_digests(
                session,
                channel=paging.text(request, "channel"),
                limit=size + 1,
                before=paging.id_cursor(request),
            ),
            size,
        )
    return page(
        request,
        "digests.html",
        digests=rows,
        next=paging.link(request, before=rows[-1].id) if more else None,
    )


def digest(request: Request) -> Response:
    view = view_of(request)
    digest_id = paging.path_id(request, "digest_id", "digest")
    with view.reading() as session:
        row = digest_rows.get_digest(session, digest_id)
        if row is None:
            raise HTTPException(404, f"no digest {digest_id}")
        sent = delivery_rows.list_deliveries(session, kind="digest", ref_id=digest_id, limit=500)
    return page(request, "digest.html", digest=row, deliveries=sent)


# -------------------------------------------------------------------- deliveries

STATES = delivery_rows.STATES


def deliveries(request: Request) -> Response:
    view = view_of(request)
    size = view.page_size
    wanted = paging.text(request, "state")
    if wanted is not None and wanted not in STATES:
        raise HTTPException(400, f"state: one of {', '.join(STATES)}")
    with view.reading() as session:
        counts = delivery_rows.counts(session)
        rows, more = paging.page_of(
            delivery_rows.list_deliveries(
                session, state=wanted, limit=size + 1, before=paging.id_cursor(request)
            ),
            size,
        )
    retried = paging.number(request, "retried", 0, high=paging.MAX_ID)
    in_flight = paging.number(request, "sending", 0, high=paging.MAX_ID)
    return page(
        request,
        "deliveries.html",
        deliveries=rows,
        counts=counts,
        states=STATES,
        wanted=wanted,
        retried=retried,
        sending=in_flight,
        next=paging.link(request, before=rows[-1].id) if more else None,
    )


async def retry(request: Request) -> Response:
    """Queue a message again, due now: what ``monitor deliveries retry ID`` does, in its
    own write transaction (the only write of the view)."""
    await form_checked(request)
    view = view_of(request)
    delivery_id = paging.path_id(request, "delivery_id", "delivery")

    def queue() -> delivery_rows.DeliveryView | None:
        with session_scope(view.write) as session:
            return delivery_rows.retry(session, delivery_id, now=view.clock())

    got = await run_in_threadpool(queue)
    if got is None:
        raise HTTPException(404, f"no delivery {delivery_id}")
    said = "sending" if delivery_rows.sending(got, view.clock()) else "retried"
    return RedirectResponse(f"/deliveries?{said}={delivery_id}", status_code=303)
