"""Digests: what would be sent."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from monitor.cli.base import DATE, command, echo, state
from monitor.cli.root import group, with_defaults_of
from monitor.errors import MonitorError

digest = group(
    "digest",
    "Digests: preview what would be sent.\n\n"
    "Without a subcommand, `digest --preview` is `digest preview`.",
    example="monitor digest preview --html digest.html",
    default="preview",
    default_when="preview",
)


@command(digest, "preview", example="monitor digest preview --since 2025-12-01 --html d.html")
@click.option(
    "--published-since",
    "--since",
    "since",
    type=DATE,
    help="Only stories with an article dated on or after this date (default: everything).",
)
@click.option("--html", type=click.Path(path_type=Path), help="Also write the HTML digest here.")
@click.option("--preview", is_flag=True, hidden=True, help="The old form: same as `preview`.")
def digest_preview(since: datetime | None, html: Path | None, preview: bool) -> None:
    """Print the digest as text; sends nothing, records nothing."""
    from monitor.notify import digest as digest_mod

    pipe = state().pipeline(strict_rules=False)
    d = pipe.build_digest(since=since)
    echo(digest_mod.render_text(d).rstrip("\n"))
    if html:
        try:
            html.write_text(digest_mod.render_html(d), encoding="utf-8")
        except OSError as exc:
            raise MonitorError(f"cannot write {html}: {exc.strerror}") from exc
        echo(f"HTML digest: {html}", err=True)


with_defaults_of(digest, "preview")
