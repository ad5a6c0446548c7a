"""The work itself: the demo, the daemon, one poll, ingesting local files."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from monitor.cli.base import (
    JSON_OPTION,
    command,
    echo,
    emit_json,
    run_async,
    shown_database,
    state,
)
from monitor.cli.root import root
from monitor.errors import IngestError, MonitorError, UsageError

if TYPE_CHECKING:
    from monitor.app.extract_pool import Extracted
    from monitor.pipeline import BatchReport, Pipeline
    from monitor.settings import Settings
    from monitor.values import FetchedArticle


def _sync(pipe: Pipeline, settings: Settings, base_url: str | None) -> None:
    from monitor.fetch.source_file import load_sources

    pipe.sync_sources(load_sources(settings.sources_file, base_url=base_url))


async def _poll_once(pipe: Pipeline, settings: Settings) -> list[BatchReport]:
    from monitor.cli.progress import Progress
    from monitor.fetch.client import Fetcher

    with Progress("poll", total=None, unit="sources") as progress:

        def done(report: BatchReport) -> None:
            progress.advance(note=f"{report.source}: {report.new} new")

        async with Fetcher(settings.http) as fetcher:
            return await pipe.poll_due(fetcher, all_sources=True, on_done=done)


def _print_poll(reports: Sequence[BatchReport]) -> None:
    for r in reports:
        if r.error:
            echo(f"  {r.source}: FAILED {r.error}", err=True)
        elif r.not_modified:
            echo(f"  {r.source}: not modified", err=True)
        else:
            extra = ""
            if r.elsewhere:
                extra += f", {r.elsewhere} already stored from another source (dropped)"
            if r.partial:
                extra += ", PARTIAL: the feed or some pages were cut short"
            echo(
                f"  {r.source}: {r.fetched} item(s), {r.new} new, {r.duplicates} duplicate(s), "
                f"{r.facts} fact(s), {r.alerts} alert(s){extra}",
                err=True,
            )
            for w in r.warnings:
                echo(f"    warning: {w}", err=True)


@command(root, "poll", example="monitor --sources sources.yaml poll --once")
@click.option("--once", is_flag=True, help="One cycle, then exit (required).")
@JSON_OPTION
def poll(once: bool, as_json: bool) -> None:
    """Poll every source of the sources file once and exit (the daemon is `monitor run`).
    A source another worker is polling is left to it, and said so.

    Exit 1 when a source failed.
    """
    if not once:
        raise UsageError("poll needs --once (the daemon is `monitor run`)")
    st = state()
    pipe = st.pipeline()
    _sync(pipe, pipe.settings, None)
    reports = run_async(_poll_once(pipe, pipe.settings))
    # the sources another worker was polling (a daemon beside this command) are left to
    # it: said, not skipped in silence
    from monitor.app.polling import leased_elsewhere

    others = leased_elsewhere(pipe, {r.source for r in reports})
    if as_json:
        emit_json([*(_poll_row(r) for r in reports), *(_leased_row(*o) for o in others)])
    else:
        _print_poll(reports)
        for name, worker, until in others:
            echo(f"  {name}: skipped, being polled by {worker} (lease until {until:%H:%M:%S} UTC)",
                 err=True)  # fmt: skip
    if any(r.error for r in reports):
        raise click.exceptions.Exit(1)


def _poll_row(r: BatchReport) -> dict[str, Any]:
    keys = ("source", "fetched", "new", "duplicates", "elsewhere", "facts", "alerts")
    row: dict[str, Any] = {k: getattr(r, k) for k in keys}
    row |= {"not_modified": r.not_modified, "partial": r.partial, "error": r.error}
    row |= {"error_kind": r.error_kind, "warnings": list(r.warnings)}
    row |= {"polled_by": None, "lease_until": None}  # polled here, not by another worker
    return row


def _leased_row(name: str, worker: str, until: datetime) -> dict[str, Any]:
    """A source left to the worker polling it, in the shape of a polled one's row."""
    from monitor.pipeline import BatchReport

    row = _poll_row(BatchReport(source=name))
    row |= {"polled_by": worker, "lease_until": until.isoformat()}
    return row


