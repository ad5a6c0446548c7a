"""The analysts' rule files: checked, or replayed over stored history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from monitor.cli.base import DATE, JSON_OPTION, command, echo, emit_json, print_problems, state
from monitor.cli.root import group
from monitor.errors import UsageError

if TYPE_CHECKING:
    from monitor.rules.loader import RuleSet
    from monitor.values import AlertDraft

rules = group(
    "rules",
    "The analysts' rule files: check them, or replay history through them.",
    example="monitor rules check rules/",
)


@command(rules, "check", example="monitor rules check rules/ --json")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@JSON_OPTION
def rules_check(path: Path | None, as_json: bool) -> None:
    """Validate the rule files in PATH (a directory or one file; default: the rules
    directory). Every problem is printed as path:line:col: message; exit 1 on any."""
    _check(path, as_json=as_json)


def _check(path: Path | None, *, as_json: bool) -> None:
    """`rules check`, and `rules test --schema-only`."""
    from monitor.rules.loader import load_rules

    st = state()
    path = path or st.rules_dir()
    names = st.channel_names()
    ruleset = load_rules(path, channels=names)
    print_problems(ruleset.problems, as_json=as_json)
    if ruleset.problems:
        echo(f"{len(ruleset.problems)} problem(s) in {path}", err=True)
        raise click.exceptions.Exit(1)
    echo(
        f"{path}: {len(ruleset.rules)} rule(s) in {len(ruleset.files)} file(s), all valid", err=True
    )


@command(rules, "test", example="monitor rules test --days 30")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option(
    "--published-since",
    "--since",
    "since",
    type=DATE,
    help="Show what would have fired from this article date on (the year before is read "
    "first, so that values and known names are in place).",
)
@click.option(
    "--days",
    type=click.IntRange(min=1, max=36500),
    metavar="N",
    help="Show what would have fired on the stored articles published in the last N days "
    "(--since N days ago), and the digest of those days it would make.",
)
@click.option(
    "--data",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Run the rules over the articles of FILE alone (a saved feed, .html or .txt) in "
    "a temporary database, and print the digest they would make too (not with --json, "
    "which prints the alerts alone); the database in use is not read.",
)
@click.option(
    "--schema-only",
    is_flag=True,
    help="Only check the rule files (as `rules check`); read no articles.",
)
@JSON_OPTION
def rules_test(
    path: Path | None,
    since: datetime | None,
    days: int | None,
    data: Path | None,
    schema_only: bool,
    as_json: bool,
) -> None:
    """Replay stored history through the rules in PATH (default: the rules directory)
    and print what would fire, with evidence; or, with --data, run them over one saved
    file. Stores and sends nothing; exit 1 when a rule file has a problem."""
    from monitor.rules.loader import load_rules
    from monitor.rules.report import draft_json, format_drafts

    if schema_only and (data is not None or days is not None or since is not None):
        raise UsageError("--schema-only reads no articles: --data, --days and --since do not apply")
    if days is not None and since is not None:
        raise UsageError("--days and --since both say where to start: give one")
    if data is not None and (days is not None or since is not None):
        raise UsageError(
            "--data runs the rules over FILE alone: --days and --since are for stored history"
        )
    if schema_only:
        _check(path, as_json=as_json)
        return
    st = state()
    path = path or st.rules_dir()
    ruleset = load_rules(path, channels=st.channel_names())
    if ruleset.problems and not ruleset.rules:
        # nothing to run: "no alert would fire" on stdout would read as a result
        for problem in ruleset.problems:
            echo(str(problem), err=True)
        raise click.exceptions.Exit(1)
    if days is not None:
        since = datetime.now(UTC) - timedelta(days=days)
    digest = None
    if data is not None:
        drafts, digest = _trial(ruleset, data)
    else:
        drafts, digest = _replay(ruleset, since, digest=not as_json)
    for problem in ruleset.problems:
        echo(str(problem), err=True)
    if as_json:
        emit_json([draft_json(d) for d in drafts])
    else:
        echo(format_drafts(drafts))
        if digest is not None:
            echo(f"\nThe digest they would make:\n\n{digest.rstrip()}")
    if ruleset.problems:
        raise click.exceptions.Exit(1)


def _replay(
    ruleset: RuleSet, since: datetime | None, *, digest: bool
) -> tuple[list[AlertDraft], str | None]:
    """What the rules would raise over the stored history from ``since`` on, and, with
    ``since`` and ``digest``, the digest of that period they would make (the whole
    history's would list every story ever stored)."""
    from monitor.app import collector, digests, evaluation
    from monitor.cli.progress import Progress
    from monitor.notify.render_text import render_text
    from monitor.rules.display import Names
    from monitor.store.db import session_scope

    st = state()
    collector.settle()  # a replay of a large history allocates as a pipeline does
    now = datetime.now(UTC)
    with (
        session_scope(st.read_engine()) as session,
        Progress("rules test", total=len(ruleset.rules), unit="rules") as progress,
    ):
        progress.advance(0, note="reading history")

        def done(rule_id: str) -> None:
            progress.advance(note=rule_id)

        drafts = evaluation.replay(session, ruleset, since=since, now=now, on_rule=done)
        if since is None or not digest:
            return drafts, None
        names = Names(ruleset.vocabulary)
        view = digests.would_be(session, drafts, names=names, since=since, until=now)
        return drafts, render_text(view)


def _trial(ruleset: RuleSet, data: Path) -> tuple[list[AlertDraft], str]:
    """The alerts the rules would raise over the articles of one file, and the digest
    they would make: the file goes through every stage into a temporary database, so
    that what is shown is what the daemon would do with those articles alone."""
    import tempfile

    from monitor.app import evaluation
    from monitor.fetch.local import read_local
    from monitor.notify.render_text import render_text
    from monitor.pipeline import Pipeline
    from monitor.store.db import make_engine, session_scope, upgrade

    st = state()
    settings = st.settings()
    articles = read_local(data, max_bytes=settings.http.max_body_bytes)
    with tempfile.TemporaryDirectory(prefix="monitor-rules-test-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'trial.db'}"
        trial = settings.model_copy(update={"database_url": url})
        st.use(trial)  # a fault names this database, not the one in use
        engine = make_engine(url)
        try:
            upgrade(engine)
            pipe = Pipeline(
                trial,
                engine,
                ruleset,
                channels=st.load_channels(unset_ok=True),
            )
            pipe.ingest(articles, source=data.name)
            with session_scope(engine) as session:
                drafts = evaluation.replay(session, ruleset, since=None, now=datetime.now(UTC))
            return drafts, render_text(pipe.preview(since=None))
        finally:
            engine.dispose()
