"""Digests: preview, send now, and the ones already built."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from monitor.cli.base import (
    DATE,
    JSON_OPTION,
    ROW_ID,
    command,
    echo,
    emit_json,
    run_async,
    state,
)
from monitor.cli.root import group, with_defaults_of
from monitor.errors import ConfigError, MonitorError

if TYPE_CHECKING:
    from monitor.app.outbox import Dispatcher, Outcome
    from monitor.notify.channels import Channel

digest = group(
    "digest",
    "Digests: preview one, send now, list and show the ones built.\n\n"
    "Without a subcommand it shows this help; the old form `digest --preview` still works"
    " as `digest preview`.",
    example="monitor digest send --channel desk-email",
    default="preview",
    default_when="preview",
)

CHANNEL = click.option(
    "--channel", metavar="NAME", help="One channel of the channels file (default: all)."
)


def _channels(name: str | None, *, sending: bool) -> tuple[Channel, ...]:
    st = state()
    found = st.load_channels(unset_ok=not sending)
    if name is None:
        if sending and not found:
            path = st.channels_file()
            raise ConfigError(
                f"{path}: no channels in it"
                if path
                else "no channels file: nothing to send to"
                " (set MONITOR_CHANNELS_FILE or pass --channels FILE; see `monitor channels`)"
            )
        return found
    chosen = tuple(c for c in found if c.name == name)
    if not chosen:
        known = ", ".join(c.name for c in found) or "none"
        raise ConfigError(f"no channel {name!r} (known: {known})")
    return chosen


@command(digest, "preview", example="monitor digest preview --channel desk-email --html d.html")
@CHANNEL
@click.option(
    "--published-since",
    "--since",
    "since",
    type=DATE,
    help="News published from this date on (else first seen then). Default: what was first "
    "seen since the channel's last digest, as its next digest holds; without --channel, "
    "everything.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "html", "slack", "json"]),
    default="text",
    show_default=True,
    help="How to print it: text, the HTML email, Slack's Block Kit parts, or the webhook body.",
)
@click.option("--html", type=click.Path(path_type=Path), help="Also write the HTML digest here.")
@click.option("--preview", is_flag=True, hidden=True, help="The old form: same as `preview`.")
def digest_preview(
    channel: str | None, since: datetime | None, fmt: str, html: Path | None, preview: bool
) -> None:
    """Print the digest a channel would get now; sends nothing, records nothing."""
    from monitor.notify.render_html import render_html
    from monitor.notify.render_json import render_json
    from monitor.notify.render_slack import render_slack
    from monitor.notify.render_text import render_text

    chosen = _channels(channel, sending=False) if channel else ()
    pipe = state().pipeline(strict_rules=False)
    view = pipe.preview(channel=chosen[0] if chosen else None, since=since)
    if fmt == "text":
        echo(render_text(view).rstrip("\n"))
    elif fmt == "html":
        echo(render_html(view))
    elif fmt == "slack":
        echo(json.dumps(render_slack(view), ensure_ascii=False, indent=2))
    else:
        echo(json.dumps(render_json(view), ensure_ascii=False, indent=2, default=str))
    if html:
        try:
            html.write_text(render_html(view), encoding="utf-8")
        except OSError as exc:
            raise MonitorError(f"cannot write {html}: {exc.strerror}") from exc
        echo(f"HTML digest: {html}", err=True)


with_defaults_of(digest, "preview")


@command(digest, "send", example="monitor digest send --channel desk-email")
@CHANNEL
@JSON_OPTION
def digest_send(channel: str | None, as_json: bool) -> None:
    """Build the digest of every channel that takes digests (or of the one named) now,
    whatever its schedule, covering what it has not been sent yet; queue it, send the
    queue, print what was delivered, and exit. A channel without a schedule takes
    immediate alerts only: it gets a digest only when named. Exit 1 when a message failed
    (it stays queued for a retry, or is dead-lettered when it cannot be delivered)."""
    from monitor.app.outbox import Dispatcher

    chosen = _channels(channel, sending=True)
    pipe = state().pipeline(sending=True)
    now = pipe.clock()
    for ch in chosen:
        if ch.schedule is None and channel is None:
            echo(f"{ch.name}: takes no digest (no schedule: immediate alerts only)", err=True)
            continue
        key = f"digest:{ch.name}@sent-{now.isoformat(timespec='microseconds')}"
        got = pipe.record_digest(ch, window_key=key, until=now)
        if got is None:
            echo(f"{ch.name}: nothing new since its last digest", err=True)
        elif got.empty and not got.messages:
            echo(f"{ch.name}: digest {got.digest_id} has nothing new; not sent", err=True)
        else:
            echo(f"{ch.name}: digest {got.digest_id} queued as {got.messages} message(s)", err=True)
    outcomes = dispatch(Dispatcher(pipe))
    print_outcomes(outcomes, as_json)
    if any(o.status != "sent" for o in outcomes):
        raise click.exceptions.Exit(1)


def dispatch(dispatcher: Dispatcher) -> list[Outcome]:
    """Send everything due, then close the senders."""

    async def go() -> list[Outcome]:
        try:
            return (await dispatcher.drain()).outcomes
        except BaseException:
            # interrupted (Ctrl-C, SIGTERM): the messages it claimed are given back at
            # once, as the daemon's are at shutdown, not held until their lease expires
            dispatcher.release_at_stop()
            raise
        finally:
            await dispatcher.aclose()

    return run_async(go())


def print_outcomes(outcomes: list[Outcome], as_json: bool) -> None:
    if as_json:
        emit_json(outcomes)
        return
    for o in outcomes:
        who = f" to {o.recipient}" if o.recipient else ""
        why = f": {o.error}" if o.error else ""
        when = f" (next try {o.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC)" if o.next_attempt_at else ""
        echo(f"  delivery {o.delivery_id} {o.channel}{who}: {o.status}{why}{when}", err=True)
    if not outcomes:
        echo("nothing to send", err=True)


@command(digest, "list", example="monitor digest list --channel desk-email --json")
@CHANNEL
@JSON_OPTION
@click.option("--limit", type=ROW_ID, default=100, help="At most this many.")
def digest_list(channel: str | None, as_json: bool, limit: int) -> None:
    """The digests built, newest first: channel, window, parts sent."""
    from monitor.store import digests
    from monitor.store.db import session_scope

    with session_scope(state().read_engine()) as session:
        rows = digests.list_digests(session, channel=channel, limit=limit)
    if as_json:
        emit_json(rows)
        return
    for d in rows:
        start = f"{d.window_start:%Y-%m-%d %H:%M}" if d.window_start else "the beginning"
        end = f"{d.window_end:%Y-%m-%d %H:%M}" if d.window_end else "?"
        sent = f"{d.parts} message part(s)" if d.parts else "nothing new, not sent"
        echo(f"#{d.id}  {d.channel or '-'}  {start} -> {end} UTC  {sent}, {d.alerts} alert(s)")


@command(digest, "show", example="monitor digest show 3")
@click.argument("digest_id", metavar="ID", type=ROW_ID)
@JSON_OPTION
def digest_show(digest_id: int, as_json: bool) -> None:
    """One digest as it was sent (its text), and what became of each of its messages."""
    from monitor.store import deliveries, digests
    from monitor.store.db import session_scope

    with session_scope(state().read_engine()) as session:
        row = digests.get_digest(session, digest_id)
        sent = deliveries.list_deliveries(session, kind="digest", ref_id=digest_id)
    if row is None:
        raise MonitorError(f"no digest {digest_id} (see `monitor digest list`)")
    if as_json:
        emit_json([{"digest": row, "deliveries": sent}])
        return
    echo((row.text or "").rstrip("\n"))
    echo("")
    for d in sent:
        who = f" {d.recipient}" if d.recipient else ""
        echo(f"  delivery {d.id} {d.channel}{who} part {d.part}/{d.parts}: {d.status}", err=True)