@command(root, "run", example="monitor run --metrics-address 127.0.0.1:9464")
@click.option(
    "--metrics-address",
    metavar="HOST:PORT",
    help="Serve /healthz, /readyz and /metrics here (overrides MONITOR_METRICS_ADDRESS).",
)
@click.option(
    "--web",
    "web_address",
    metavar="HOST:PORT",
    help="Also serve the analyst web view here (as `monitor serve`; the same address as "
    "--metrics-address serves both). Any address but a loopback one needs MONITOR_WEB__TOKEN.",
)
def run(metrics_address: str | None, web_address: str | None) -> None:
    """The daemon: polls due sources, reloads edited rule and source files, evaluates
    time-based rules, builds each channel's digest on its schedule and sends the outbox,
    until SIGTERM or SIGINT (SIGHUP reloads every file at once, the channels file too)."""
    from monitor.daemon import Daemon
    from monitor.errors import RuleFileError
    from monitor.rules.reload import RuleBook

    st = state()
    settings = st.settings()
    if web_address:
        from monitor.web.server import check_address

        token = settings.web.token.get_secret_value() if settings.web.token else None
        check_address(web_address, token)  # refused before anything starts
    engine = st.engine()
    rulebook = RuleBook(st.rules_dir(), channels=st.channel_names())
    if rulebook.last_outcome.problems:
        raise RuleFileError(rulebook.last_outcome.problems)
    channels = st.load_channels()
    daemon = Daemon(
        settings,
        engine,
        rulebook,
        channels=channels,
        channel_loader=st.reload_channels,
        metrics_address=metrics_address or settings.metrics_address,
        web_address=web_address,
    )
    run_async(daemon.run())


# --------------------------------------------------------------------------- demo

# The demo's channels, named as the shipped rules route (the example channels file's).
DEMO_CHANNELS = """channels:
  - name: desk-email
    type: email
    to: [analyst@example.com]
    schedule: "0 8 * * 1-5"
    timezone: Asia/Shanghai
    immediate: high
  - name: china-tech-slack
    type: slack
    url_env: MONITOR_DEMO_SLACK_URL
    schedule: "30 8,17 * * 1-5"
    timezone: Asia/Shanghai
    immediate: high
"""


