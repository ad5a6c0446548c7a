"""The outbox: what was sent, what waits for a retry, what is dead; retry and dispatch."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from monitor.cli.base import JSON_OPTION, ROW_ID, command, echo, emit_json, state
from monitor.cli.digest_cmds import dispatch, print_outcomes
from monitor.cli.root import group, with_defaults_of
from monitor.errors import ConfigError, MonitorError

deliveries = group(
    "deliveries",
    "The outbox: one message per part, channel and recipient, and what became of it.\n\n"
    "Without a subcommand: `deliveries list`.",
    example="monitor deliveries --state dead",
    default="list",
)


@command(deliveries, "list", example="monitor deliveries list --state retrying --json")
@click.option(
    "--state",
    "wanted",
    type=click.Choice(["pending", "sent", "retrying", "dead"]),
    help="Only messages in this state.",
)
@JSON_OPTION
@click.option("--limit", type=ROW_ID, default=1000, help="At most this many.")
def deliveries_list(wanted: str | None, as_json: bool, limit: int) -> None:
    """Messages newest first: channel, recipient, state, tries, the last error."""
    from monitor.store import deliveries as rows
    from monitor.store.db import session_scope

    with session_scope(state().read_engine()) as session:
        listed = rows.list_deliveries(session, state=wanted, limit=limit)
    if as_json:
        emit_json(listed)
        return
    for d in listed:
        who = f" {d.recipient}" if d.recipient else ""
        err = f"  last error: {d.last_error}" if d.last_error and d.status != "sent" else ""
        echo(
            f"#{d.id} {d.status:<8} {d.kind} {d.ref_id} -> {d.channel}{who} part {d.part}/"
            f"{d.parts}, {d.attempts} tr{'y' if d.attempts == 1 else 'ies'}{err}"
        )


with_defaults_of(deliveries, "list")


@command(deliveries, "retry", example="monitor deliveries retry 12")
@click.argument("delivery_id", metavar="ID", type=ROW_ID)
def deliveries_retry(delivery_id: int) -> None:
    """Queue a dead (or waiting) message again, due now; `deliveries dispatch` or the
    daemon sends it."""
    from monitor.store import deliveries as rows
    from monitor.store.db import session_scope

    st = state()
    now = datetime.now(UTC)
    with session_scope(st.engine()) as session:
        got = rows.retry(session, delivery_id, now=now)
    if got is None:
        raise MonitorError(f"no delivery {delivery_id} (see `monitor deliveries`)")
    if got.status == "sent":
        echo(f"delivery {delivery_id} was sent already; nothing to do", err=True)
    elif rows.sending(got, now):
        echo(
            f"delivery {delivery_id} to {got.channel} is being sent now; nothing to do (if"
            " that try fails, it is retried as scheduled)",
            err=True,
        )
    else:
        echo(f"delivery {delivery_id} to {got.channel} queued again", err=True)


@command(deliveries, "dispatch", example="monitor deliveries dispatch")
@JSON_OPTION
def deliveries_dispatch(as_json: bool) -> None:
    """Send every message that is due now and exit; exit 1 when one failed."""
    from monitor.app.outbox import Dispatcher

    pipe = state().pipeline(sending=True)
    if not pipe.channels:
        # without one no message can be sent, and none is claimed (Dispatcher.claim)
        raise ConfigError(
            "no channels file: nothing can be sent (set MONITOR_CHANNELS_FILE or pass"
            " --channels FILE; see `monitor channels`)"
        )
    outcomes = dispatch(Dispatcher(pipe))
    print_outcomes(outcomes, as_json)
    if any(o.status != "sent" for o in outcomes):
        raise click.exceptions.Exit(1)
