"""The channels file: where digests and alerts go, and when (issue 12, DESIGN.md 6b).

Shape (``monitor/bundled/channels.example.yaml`` is the commented example)::

    channels:
      - name: desk-email                 # unique; rules route with notify: [desk-email]
        type: email                      # email | slack | webhook
        to: [analyst@example.com]        # email only
        schedule: "0 8 * * 1-5"          # cron, 5 fields, read in `timezone`
        timezone: Asia/Shanghai          # IANA name; default UTC
        immediate: high                  # alerts at or above this go out at once
        send_empty: false                # a digest with nothing new is not sent
        min_severity: medium             # optional: only alerts at or above, and their stories
      - name: desk-slack
        type: slack
        url_env: MONITOR_SLACK_DESK_URL  # the NAME of a variable holding the webhook URL
      - name: archive
        type: webhook
        url_env: MONITOR_ARCHIVE_HOOK_URL
        secret_env: MONITOR_ARCHIVE_HOOK_SECRET  # optional: sign bodies (HMAC-SHA256)

A webhook URL is a credential, so it is never written in the file (an inline ``url:`` is
an error) and never shown: it is held as a ``SecretStr``. Every mistake is reported at
once as ``path:line:col: message`` (``ChannelFileError``), unknown keys and time zones
with a "did you mean".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from monitor.errors import ChannelFileError, Problem
from monitor.notify.schedule import Schedule, Window, check_cron, check_timezone, window
from monitor.notify.severity import Severity, at_least
from monitor.yamlsource import (
    KeyPath,
    Located,
    YamlProblem,
    load_file,
    pydantic_problems,
    unknown_keys,
)

ChannelType = Literal["email", "slack", "webhook"]
# not a channel of the channels file: every rule may name it, and an alert routed there is
# logged (operator matters) and shown in the digest
LOG_CHANNEL = "log"

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_Report = Callable[[str, str], None]  # (key, message): a problem at that key


@dataclass(frozen=True, slots=True)
class Channel:
    """One channel as configured, with its URL and secret read from the environment."""

    name: str
    type: ChannelType
    to: tuple[str, ...] = ()  # email recipients
    url: SecretStr | None = None  # Slack/webhook URL, from the variable named by url_env
    url_env: str | None = None
    secret: SecretStr | None = None  # webhook signing secret, from secret_env
    secret_env: str | None = None
    schedule: Schedule | None = None  # None: immediate alerts only
    immediate: Severity | None = None
    send_empty: bool = False
    min_severity: Severity | None = None

    def next_window(self, after: datetime) -> Window | None:
        """The first digest window strictly after ``after``; None without a schedule."""
        if self.schedule is None:
            return None
        return window(self.name, self.schedule.next_fire(after))

    def last_window(self, at: datetime) -> Window | None:
        """The latest digest window at or before ``at`` (the one due now, if any)."""
        if self.schedule is None:
            return None
        fired = self.schedule.last_fire(at)
        return window(self.name, fired) if fired is not None else None

    def sends_at_once(self, severity: str) -> bool:
        """True when an alert of ``severity`` goes out at once rather than in a digest."""
        return self.immediate is not None and at_least(severity, self.immediate)


class _Fields(BaseModel):
    """The keys of one channel entry, checked for type before the cross-checks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    type: ChannelType
    to: list[str] | None = None
    url_env: str | None = Field(None, pattern=_ENV_NAME)
    secret_env: str | None = Field(None, pattern=_ENV_NAME)
    schedule: str | None = None
    timezone: str = "UTC"
    immediate: Severity | None = None
    send_empty: bool = False
    min_severity: Severity | None = None


_KEYS = tuple(_Fields.model_fields)
# A URL -> why the sender would refuse its host (without repeating the URL), or None.
AddressCheck = Callable[[str], str | None]