@command(root, "demo", example="monitor demo")
@click.option(
    "--seeds",
    type=click.Path(path_type=Path, file_okay=False),
    help="Demo corpus folder with a sources.yaml (default: the one shipped with monitor).",
)
def demo(seeds: Path | None) -> None:
    """The whole loop, offline: serve the demo corpus on 127.0.0.1, poll it once into a
    new temporary database (MONITOR_DATABASE_URL is not used; with --db, that database,
    whose sources become the demo's), send the digest through the real senders to a local SMTP
    server and a local Slack-like receiver, and print what each received (works from any
    directory)."""
    from monitor.app import digests
    from monitor.app.outbox import Dispatcher
    from monitor.bundled import RULES_DIR, SEEDS_DIR
    from monitor.cli.digest_cmds import dispatch, print_outcomes
    from monitor.demo_server import serve_directory
    from monitor.demo_sinks import slack_receiver, smtp_sink
    from monitor.notify.render_text import render_text

    st = state()
    if st.sources is not None or st.channels is not None:
        raise UsageError(
            "the demo polls the sources.yaml of --seeds and sends to its own local channels: "
            "--sources and --channels do not apply"
        )
    seeds = seeds or SEEDS_DIR
    if not (seeds / "sources.yaml").is_file():
        raise MonitorError(f"{seeds}/sources.yaml not found: pass --seeds DIR")
    settings = st.settings()
    workdir = Path(tempfile.mkdtemp(prefix="monitor-demo-"))
    started = datetime.now(UTC)
    with (
        serve_directory(seeds) as base_url,
        smtp_sink() as (smtp_port, mailbox),
        slack_receiver() as (slack_url, posts),
    ):
        echo(f"serving {seeds} at {base_url}", err=True)
        echo(f"SMTP sink at 127.0.0.1:{smtp_port}, Slack-like receiver at {slack_url}", err=True)
        (workdir / "channels.yaml").write_text(DEMO_CHANNELS, encoding="utf-8")
        update: dict[str, Any] = {
            "sources_file": seeds / "sources.yaml",
            "channels_file": workdir / "channels.yaml",
            "http": settings.http.model_copy(
                update={
                    "allow_networks": [*settings.http.allow_networks, "127.0.0.1/32"],
                    "jitter": 0.0,
                }
            ),
            "smtp": settings.smtp.model_copy(
                update={"host": "127.0.0.1", "port": smtp_port, "tls": "none"}
            ),
            "slack": settings.slack.model_copy(update={"min_interval": 0.0}),
        }
        if not st.db:
            # Not the configured database: the demo's sources file would become its list
            # of sources (deactivating the operator's) and its articles would mix in.
            update["database_url"] = f"sqlite:///{workdir / 'monitor.db'}"
        if st.rules is None and "dir" not in settings.rules.model_fields_set:
            update["rules"] = settings.rules.model_copy(update={"dir": RULES_DIR})
        settings = settings.model_copy(update=update)
        st.use(settings)
        st.channels, st.env = workdir / "channels.yaml", {"MONITOR_DEMO_SLACK_URL": slack_url}
        pipe = st.pipeline(sending=True)
        _sync(pipe, settings, base_url)
        reports = run_async(_poll_once(pipe, settings))
        _print_poll(reports)
        now = pipe.clock()
        for channel in pipe.channels:
            pipe.record_digest(channel, window_key=f"digest:{channel.name}@demo", until=now)
        outcomes = dispatch(Dispatcher(pipe))
        echo("\ndeliveries:", err=True)
        print_outcomes(outcomes, as_json=False)
        view = pipe.preview(since=None)
    echo(render_text(view).rstrip("\n"))
    echo("")
    echo(f"The SMTP sink received {len(mailbox.messages)} email(s):")
    for rcpt, msg in mailbox.messages:
        parts = [part.get_content_type() for part in msg.walk() if not part.is_multipart()]
        echo(f"  to {', '.join(rcpt)}: {msg['Subject']}")
        echo(f"    Message-ID {msg['Message-ID']}; parts: {', '.join(parts)}")
    echo(f"The Slack-like receiver received {len(posts.bodies)} message(s):")
    for body in posts.bodies:
        blocks = body.get("blocks") or []
        first = str(body.get("text", "")).splitlines()[0] if body.get("text") else ""
        echo(f"  {len(blocks)} block(s): {first[:100]}")
    html = digests.write_html(view, workdir)
    elapsed = (datetime.now(UTC) - started).total_seconds()
    echo(f"\nHTML digest: {html}", err=True)
    shown = shown_database(settings.db_url) or settings.db_url  # the engine parsed it
    # with a password masked the URL shown would not open: the hint names the option
    db = shown if shown == settings.db_url else "URL (your --db)"
    echo(f"database: {shown}  (browse it: monitor --db {db} stories)", err=True)
    echo(f"demo finished in {elapsed:.1f} s", err=True)
    echo(
        f"\nView it in a browser: monitor serve --db {db}\n"
        "  then open http://127.0.0.1:8080/ (Ctrl-C stops it)",
        err=True,
    )
    if any(r.error for r in reports) or any(o.status != "sent" for o in outcomes):
        raise click.exceptions.Exit(1)


# ------------------------------------------------------------------------- ingest

# Articles stored per transaction: memory stays bounded on any number of files. Some of
# a batch's work is per batch, not per article (the rules' read of the window's stories,
# the band-key lookups, the commit); 500 against 200: 2,000 files on 50,000 stored took
# 12% less CPU, for 9 MB more resident memory.
BATCH = 500


@dataclass
class FileResult:
    """What became of one file given to ``monitor ingest`` (``--json``)."""

    file: str
    articles: int = 0
    new: int = 0
    known: int = 0  # this source already had it
    elsewhere: int = 0  # another source already had the same link: dropped
    duplicates: int = 0
    facts: int = 0
    terms: int = 0
    topics: int = 0
    error: str | None = None


def _files(paths: Sequence[Path], recursive: bool) -> Iterator[Path]:
    from monitor.fetch.local import files_under

    for path in paths:
        if path.is_dir():
            if not recursive:
                raise UsageError(
                    f"{path} is a folder: pass --recursive to ingest the files under it"
                )
            yield from files_under(path)
        else:
            yield path


