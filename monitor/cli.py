"""The command line (DESIGN.md section 6).

Listing commands print exactly one JSON array on stdout with --json; logs go to stderr.
Exit codes: 0 ok, 1 a user-facing error with a one-line cause, 2 bad usage (argparse).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.engine import Engine

from monitor import pipeline
from monitor.daemon import Daemon
from monitor.demo_server import serve_directory
from monitor.errors import IngestError, MonitorError, UsageError
from monitor.fetch.client import Fetcher, PollResult, Validators
from monitor.fetch.local import read_local
from monitor.fetch.policy import is_stale
from monitor.fetch.source_file import load_sources
from monitor.notify import digest as digest_mod
from monitor.rules.loader import RuleSet, load_rules
from monitor.rules.reload import RuleBook
from monitor.rules.report import draft_json, format_drafts
from monitor.settings import Settings
from monitor.store import articles, digests, rules_io, stories
from monitor.store import sources as sources_store
from monitor.store.db import current_revision, make_engine, session_scope, upgrade

log = logging.getLogger("monitor")

CHANNELS = ("email", "slack", "webhook", "log")

Handler = Callable[[argparse.Namespace, Settings], int]


# ------------------------------------------------------------------ shared plumbing


def engine_for(settings: Settings) -> Engine:
    db = settings.database
    return make_engine(
        settings.db_url,
        busy_timeout_ms=db.busy_timeout_ms,
        echo=db.echo,
        cache_mb=db.cache_mb,
        mmap_mb=db.mmap_mb,
    )


def open_engine(settings: Settings) -> Engine:
    """Every command works on an upgraded schema: upgrading is automatic and idempotent."""
    engine = engine_for(settings)
    upgrade(engine)
    return engine


def load_ruleset(path: Path) -> RuleSet:
    ruleset = load_rules(path, channels=CHANNELS)
    for problem in ruleset.problems:
        log.error("%s", problem)
    return ruleset


def make_pipeline(settings: Settings) -> pipeline.Pipeline:
    return pipeline.Pipeline(settings, open_engine(settings), load_ruleset(settings.rules.dir))


def emit_json(rows: Sequence[Any]) -> None:
    json.dump(list(rows), sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def parse_since(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        ts = datetime.fromisoformat(text)
    except ValueError as exc:
        raise MonitorError(f"--since {text!r} is not a date (use YYYY-MM-DD)") from exc
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


# ------------------------------------------------------------------------- commands


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    engine = engine_for(settings)
    revision = upgrade(engine)
    print(f"database at revision {revision} ({engine.url.render_as_string()})")
    return 0


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    items = []
    for raw in args.paths:
        path = Path(raw)
        if not path.exists():
            raise IngestError(f"{path}: no such file")
        items.extend(read_local(path))
    pipe = make_pipeline(settings)
    report = pipe.ingest(items, source=args.source)
    print(
        f"ingested {report.fetched} article(s) from {len(args.paths)} file(s): "
        f"{report.new} new, {report.fetched - report.new} already stored, "
        f"{report.duplicates} duplicate(s), {report.facts} fact(s), {report.alerts} alert(s)",
        file=sys.stderr,
    )
    return 0


def _sync_from_file(pipe: pipeline.Pipeline, settings: Settings, base_url: str | None) -> None:
    specs = load_sources(settings.sources_file, base_url=base_url)
    pipe.sync_sources(specs)


async def _poll_once(pipe: pipeline.Pipeline, settings: Settings) -> list[pipeline.BatchReport]:
    async with Fetcher(settings.http) as fetcher:
        return await pipe.poll_due(fetcher, all_sources=True)


def _print_poll(reports: Sequence[pipeline.BatchReport]) -> None:
    for r in reports:
        if r.error:
            print(f"  {r.source}: FAILED {r.error}", file=sys.stderr)
        elif r.not_modified:
            print(f"  {r.source}: not modified", file=sys.stderr)
        else:
            print(
                f"  {r.source}: {r.fetched} item(s), {r.new} new, {r.duplicates} duplicate(s), "
                f"{r.facts} fact(s), {r.alerts} alert(s)",
                file=sys.stderr,
            )


def cmd_poll(args: argparse.Namespace, settings: Settings) -> int:
    if not args.once:
        raise UsageError("poll needs --once (the daemon is `monitor run`)")
    pipe = make_pipeline(settings)
    _sync_from_file(pipe, settings, None)
    reports = asyncio.run(_poll_once(pipe, settings))
    _print_poll(reports)
    return 0 if all(r.error is None for r in reports) else 1


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    seeds = Path(args.seeds)
    if not (seeds / "sources.yaml").is_file():
        raise MonitorError(
            f"{seeds}/sources.yaml not found: run from the project root or pass --seeds DIR"
        )
    workdir = Path(tempfile.mkdtemp(prefix="monitor-demo-"))
    update: dict[str, Any] = {
        "sources_file": seeds / "sources.yaml",
        "http": settings.http.model_copy(
            update={
                "allow_networks": [*settings.http.allow_networks, "127.0.0.1/32"],
                "jitter": 0.0,
            }
        ),
    }
    if not args.db and not settings.database_url:
        update["database_url"] = f"sqlite:///{workdir / 'monitor.db'}"
    settings = settings.model_copy(update=update)
    started = datetime.now(UTC)
    with serve_directory(seeds) as base_url:
        print(f"serving {seeds} at {base_url}", file=sys.stderr)
        pipe = make_pipeline(settings)
        _sync_from_file(pipe, settings, base_url)
        reports = asyncio.run(_poll_once(pipe, settings))
    _print_poll(reports)
    d = pipe.build_digest(since=None, title="monitor digest (demo)")
    sys.stdout.write(digest_mod.render_text(d))
    html = pipeline.write_digest_html(d, workdir)
    elapsed = (datetime.now(UTC) - started).total_seconds()
    print(f"\nHTML digest: {html}", file=sys.stderr)
    print(
        f"database: {settings.db_url}  (browse it: monitor --db {settings.db_url} stories)",
        file=sys.stderr,
    )
    print(f"demo finished in {elapsed:.1f} s", file=sys.stderr)
    return 0 if all(r.error is None for r in reports) else 1


def cmd_stories(args: argparse.Namespace, settings: Settings) -> int:
    engine = open_engine(settings)
    with session_scope(engine) as session:
        if args.action == "show":
            if args.id is None:
                raise UsageError("stories show needs a story id")
            detail = stories.story_detail(session, args.id)
            if detail is None:
                raise MonitorError(f"no story {args.id}")
            if args.json:
                emit_json([detail])
            else:
                _print_story_detail(detail)
            return 0
        rows = stories.list_stories(session, since=parse_since(args.since), limit=args.limit)
    if args.json:
        emit_json(rows)
    else:
        for s in rows:
            members = s.get("members", [])
            print(f"#{s['id']}  {s.get('title', '')}  ({len(members)} article(s))")
            for m in members:
                dup = f" duplicate of #{m['duplicate_of']}" if m.get("duplicate_of") else ""
                print(f"      #{m['id']} [{m.get('source')}] {m.get('title')}{dup}")
    return 0


def _print_story_detail(detail: dict[str, Any]) -> None:
    print(f"story #{detail['id']}: {detail.get('title', '')}")
    print(
        f"  {detail.get('article_count', 0)} article(s) from {detail.get('sources', 0)} "
        f"source(s); first seen {detail.get('first_seen_at')}, last {detail.get('last_seen_at')}"
    )
    for m in detail.get("members", []):
        ai = f" [AI: {m.get('agent') or 'yes'}]" if m.get("ai_generated") else ""
        print(f"  #{m['id']} [{m.get('source')}] {m.get('title')}{ai}")
        print(f"      {m.get('url')}")
        print(f"      why: {m.get('joined') or json.dumps(m.get('reason'), ensure_ascii=False)}")


def cmd_facts(args: argparse.Namespace, settings: Settings) -> int:
    engine = open_engine(settings)
    with session_scope(engine) as session:
        rows = articles.list_facts(
            session,
            entity=args.entity,
            metric=args.metric,
            since=parse_since(args.since),
            typed_only=not args.all,
            limit=args.limit,
        )
        # terms (model names) and topics have no metric: listed unless a metric is asked for
        mentions = (
            []
            if args.metric
            else articles.list_mentions(
                session, entity=args.entity, since=parse_since(args.since), limit=args.limit
            )
        )
    if args.json:
        emit_json((rows + mentions)[: args.limit])
        return 0
    for f in rows:
        quals = ",".join(f"{k}={v}" for k, v in sorted(f["qualifiers"].items()))
        print(
            f"{f['entity'] or '?':<12} {f['metric'] or '-':<26} {f['surface']:<22} "
            f"{quals:<28} #{f['article_id']}  \u201c{f['quote'][:90]}\u201d"
        )
    for m in mentions:
        print(
            f"{m['entity'] or '?':<12} {m['kind'] + ':' + m['name']:<26} {m['value']:<22} "
            f"{'':<28} #{m['article_id']}  \u201c{m['quote'][:90]}\u201d"
        )
    return 0


def cmd_alerts(args: argparse.Namespace, settings: Settings) -> int:
    engine = open_engine(settings)
    with session_scope(engine) as session:
        rows = rules_io.list_alerts(session, since=parse_since(args.since), limit=args.limit)
    if args.json:
        emit_json(rows)
    else:
        for a in rows:
            change = ""
            if a.get("old") is not None or a.get("new") is not None:
                change = f" {a.get('old')} -> {a.get('new')}"
            print(f"[{a['severity']}] {a['rule']}{change}  {a.get('title', '')}")
    return 0


def cmd_digest(args: argparse.Namespace, settings: Settings) -> int:
    if not args.preview:
        raise UsageError("digest needs --preview (sending comes with the notifiers)")
    pipe = make_pipeline(settings)
    d = pipe.build_digest(since=parse_since(args.since))
    sys.stdout.write(digest_mod.render_text(d))
    if args.html:
        try:
            Path(args.html).write_text(digest_mod.render_html(d), encoding="utf-8")
        except OSError as exc:
            raise MonitorError(f"cannot write {args.html}: {exc.strerror}") from exc
        print(f"HTML digest: {args.html}", file=sys.stderr)
    return 0


def cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "list":
        engine = open_engine(settings)
        now = datetime.now(UTC)
        factor = settings.schedule.stale_factor
        with session_scope(engine) as session:
            rows = [
                sources_store.describe(
                    s, stale=is_stale(s.last_new_item_at, s.usual_gap_s, now, factor)
                )
                for s in sources_store.active_sources(session)
            ]
        if args.json:
            emit_json(rows)
        else:
            for r in rows:
                err = (
                    f" errors={r['error_count']} last={r['last_error_kind']}"
                    if r["error_count"]
                    else ""
                )
                err += " STALE (quiet for longer than usual)" if r["stale"] else ""
                print(
                    f"{r['name']:<24} {r['kind']:<5} last poll {r['last_poll_at'] or 'never'}"
                    f", last new {r['last_new_item_at'] or 'never'}, next "
                    f"{r['next_poll_at'] or 'now'}{err}"
                )
        return 0
    return _sources_check(args, settings)


def _sources_check(args: argparse.Namespace, settings: Settings) -> int:
    """Fetch one source once and show what would be stored, storing nothing."""
    if not args.name:
        raise UsageError("sources check needs a source NAME (see `monitor sources list`)")
    specs = {s.name: s for s in load_sources(settings.sources_file)}
    spec = specs.get(args.name)
    if spec is None:
        known = ", ".join(sorted(specs)) or "none"
        raise MonitorError(f"no source {args.name!r} in {settings.sources_file} (known: {known})")

    async def fetch() -> PollResult:
        async with Fetcher(settings.http) as fetcher:
            return await fetcher.poll(spec, Validators(None, None, None))

    result = asyncio.run(fetch())
    rows: list[dict[str, Any]] = [
        {
            "title": a.title,
            "url": a.url,
            "guid": a.guid,
            "author": a.author,
            "published_at": a.published_at.isoformat() if a.published_at else None,
            "published_raw": a.published_raw,
            "ai_generated": a.ai_generated,
            "agent_name": a.agent_name,
            "words": len(a.text.split()),
            "summary_only": a.summary_only,
        }
        for a in result.articles
    ]
    if args.json:
        emit_json(rows)
        return 0
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(f"{spec.name}: {len(rows)} item(s) would be stored (nothing was stored)")
    for r in rows:
        ai = f"  [AI: {r['agent_name'] or 'yes'}]" if r["ai_generated"] else ""
        print(
            f"  {r['published_at'] or r['published_raw'] or 'undated':<25} {r['title'][:80]}"
            f"  ({r['words']} words){ai}\n      {r['url']}"
        )
    return 0


def cmd_rules(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.path) if args.path else settings.rules.dir
    ruleset = load_rules(path, channels=CHANNELS)
    if args.action == "check":
        for problem in ruleset.problems:
            print(problem)
        if ruleset.problems:
            print(f"{len(ruleset.problems)} problem(s) in {path}", file=sys.stderr)
            return 1
        print(
            f"{path}: {len(ruleset.rules)} rule(s) in {len(ruleset.files)} file(s), all valid",
            file=sys.stderr,
        )
        return 0
    # rules test: replay stored history through these rules; nothing stored, nothing sent
    engine = open_engine(settings)
    with session_scope(engine) as session:
        drafts = rules_io.replay(
            session, ruleset, since=parse_since(args.since), now=datetime.now(UTC)
        )
    for problem in ruleset.problems:
        print(problem, file=sys.stderr)
    if args.json:
        emit_json([draft_json(d) for d in drafts])
    else:
        print(format_drafts(drafts))
    return 1 if ruleset.problems else 0


def cmd_health(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 when the database answers at the newest schema and no source is failing."""
    engine = open_engine(settings)
    now = datetime.now(UTC)
    factor = settings.schedule.stale_factor
    revision = current_revision(engine)  # its own connection: not inside the transaction
    with session_scope(engine) as session:
        report = digests.health(session, now=now)
        srcs = sources_store.active_sources(session)
        report["revision"] = revision
        report["sources"] = len(srcs)
        report["failing_sources"] = sorted(s.name for s in srcs if s.error_count)
        report["stale_sources"] = sorted(
            s.name for s in srcs if is_stale(s.last_new_item_at, s.usual_gap_s, now, factor)
        )
    healthy = not report["failing_sources"]
    report["healthy"] = healthy
    if args.json:
        emit_json([report])
    else:
        print(f"database: {engine.url.render_as_string()} at revision {report['revision']}")
        print(
            f"sources: {report['sources']} active, failing: "
            f"{', '.join(report['failing_sources']) or 'none'}, stale: "
            f"{', '.join(report['stale_sources']) or 'none'}"
        )
        for w in report["workers"]:
            print(f"worker {w['worker']} ({w['role']}): last seen {w['seen_s_ago']} s ago")
        print(
            f"last digest: {report['last_digest_at'] or 'never'}; alerts waiting for a "
            f"digest: {report['alerts_not_in_a_digest']}; operator alerts: "
            f"{report['operator_alerts']}"
        )
    return 0 if healthy else 1


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    engine = open_engine(settings)
    rulebook = RuleBook(settings.rules.dir, channels=CHANNELS)
    asyncio.run(Daemon(settings, engine, rulebook).run())
    return 0


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="monitor",
        description="News monitoring and alerting for market analysts: polls feeds and pages, "
        "folds rewrites and copies into stories, extracts the facts analysts track, "
        "evaluates the rules in rules/ and sends digests.",
        epilog="Settings come from MONITOR_* variables and an optional .env (see README).",
    )
    p.add_argument("--db", help="database URL (overrides MONITOR_DATABASE_URL)")
    p.add_argument("--rules", help="rules directory (overrides MONITOR_RULES__DIR)")
    p.add_argument("--sources", help="sources file (overrides MONITOR_SOURCES_FILE)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(handler=handler)
        return sp

    def listing(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--json", action="store_true", help="one JSON array on stdout")
        sp.add_argument("--since", help="only items on or after this date (YYYY-MM-DD)")
        sp.add_argument("--limit", type=int, default=1000, help="at most this many rows")

    sp = add("demo", cmd_demo, "serve seeds/ locally, poll it once, print the digest (offline)")
    sp.add_argument("--seeds", default="seeds", help="demo corpus folder (default: seeds)")

    add("run", cmd_run, "run the daemon: poll on schedule, reload edited rules, build digests")

    sp = add("ingest", cmd_ingest, "store local .txt/.html/.xml files as articles")
    sp.add_argument("paths", nargs="+", metavar="PATH")
    sp.add_argument("--source", default="file", help="source name to file them under")

    sp = add("poll", cmd_poll, "poll every source once and exit")
    sp.add_argument("--once", action="store_true", help="one cycle, then exit")

    sp = add(
        "sources",
        cmd_sources,
        "list sources and their state, or fetch one (sources check NAME) storing nothing",
    )
    sp.add_argument("action", choices=["list", "check"])
    sp.add_argument("name", nargs="?")
    sp.add_argument("--json", action="store_true", help="one JSON array on stdout")

    sp = add("stories", cmd_stories, "list stories, or explain one (stories show ID)")
    sp.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    sp.add_argument("id", nargs="?", type=int)
    listing(sp)

    sp = add("facts", cmd_facts, "list extracted facts with their quotes")
    listing(sp)
    sp.add_argument("--entity", help="only this entity id (e.g. alibaba)")
    sp.add_argument("--metric", help="only this metric id (e.g. ai_capex_plan)")
    sp.add_argument("--all", action="store_true", help="include untyped figures")

    sp = add("alerts", cmd_alerts, "list alerts fired by the rules")
    listing(sp)

    sp = add("digest", cmd_digest, "show the digest that would be sent")
    sp.add_argument("--preview", action="store_true", help="print it, send nothing")
    sp.add_argument("--since", help="stories seen on or after this date")
    sp.add_argument("--html", help="also write the HTML digest to this file")

    sp = add(
        "rules",
        cmd_rules,
        "check the analysts' rule files, or replay stored history "
        "through them (rules test) showing what would fire, storing and sending nothing",
    )
    sp.add_argument("action", choices=["check", "test"])
    sp.add_argument("path", nargs="?", help="a rules directory or file (default: settings)")
    sp.add_argument("--since", help="replay history from this date (rules test)")
    sp.add_argument("--json", action="store_true", help="one JSON array on stdout")

    sp = add(
        "health",
        cmd_health,
        "database, workers, failing and stale sources, digests; exit 1 when a source is failing",
    )
    sp.add_argument("--json", action="store_true", help="one JSON array on stdout")

    sp = add("db", cmd_db_upgrade, "database maintenance: `db upgrade` applies migrations")
    sp.add_argument("action", choices=["upgrade"])
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        settings = Settings()
        update: dict[str, Any] = {}
        if args.db:
            update["database_url"] = args.db
        if args.rules:
            update["rules"] = settings.rules.model_copy(update={"dir": Path(args.rules)})
        if args.sources:
            update["sources_file"] = Path(args.sources)
        settings = settings.model_copy(update=update)
        if not args.verbose:
            logging.getLogger().setLevel(settings.log_level)
            # one line per request or migration step is noise at the default level
            for chatty in ("alembic", "httpx", "apscheduler"):
                logging.getLogger(chatty).setLevel(logging.WARNING)
        code: int = args.handler(args, settings)
        return code
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        print(f"monitor: error: setting {where}: {first.get('msg')}", file=sys.stderr)
        return 1
    except MonitorError as exc:
        for line in str(exc).splitlines() or [type(exc).__name__]:
            print(f"monitor: error: {line}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
