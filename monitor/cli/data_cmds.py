"""Reading what is stored: stories, facts, alerts."""

from __future__ import annotations

import json
from datetime import datetime

import click

from monitor.cli.base import DATE, JSON_OPTION, ROW_ID, command, echo, emit_json, state
from monitor.cli.root import group, root, with_defaults_of
from monitor.errors import MonitorError

LIMIT = click.option("--limit", type=ROW_ID, default=1000, help="At most this many rows.")

stories = group(
    "stories",
    "Stories: the list with member articles, or one story explained.\n\n"
    "Without a subcommand: `stories list`.",
    example="monitor stories show 3",
    default="list",
)


@command(stories, "list", example="monitor stories list --published-since 2025-12-01 --json")
@JSON_OPTION
@click.option(
    "--published-since",
    "--since",
    "since",
    type=DATE,
    help="Only stories with an article dated on or after this date (publication date, "
    "else when first seen).",
)
@LIMIT
def stories_list(as_json: bool, since: datetime | None, limit: int) -> None:
    """Stories, newest first, with their member articles."""
    from monitor.app import stories as app_stories
    from monitor.store.db import session_scope

    with session_scope(state().read_engine()) as session:
        rows = app_stories.list_stories(session, since=since, limit=limit)
    if as_json:
        emit_json(rows)
        return
    for s in rows:
        echo(f"#{s.id}  {s.title}  ({len(s.members)} article{'s' if len(s.members) != 1 else ''})")
        for m in s.members:
            dup = f" duplicate of #{m.duplicate_of}" if m.duplicate_of else ""
            echo(f"      #{m.id} [{m.source}] {m.title}{dup}")


with_defaults_of(stories, "list")


@command(stories, "show", example="monitor stories show 3 --json")
@click.argument("story_id", metavar="ID", type=ROW_ID)
@JSON_OPTION
def stories_show(story_id: int, as_json: bool) -> None:
    """One story: each member with the reason it joined, and its facts."""
    from monitor.app import stories as app_stories
    from monitor.store.db import session_scope
    from monitor.store.story_views import MemberDetail

    with session_scope(state().read_engine()) as session:
        detail = app_stories.story_detail(session, story_id)
    if detail is None:
        raise MonitorError(f"no story {story_id} (see `monitor stories list`)")
    if as_json:
        emit_json([detail])
        return
    echo(f"story #{detail.id}: {detail.title}")
    echo(
        f"  {detail.article_count} article(s) from {detail.sources} source(s); first seen "
        f"{detail.first_seen_at}, last {detail.last_seen_at}"
    )
    for m in detail.members:
        assert isinstance(m, MemberDetail)
        ai = f" [AI: {m.agent or 'yes'}]" if m.ai_generated else ""
        echo(f"  #{m.id} [{m.source}] {m.title}{ai}")
        echo(f"      {m.url}")
        echo(f"      why: {m.joined or json.dumps(m.reason, ensure_ascii=False)}")


@command(root, "facts", example="monitor facts --entity alibaba --metric ai_capex_plan --json")
@JSON_OPTION
@click.option("--entity", help="Only this entity id (e.g. alibaba).")
@click.option("--metric", help="Only this metric id (e.g. ai_capex_plan).")
@click.option("--all", "show_all", is_flag=True, help="Include untyped figures.")
@click.option(
    "--published-since",
    "--since",
    "since",
    type=DATE,
    help="Only facts of articles dated on or after this date (publication date, else when "
    "first seen).",
)
@LIMIT
def facts(
    as_json: bool,
    entity: str | None,
    metric: str | None,
    show_all: bool,
    since: datetime | None,
    limit: int,
) -> None:
    """Extracted facts with entity, metric, value, qualifiers and quote, then the terms
    (model names) and topics found."""
    from monitor.app import listings
    from monitor.store.db import session_scope

    with session_scope(state().read_engine()) as session:
        rows, mentions = listings.facts(
            session, entity=entity, metric=metric, show_all=show_all, since=since, limit=limit
        )
    if as_json:
        emit_json(listings.facts_json(rows, mentions, limit))
        return
    for f in rows:
        quals = ",".join(f"{k}={v}" for k, v in sorted(f.qualifiers.items()))
        echo(
            f"{f.entity or '?':<12} {f.metric or '-':<26} {f.surface:<22} "
            f"{quals:<28} #{f.article_id}  \u201c{f.quote[:90]}\u201d"
        )
    for m in mentions:
        echo(
            f"{m.entity or '?':<12} {m.kind + ':' + m.name:<26} {m.value:<22} "
            f"{'':<28} #{m.article_id}  \u201c{m.quote[:90]}\u201d"
        )


@command(root, "alerts", example="monitor alerts --fired-since 2025-12-01 --json")
@JSON_OPTION
@click.option(
    "--fired-since",
    "--since",
    "since",
    type=DATE,
    help="Only alerts that fired on or after this date (the alert's time, not the article's).",
)
@LIMIT
def alerts(as_json: bool, since: datetime | None, limit: int) -> None:
    """Alerts fired by the rules, newest first."""
    from monitor.store import alerts as alert_rows
    from monitor.store.db import session_scope

    with session_scope(state().read_engine()) as session:
        rows = alert_rows.list_alerts(session, since=since, limit=limit)
    if as_json:
        emit_json(rows)
        return
    for a in rows:
        change = f" {a.old} -> {a.new}" if a.old is not None or a.new is not None else ""
        echo(f"[{a.severity}] {a.rule}{change}  {a.title}")
