"""Channels: where digests and alerts go, and when."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click

from monitor.cli.base import JSON_OPTION, command, echo, emit_json, print_problems, state
from monitor.cli.root import group, with_defaults_of
from monitor.errors import ConfigError, Problem

channels = group(
    "channels",
    "Channels: where digests and alerts go (the channels file), and when.\n\n"
    "Without a subcommand: `channels list`.",
    example="monitor channels check channels.yaml",
    default="list",
)


@dataclass(frozen=True, slots=True)
class ChannelRow:
    """A channel as ``channels list --json`` shows it (never its URL: a credential)."""

    name: str
    type: str
    to: list[str]
    url_env: str | None
    url_set: bool
    schedule: str | None
    timezone: str | None
    next_digest_at: datetime | None
    immediate: str | None
    send_empty: bool
    min_severity: str | None


@command(channels, "list", example="monitor channels list --json")
@JSON_OPTION
def channels_list(as_json: bool) -> None:
    """Each channel: type, recipients or URL variable, schedule and the next digest."""
    st = state()
    now = datetime.now(UTC)
    rows = [
        ChannelRow(
            name=c.name,
            type=c.type,
            to=list(c.to),
            url_env=c.url_env,
            url_set=c.url is not None,
            schedule=c.schedule.cron if c.schedule else None,
            timezone=c.schedule.timezone if c.schedule else None,
            next_digest_at=w.due_at if (w := c.next_window(now)) else None,
            immediate=c.immediate,
            send_empty=c.send_empty,
            min_severity=c.min_severity,
        )
        for c in st.load_channels(unset_ok=True)
    ]
    if as_json:
        emit_json(rows)
        return
    if st.channels_file() is None:
        echo("no channels file (MONITOR_CHANNELS_FILE, default ./channels.yaml): nothing is sent")
    for r in rows:
        where = ", ".join(r.to) if r.to else f"${r.url_env}" + ("" if r.url_set else " (NOT SET)")
        when = (
            f"{r.schedule} {r.timezone}, next {r.next_digest_at:%Y-%m-%d %H:%M} UTC"
            if (r.schedule and r.next_digest_at)
            else "no digest"
        )
        at_once = f"; at once from {r.immediate}" if r.immediate else ""
        echo(f"{r.name:<20} {r.type:<7} {where}  [{when}{at_once}]")


with_defaults_of(channels, "list")


@command(channels, "check", example="monitor channels check channels.yaml --json")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@JSON_OPTION
def channels_check(path: Path | None, as_json: bool) -> None:
    """Check a channels file (default: the one in effect): every problem as
    path:line:col: message, including a URL variable that is not set or holds a URL the
    senders would refuse (a private or loopback address, user:password@), and each rule
    whose `notify:` names a channel the file lacks. Exit 1 on any."""
    from monitor import settings as settings_mod
    from monitor.errors import FileProblems
    from monitor.notify.channels import load_channels

    st = state()
    path = path or st.channels_file()
    if path is None:
        raise ConfigError("no channels file to check (MONITOR_CHANNELS_FILE, ./channels.yaml)")
    env = st.env if st.env is not None else settings_mod.environment()
    refused = _refused_host(st.settings().http.allow_networks)
    try:
        found = load_channels(path, env, address_problem=refused) if path.is_file() else None
    except FileProblems as exc:
        print_problems(exc.problems, as_json=as_json)
        echo(f"{len(exc.problems)} problem(s) in {path}", err=True)
        raise click.exceptions.Exit(1) from None
    if found is None:
        raise ConfigError(f"{path}: no such channels file")
    if st.settings().smtp.host is None:
        # the message would be queued, then retried for a day and dead-lettered
        unsent = [
            Problem(str(path), *_line_of(path, c.name), "an email channel, but no SMTP server:"
                    " set MONITOR_SMTP__HOST (or remove the channel)")
            for c in found
            if c.type == "email"
        ]  # fmt: skip
        if unsent:
            print_problems(unsent, as_json=as_json)
            echo(f"{len(unsent)} email channel(s) in {path} cannot send", err=True)
            raise click.exceptions.Exit(1)
    # the rules' `notify:` names must be channels of this file, or every command that
    # loads the rules with it refuses them
    from monitor.notify.channels import LOG_CHANNEL
    from monitor.rules.loader import load_rules

    names = frozenset(c.name for c in found) | {LOG_CHANNEL}
    rules = load_rules(st.rules_dir(), channels=names)
    unknown = [p for p in rules.problems if "unknown channel" in p.message]
    print_problems(unknown, as_json=as_json)
    if unknown:
        echo(f"{len(unknown)} rule notification(s) name a channel {path} lacks", err=True)
        raise click.exceptions.Exit(1)
    echo(f"{path}: {len(found)} channel(s), all valid", err=True)


def _line_of(path: Path, name: str) -> tuple[int, int]:
    """Where the channel ``name`` is declared (its ``name:`` line), else the file's top."""
    declared = re.compile(rf"^(\s*-?\s*)name:\s*[\"']?{re.escape(name)}[\"']?\s*(?:#.*)?$")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeError):
        return 1, 1
    for number, line in enumerate(lines, start=1):
        m = declared.match(line)
        if m:
            return number, len(m.group(1)) + 1
    return 1, 1


def _refused_host(allow_networks: list[str]) -> Callable[[str], str | None]:
    """Why the senders' SSRF guard would refuse a URL's host (a private, loopback or
    link-local address written as such), or None: such a channel's messages would all be
    dead-lettered. Names are not resolved here; the guard resolves them at send time."""
    from monitor.errors import FetchError
    from monitor.net.guard import AddressPolicy, check_url, names_an_address

    policy = AddressPolicy(allow_networks)

    def why(url: str) -> str | None:
        try:
            check_url(url, policy)
        except FetchError as exc:
            if exc.kind != "blocked_address":
                return None
            # said with the host or the guard's reason alone: the URL is a credential
            host = _host(url)
            if host is not None and names_an_address(host):
                return (
                    f"points at {host}, which the senders refuse (not a public address): its"
                    " messages would be dead-lettered; admit it with"
                    " MONITOR_HTTP__ALLOW_NETWORKS if that is meant"
                )
            reason = str(exc).removeprefix(f"{exc.kind}: ").removesuffix(f" ({exc.url})")
            if reason.startswith("invalid URL"):
                reason = "not a valid URL"
            return f"holds a URL the senders refuse ({reason}): its messages would be dead-lettered"
        return None

    return why


def _host(url: str) -> str | None:
    import httpx

    try:
        return httpx.URL(url).host or None
    except (httpx.InvalidURL, ValueError):
        return None
