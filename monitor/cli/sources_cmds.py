"""Sources: their state, and one fetched on trial."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from monitor.cli.base import JSON_OPTION, command, echo, emit_json, run_async, state
from monitor.cli.root import group, with_defaults_of
from monitor.errors import MonitorError

if TYPE_CHECKING:
    from monitor.fetch.client import Fetcher, PollResult
    from monitor.fetch.source_file import SourceSpec

sources = group(
    "sources",
    "Sources: their poll state, or one fetched once, storing nothing.\n\n"
    "Without a subcommand: `sources list`.",
    example="monitor sources check ainvest-wire-atom",
    default="list",
)


@command(sources, "list", example="monitor sources list --json")
@JSON_OPTION
def sources_list(as_json: bool) -> None:
    """Each active source: last poll, last new item, errors, next poll, stale."""
    from monitor.app import health

    st = state()
    rows = health.source_views(
        st.read_engine(), now=datetime.now(UTC), stale_factor=st.settings().schedule.stale_factor
    )
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        err = f" errors={r.error_count} last={r.last_error_kind}" if r.error_count else ""
        err += " STALE (quiet for longer than usual)" if r.stale else ""
        echo(
            f"{r.name:<24} {r.kind:<5} last poll {_iso(r.last_poll_at) or 'never'}, last new "
            f"{_iso(r.last_new_item_at) or 'never'}, next {_iso(r.next_poll_at) or 'now'}{err}"
        )


with_defaults_of(sources, "list")


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


@dataclass(frozen=True, slots=True)
class TrialItem:
    """An item a trial fetch found (``sources check --json``)."""

    title: str
    url: str
    guid: str
    author: str | None
    published_at: datetime | None
    published_raw: str | None
    ai_generated: bool
    agent_name: str | None
    words: int
    summary_only: bool


async def _sample_page(fetcher: Fetcher, spec: SourceSpec, result: PollResult) -> list[str]:
    """The article-page selectors that match nothing on the first article page fetched
    (RELIABILITY R4): a selector copied wrong, or a layout that changed, would otherwise
    go unseen while the parts fall back to the page's metadata."""
    from monitor.fetch.pages import unmatched_selectors

    sel = spec.selectors
    if sel is None or not (sel.title or sel.author or sel.date or sel.body) or not result.pages:
        return []
    page = result.pages[0]  # where the poll fetched it, not its canonical link
    try:
        fetched = await fetcher.get_page(page)  # an error page would match nothing
    except MonitorError as exc:
        return [f"the sample page {page} could not be fetched to check the selectors: {exc}"]
    return [
        f"selector {part} {css!r} matched nothing on the sample page {page}"
        + ("" if part == "body" else f": the {part} comes from the page's metadata, if any")
        for part, css in unmatched_selectors(fetched.body, fetched.headers, sel)
    ]


@command(sources, "check", example="monitor sources check ainvest-wire-atom --json")
@click.argument("name")
@JSON_OPTION
def sources_check(name: str, as_json: bool) -> None:
    """Fetch the source NAME of the sources file once and show what would be stored,
    storing nothing; warn of each article-page selector that matches nothing on the first
    article page."""
    from monitor.fetch.client import Fetcher, Validators
    from monitor.fetch.source_file import load_sources

    settings = state().settings()
    specs = {s.name: s for s in load_sources(settings.sources_file)}
    spec = specs.get(name)
    if spec is None:
        known = ", ".join(sorted(specs)) or "none"
        raise MonitorError(f"no source {name!r} in {settings.sources_file} (known: {known})")

    async def fetch() -> tuple[PollResult, list[str]]:
        async with Fetcher(settings.http) as fetcher:
            result = await fetcher.poll(spec, Validators(None, None, None))
            return result, await _sample_page(fetcher, spec, result)

    result, sample_warnings = run_async(fetch())
    rows = [
        TrialItem(
            a.title,
            a.url,
            a.guid,
            a.author,
            a.published_at,
            a.published_raw,
            a.ai_generated,
            a.agent_name,
            len(a.text.split()),
            a.summary_only,
        )
        for a in result.articles
    ]
    for w in [*result.warnings, *sample_warnings]:
        echo(f"warning: {w}", err=True)
    if result.partial:
        echo(f"warning: {spec.name}: the feed or some pages were cut short (partial)", err=True)
    if as_json:
        emit_json(rows)
        return
    echo(f"{spec.name}: {len(rows)} item(s) would be stored (nothing was stored)")
    for r in rows:
        ai = f"  [AI: {r.agent_name or 'yes'}]" if r.ai_generated else ""
        when = _iso(r.published_at) or r.published_raw or "undated"
        echo(f"  {when:<25} {r.title[:80]}  ({r.words} words){ai}\n      {r.url}")