def load_channels(
    path: Path,
    env: Mapping[str, str],
    *,
    unset_ok: bool = False,
    address_problem: AddressCheck | None = None,
) -> tuple[Channel, ...]:
    """Read and check a channels file; ``env`` holds the variables ``url_env`` and
    ``secret_env`` name (the caller passes the process environment). Raises
    ``ChannelFileError`` listing every problem. With ``unset_ok`` a variable that is not
    set is no problem (the channel then has no URL): what previews and checks rule files
    need, which send nothing. ``address_problem`` says why a URL's host would be refused
    at send time, if it would (`monitor channels check`)."""
    try:
        located = load_file(path)
    except YamlProblem as exc:
        raise ChannelFileError([exc.problem]) from exc
    return channels_from_located(located, env, unset_ok=unset_ok, address_problem=address_problem)


def channels_from_located(
    located: Located,
    env: Mapping[str, str],
    *,
    unset_ok: bool = False,
    address_problem: AddressCheck | None = None,
) -> tuple[Channel, ...]:
    data = located.data
    if not isinstance(data, dict) or not isinstance(data.get("channels"), list):
        raise ChannelFileError([located.problem(("channels",), "expected a `channels:` list")])
    problems = unknown_keys(located, (), data, ("channels",))
    out: list[Channel] = []
    first_at: dict[str, int] = {}
    for i, raw in enumerate(data["channels"]):
        kp: KeyPath = ("channels", i)
        if not isinstance(raw, dict):
            problems.append(located.problem(kp, "expected a mapping (name, type, ...)"))
            continue
        found: list[Problem] = []
        channel = _channel(located, kp, raw, env, found, unset_ok, address_problem)
        problems += sorted(found, key=lambda p: (p.line, p.col))
        if channel is None:
            continue
        if channel.name in first_at:
            problems.append(
                located.problem(
                    (*kp, "name"),
                    f"duplicate channel name {channel.name!r} "
                    f"(first at channels.{first_at[channel.name]})",
                )
            )
            continue
        first_at[channel.name] = i
        out.append(channel)
    if problems:
        raise ChannelFileError(problems)
    return tuple(out)


def _channel(
    located: Located,
    kp: KeyPath,
    raw: dict[str, Any],
    env: Mapping[str, str],
    problems: list[Problem],
    unset_ok: bool = False,
    address_problem: AddressCheck | None = None,
) -> Channel | None:
    def problem(key: str, message: str) -> None:
        problems.append(located.problem((*kp, key), message))

    if "url" in raw:
        # the value is a credential: the message must not repeat it
        problems.append(
            located.problem(
                (*kp, "url"),
                "a webhook URL is a credential and is never written here: put it in an "
                "environment variable and give that variable's name as url_env",
                key=True,
            )
        )
    problems += unknown_keys(located, kp, {k: v for k, v in raw.items() if k != "url"}, _KEYS)
    fields = {k: v for k, v in raw.items() if k in _KEYS}
    bad: set[str] = set()  # keys of the wrong type or value, reported already
    try:
        f = _Fields.model_validate(fields)
    except ValidationError as exc:
        errors: list[Mapping[str, Any]] = [{**e, "loc": (*kp, *e["loc"])} for e in exc.errors()]
        problems += pydantic_problems(located, errors)
        # every problem at once: the checks below still run on the keys that are sound
        # (a bad `immediate:` must not hide a bad timezone), unless name or type is bad
        bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
        if bad & {"name", "type"}:
            return None
        try:
            f = _Fields.model_validate({k: v for k, v in fields.items() if k not in bad})
        except ValidationError:
            return None

    to: tuple[str, ...] = ()
    if f.type == "email":
        if not f.to and "to" not in bad:
            problem("to", "an email channel needs `to:` with at least one address")
        for j, address in enumerate(f.to or ()):
            if (err := _address_problem(address)) is not None:
                problems.append(located.problem((*kp, "to", j), err))
        to = tuple(f.to or ())
        for key in ("url_env", "secret_env"):
            if getattr(f, key):
                problem(key, f"{key} is for slack and webhook channels, not email")
    else:
        if f.to:
            problem("to", f"`to:` is for email channels; a {f.type} channel posts to its URL")
        if f.type == "slack" and f.secret_env:
            problem(
                "secret_env", "Slack incoming webhooks are not signed; secret_env is for webhooks"
            )
        if not f.url_env and "url_env" not in bad:
            problem(
                "url_env",
                f"a {f.type} channel needs url_env: the name of the variable holding its URL",
            )
    url = _url_from_env(f, env, problem, unset_ok)
    if url is not None and address_problem is not None:
        why = address_problem(url.get_secret_value())
        if why is not None:
            problem("url_env", f"{f.url_env} {why}")
    secret = _secret_from_env(f, env, problem, unset_ok)

    schedule: Schedule | None = None
    zone_ok = True
    try:
        check_timezone(f.timezone)
    except ValueError as exc:
        problem("timezone", str(exc))
        zone_ok = False
    if f.schedule is not None:
        try:
            cron = check_cron(f.schedule)
        except ValueError as exc:
            problem("schedule", str(exc))
        else:
            schedule = Schedule(cron, f.timezone) if zone_ok else None
    elif f.immediate is None and not bad & {"immediate", "schedule"}:
        problem("schedule", "the channel would never send: give it a schedule, or immediate:")
    if bad:
        return None
    return Channel(
        name=f.name,
        type=f.type,
        to=to,
        url=url,
        url_env=f.url_env,
        secret=secret,
        secret_env=f.secret_env,
        schedule=schedule,
        immediate=f.immediate,
        send_empty=f.send_empty,
        min_severity=f.min_severity,
    )