@command(root, "ingest", example="monitor ingest --recursive articles/ --source archive")
@click.argument(
    "paths",
    nargs=-1,
    required=True,
    # a file that cannot be read is reported at its turn, the others stored
    type=click.Path(path_type=Path, readable=False),
    metavar="PATH...",
)
@click.option("--source", default="file", show_default=True, help="Source name to file them under.")
@click.option("--recursive", "-r", is_flag=True, help="Ingest the files under each folder.")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1, max=64),  # processes: 99,999 would be spawned as asked
    default=1,
    show_default=True,
    metavar="N",
    help="Processes to use: with 2 or more, extraction runs in N - 1 worker processes "
    "a batch ahead of the rest (a backfill on several cores; the same rows are stored).",
)
@JSON_OPTION
def ingest(paths: tuple[Path, ...], source: str, recursive: bool, jobs: int, as_json: bool) -> None:
    """Store local files as articles through the same stages as a poll: .txt and
    .html/.htm files are one article each; .xml, .rss, .atom and .rdf are feeds. Alerts
    are recorded, nothing is sent.

    Each file that cannot be read (unreadable, binary, over the size cap, not a regular
    file), and each article in which nothing was found, is reported; exit 1 when a file
    could not be read (the others are stored). A PATH that does not exist stops the
    command before anything is stored.
    """
    from monitor.cli.progress import Progress
    from monitor.fetch.local import read_local

    for path in paths:
        if not path.exists():
            raise IngestError(f"{path}: no such file or folder")
    pipe = state().pipeline()
    # --json lists every file; otherwise only the totals are kept, so that memory stays
    # the same for a hundred files or a million
    results: list[FileResult] = []
    totals = FileResult("")
    files = failed = alerts = 0
    # each article with its file's row (the totals without --json) and the file's path
    batch: list[tuple[FetchedArticle, FileResult, str]] = []
    pool = None
    if jobs > 1:
        from monitor.app.extract_pool import ExtractPool

        pool = ExtractPool(
            pipe.rules.vocabulary,
            workers=jobs - 1,
            regex_timeout=pipe.settings.rules.regex_timeout,
        )
    # with workers: the batch whose extraction runs while the one before it is stored
    ahead: tuple[list[tuple[FetchedArticle, FileResult, str]], Extracted | None] | None = None

    def store(
        entries: list[tuple[FetchedArticle, FileResult, str]], extracted: Extracted | None
    ) -> None:
        nonlocal alerts
        report = pipe.ingest([a for a, _, _ in entries], source=source, extracted=extracted)
        alerts += report.alerts
        for (article, result, name), item in zip(entries, report.items, strict=True):
            for r in (result, totals) if result is not totals else (totals,):
                r.new += item.status == "new"
                r.known += item.status == "known"
                r.elsewhere += item.status == "elsewhere"
                r.duplicates += item.duplicate_of is not None
                r.facts += item.facts
                r.terms += item.terms
                r.topics += item.topics
            if item.status == "new" and not (item.figures or item.terms or item.topics):
                echo(f"note: {name}: nothing found in {article.title[:60]!r}", err=True)

    def flush() -> None:
        nonlocal ahead
        if not batch:
            return
        entries = batch.copy()
        batch.clear()
        if pool is None:
            store(entries, None)
            return
        started = pool.submit([a for a, _, _ in entries])
        if ahead is not None:
            store(*ahead)
        ahead = (entries, started)

    total = sum(1 for _ in _files(paths, recursive))
    with contextlib.ExitStack() as stack, Progress("ingest", total=total, unit="files") as progress:
        if pool is not None:
            stack.callback(pool.close)
        for path in _files(paths, recursive):
            files += 1
            result = FileResult(str(path)) if as_json else totals
            if as_json:
                results.append(result)
            try:
                found = read_local(path, max_bytes=pipe.settings.http.max_body_bytes)
            except IngestError as exc:
                failed += 1
                if as_json:
                    result.error = str(exc)
                echo(f"error: {exc}", err=True)
                progress.advance()
                continue
            result.articles += len(found) if result is not totals else 0
            totals.articles += len(found)
            batch.extend((a, result, str(path)) for a in found)
            if len(batch) >= BATCH:
                flush()
            progress.advance(note=f"{totals.new:,} new, {alerts:,} alert(s)")
        flush()
        if ahead is not None:
            store(*ahead)
    if as_json:
        emit_json(results)
    echo(
        f"ingested {totals.articles} article(s) from {files - failed} file(s): "
        f"{totals.new} new, {totals.known} already stored, "
        f"{totals.elsewhere} stored from another source (dropped), "
        f"{totals.duplicates} duplicate(s), {totals.facts} "
        f"fact(s), {alerts} alert(s)" + (f"; {failed} file(s) could not be read" if failed else ""),
        err=True,
    )
    if failed:
        raise click.exceptions.Exit(1)
