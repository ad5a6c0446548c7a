"""For operators: the database schema and health."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from monitor.cli.base import JSON_OPTION, command, echo, emit_json, state
from monitor.cli.root import group, root

db = group(
    "db",
    "Database maintenance.",
    example="monitor db upgrade",
)


@command(db, "upgrade", example="monitor --db sqlite:///monitor.db db upgrade")
def db_upgrade() -> None:
    """Check the database (SQLite: PRAGMA quick_check) and apply the migrations it lacks.

    Every command also upgrades on start; this one says what it did.
    """
    from monitor.cli.base import upgrade_with_progress
    from monitor.errors import StoreError
    from monitor.store.db import integrity_problems, shown_url

    engine = state().raw_engine()
    problems = integrity_problems(engine)
    if problems:
        shown = "; ".join(problems[:3]) + (
            f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        )
        raise StoreError(f"the database {shown_url(engine.url)} is damaged: {shown}")
    revision = upgrade_with_progress(engine)
    echo(f"database at revision {revision} ({shown_url(engine.url)})")


@command(db, "prune", example="monitor db prune --json")
@JSON_OPTION
def db_prune(as_json: bool) -> None:
    """Apply the retention settings now (the daemon does it once a day): drop old article
    bodies, delete old articles with their facts, delete old sent messages. What a live
    story or the rules' state still needs stays."""
    from monitor.app import retention

    report = retention.prune(state().pipeline(strict_rules=False))
    if as_json:
        emit_json([report])
        return
    echo(
        f"{report.bodies_dropped} article bodies dropped, {report.articles_deleted} articles "
        f"deleted ({report.articles_kept} old ones still needed), "
        f"{report.deliveries_deleted} sent messages deleted"
    )


@command(root, "health", example="monitor health --json")
@JSON_OPTION
def health(as_json: bool) -> None:
    """Database revision, workers' heartbeats, failing and stale sources, the last digest.

    Exit 0 when the database is at the newest schema and no source is failing, else 1.
    """
    from monitor.app import health as app_health
    from monitor.store.db import shown_url

    st = state()
    engine = st.read_engine()
    report = app_health.report(
        engine, now=datetime.now(UTC), stale_factor=st.settings().schedule.stale_factor
    )
    if as_json:
        emit_json([report])
    else:
        echo(f"database: {shown_url(engine.url)} at revision {report.revision}")
        echo(
            f"sources: {report.sources} active, failing: "
            f"{', '.join(report.failing_sources) or 'none'}, stale: "
            f"{', '.join(report.stale_sources) or 'none'}"
        )
        for w in report.workers:
            echo(f"worker {w.worker} ({w.role}): last seen {w.seen_s_ago} s ago")
        last = report.last_digest_at.isoformat() if report.last_digest_at else "never"
        echo(
            f"last digest: {last}; alerts waiting for a digest: {report.alerts_not_in_a_digest}"
            f"; operator alerts: {report.operator_alerts}"
        )
    if not report.healthy:
        raise click.exceptions.Exit(1)
