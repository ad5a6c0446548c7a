"""The analysts' rule files: checked, or replayed over stored history."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from monitor.cli.base import DATE, JSON_OPTION, command, echo, emit_json, print_problems, state
from monitor.cli.root import group

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


@command(rules, "test", example="monitor rules test --since 2025-12-01")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option(
    "--published-since",
    "--since",
    "since",
    type=DATE,
    help="Show what would have fired from this article date on (the year before is read "
    "first, so that values and known names are in place).",
)
@JSON_OPTION
def rules_test(path: Path | None, since: datetime | None, as_json: bool) -> None:
    """Replay stored history through the rules in PATH (default: the rules directory)
    and print what would fire, with evidence. Stores and sends nothing; exit 1 when a
    rule file has a problem."""
    from monitor.app import collector, evaluation
    from monitor.cli.progress import Progress
    from monitor.rules.loader import load_rules
    from monitor.rules.report import draft_json, format_drafts
    from monitor.store.db import session_scope

    st = state()
    ruleset = load_rules(path or st.rules_dir(), channels=st.channel_names())
    collector.settle()  # a replay of a large history allocates as a pipeline does
    with (
        session_scope(st.engine()) as session,
        Progress("rules test", total=len(ruleset.rules), unit="rules") as progress,
    ):
        progress.advance(0, note="reading history")

        def done(rule_id: str) -> None:
            progress.advance(note=rule_id)

        drafts = evaluation.replay(
            session, ruleset, since=since, now=datetime.now(UTC), on_rule=done
        )
    for problem in ruleset.problems:
        echo(str(problem), err=True)
    if as_json:
        emit_json([draft_json(d) for d in drafts])
    else:
        echo(format_drafts(drafts))
    if ruleset.problems:
        raise click.exceptions.Exit(1)