_LOOPBACK_HOSTS = ("127.", "[::1]", "localhost")


def _url_from_env(
    f: _Fields, env: Mapping[str, str], problem: _Report, unset_ok: bool
) -> SecretStr | None:
    if f.type == "email" or not f.url_env:
        return None
    value = (env.get(f.url_env) or "").strip()
    if not value:
        if not unset_ok:
            problem("url_env", f"environment variable {f.url_env} is not set")
        return None
    scheme = value.split(":", 1)[0].lower() if ":" in value else ""
    wanted = ("https",) if f.type == "slack" else ("http", "https")
    host = value.split("//", 1)[-1]
    if scheme == "http" and host.startswith(_LOOPBACK_HOSTS):
        wanted = ("http", "https")  # a receiver on this machine (the demo, tests): no wire
    if scheme not in wanted or "//" not in value:
        # say what is wrong without repeating the value: it is a credential
        problem("url_env", f"{f.url_env} does not hold an {'/'.join(wanted)} URL")
        return None
    try:
        parts = urlsplit(value)
        valid = bool(parts.hostname) and parts.port != 0  # .port raises out of 0-65535
    except ValueError:
        valid = False
    if not valid:
        problem("url_env", f"{f.url_env} does not hold a valid URL (its host or port)")
        return None
    return SecretStr(value)


def _secret_from_env(
    f: _Fields, env: Mapping[str, str], problem: _Report, unset_ok: bool
) -> SecretStr | None:
    if not f.secret_env:
        return None
    value = env.get(f.secret_env) or ""
    if not value:
        if not unset_ok:
            problem("secret_env", f"environment variable {f.secret_env} is not set")
        return None
    return SecretStr(value)


def _address_problem(address: str) -> str | None:
    """Why ``address`` is not a bare mailbox (local@domain), or None when it is one."""
    if any(c in address for c in "\r\n<>,;") or any(ord(c) < 0x20 for c in address):
        return f"{address!r} is not a plain email address (local@domain)"
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError, HeaderParseError):
        return f"{address!r} is not an email address"
    if not parsed.username or ("." not in parsed.domain and parsed.domain != "localhost"):
        return f"{address!r} is not an email address (local@domain)"
    return None
