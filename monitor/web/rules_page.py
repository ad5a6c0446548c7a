"""The rules page: each rule with where it is written, when it last fired, what it keeps
in state and what is wrong with the files now; and a backtest of one rule over a date
range (the ``rules test`` engine, ``monitor.app.evaluation.backtest``), which writes
nothing but is a POST with a CSRF token like every form. It runs beside the requests
(``monitor.web.backtests``): the POST answers with the address of its result page."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from monitor.notify.textsafe import one_line
from monitor.rules.display import Names, format_value
from monitor.rules.loader import Rule
from monitor.rules.schema import SeriesSpec
from monitor.store import alerts as alert_rows
from monitor.store import rule_views
from monitor.store.alerts import AlertView
from monitor.web import paging
from monitor.web.backtests import KEEP, replay_rule
from monitor.web.security import form_checked
from monitor.web.view import page, view_of

DRAFTS_SHOWN = 100  # a page of alerts with their evidence; the count says how many more
WAIT_S = 0.1  # how long the result page waits for a running backtest before it answers


@dataclass(frozen=True, slots=True)
class RuleRow:
    rule: Rule
    what: str  # the condition in words
    last: AlertView | None
    state: rule_views.StateSummary | None
    series_link: str | None  # the metric page of a rule that watches one entity's metric


def describe(rule: Rule) -> str:
    cond = rule.spec.condition
    fields = cond.model_dump(exclude_defaults=True)
    return ", ".join(f"{k}: {v}" for k, v in fields.items())


def state_line(state: dict[str, Any], rule: Rule, names: Names) -> str:
    """A state row in words: the confirmed value, the zone, the last firing."""
    parts = []
    confirmed = state.get("confirmed")
    cond = rule.spec.condition
    if isinstance(confirmed, dict) and "value" in confirmed and isinstance(cond, SeriesSpec):
        unit = names.metric_kind(cond.metric)
        value = float(confirmed["value"])
        parts.append(f"confirmed {format_value(value, unit, cond.currency)}")
    if state.get("zone"):
        parts.append(f"zone {state['zone']}")
    if state.get("last_fired"):
        parts.append(f"last fired {str(state['last_fired'])[:16].replace('T', ' ')}")
    return "; ".join(parts) or "tracking"


def _rows(request: Request) -> tuple[list[RuleRow], Any]:
    view = view_of(request)
    ruleset = view.rules()
    ids = [r.id for r in ruleset.rules]
    with view.reading() as session:
        last = alert_rows.last_fired(session, ids)
        states = rule_views.state_summaries(session, ids)
    out = []
    for rule in ruleset.rules:
        cond = rule.spec.condition
        link = None
        if isinstance(cond, SeriesSpec) and cond.entity:
            link = f"/series/{cond.entity}/{cond.metric}"
        out.append(RuleRow(rule, describe(rule), last.get(rule.id), states.get(rule.id), link))
    return out, ruleset


def rules(request: Request) -> Response:
    return _page(
        request, *_rows(request), backtest=None, form={"rule": "", "since": "", "until": ""}
    )


def _page(
    request: Request, rows: list[RuleRow], ruleset: Any, *, backtest: Any, form: dict[str, str]
) -> Response:
    return page(
        request,
        "rules.html",
        rows=rows,
        problems=ruleset.problems,
        files=ruleset.files,
        state_line=state_line,
        backtest=backtest,
        form=form,
    )


async def backtest(request: Request) -> Response:
    """Start a backtest (``monitor.web.backtests``) and send the browser to its result."""
    form = await form_checked(request)
    view = view_of(request)
    rule_id = str(form.get("rule", ""))
    raw_since = str(form.get("since", "")).strip()
    raw_until = str(form.get("until", "")).strip()
    since = paging.parse_date(raw_since, "since") if raw_since else None
    until = paging.parse_date(raw_until, "until") if raw_until else None
    if since is not None and until is not None and until <= since:
        raise HTTPException(400, "until must be after since")
    if until is not None and len(raw_until) == 10:
        until += timedelta(days=1)  # a day given as "until" includes that day
    ruleset = view.rules()
    if ruleset.rule(rule_id) is None:
        raise HTTPException(400, f"no rule {rule_id!r}")

    job = view.backtests.start(
        rule_id,
        since=since,
        until=until,
        form={"rule": rule_id, "since": raw_since, "until": raw_until},
        run=replay_rule,
        args=(
            view.read.url.render_as_string(hide_password=False),
            ruleset, rule_id, since, until, view.clock(),
        ),
    )  # fmt: skip
    return RedirectResponse(f"/rules/backtest/{job.id}#backtest", status_code=303)


def _poll(request: Request) -> int:
    # each reload asks for a new address (?poll=N): a refresh to the address the page
    # has, with its #backtest, would only scroll to it, not load it again
    raw = request.query_params.get("poll", "0")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 6 else 0


async def backtest_result(request: Request) -> Response:
    """A backtest's result; while it runs, how far it got, and the page reloads itself."""
    view = view_of(request)
    job = view.backtests.get(request.path_params["job"])
    if job is None:
        raise HTTPException(
            404, f"no such backtest: the newest {KEEP} are kept while the view runs"
        )
    try:  # a short replay is shown at once, without a reload
        await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(job.future)), WAIT_S)
    except TimeoutError:
        pass
    except Exception:
        pass
    rows, ruleset = await run_in_threadpool(_rows, request)
    future = job.future
    shown: dict[str, Any] = {
        "id": job.id, "poll": _poll(request) + 1,
        "rule": job.rule, "since": job.since, "until": job.until, "facts": None,
        "seconds": job.elapsed(), "running": not future.done(),
        "waiting": not future.running() and not future.done(), "error": None,
        "drafts": [], "total": 0,
    }  # fmt: skip
    if future.cancelled():
        shown["error"] = "dropped before it ran: too many backtests were started at once"
    elif future.done() and (exc := future.exception()) is not None:
        shown["error"] = one_line(f"{type(exc).__name__}: {exc}", 300)
    elif future.done():
        done = future.result()
        shown.update(
            facts=done.facts, seconds=done.seconds, drafts=done.drafts[:DRAFTS_SHOWN],
            total=len(done.drafts),
        )  # fmt: skip
    form = {"rule": job.rule, "since": "", "until": "", **job.form}
    return _page(request, rows, ruleset, backtest=shown, form=form)
