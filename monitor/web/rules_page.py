"""The rules page: each rule with where it is written, when it last fired, what it keeps
in state and what is wrong with the files now; and a backtest of one rule over a date
range (the ``rules test`` engine, ``monitor.app.evaluation.backtest``), which writes
nothing but is a POST with a CSRF token like every form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from monitor.app import evaluation
from monitor.rules.display import Names, format_value
from monitor.rules.loader import Rule
from monitor.rules.schema import SeriesSpec
from monitor.store import alerts as alert_rows
from monitor.store import rule_views
from monitor.store.alerts import AlertView
from monitor.values import AlertDraft
from monitor.web import paging
from monitor.web.security import form_checked
from monitor.web.view import page, view_of

DRAFTS_SHOWN = 200


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

    def run() -> list[AlertDraft]:
        with view.reading() as session:  # read-only: a backtest writes nothing
            return evaluation.backtest(
                session, ruleset, rule_id, since=since, until=until, now=datetime.now(UTC)
            )

    drafts = await run_in_threadpool(run)
    rows, ruleset = await run_in_threadpool(_rows, request)
    return _page(
        request,
        rows,
        ruleset,
        backtest={
            "rule": rule_id,
            "drafts": drafts[:DRAFTS_SHOWN],
            "total": len(drafts),
            "since": since,
            "until": until,
        },
        form={"rule": rule_id, "since": raw_since, "until": raw_until},
    )
