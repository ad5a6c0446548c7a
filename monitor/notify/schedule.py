"""Channel schedules: a 5-field cron expression read in an IANA time zone.

croniter gives standard crontab semantics (Sunday is 0 or 7; day-of-month and
day-of-week combine with OR, as in Vixie cron). Daylight saving time, handled as cron
does it:

* spring forward: a time that does not exist that day (02:30 in New York on the second
  Sunday of March) fires once, at the first minute that does exist (03:00);
* fall back: a time that happens twice (01:30 on the first Sunday of November) fires
  once, the first time, for a schedule with fixed hours; a schedule that runs every hour
  keeps running through both passes, since those are real, different hours.

A window is one firing, keyed by its UTC time: the digest of a channel is built once per
key whatever the number of daemons (DESIGN.md section 6b).
"""

from __future__ import annotations

import difflib
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import CroniterBadDateError, croniter

_FIELDS = "minute hour day-of-month month day-of-week"
_MAX_SKIPS = 64  # repeated-hour firings skipped in a row; a valid schedule needs few


def check_cron(expr: str) -> str:
    """The expression, normalised, if it is a valid 5-field cron line; else ValueError."""
    text = " ".join(str(expr).split())
    if len(text.split(" ")) != 5:
        raise ValueError(f'cron expression {expr!r} needs 5 fields ({_FIELDS}), e.g. "0 8 * * 1-5"')
    if not croniter.is_valid(text):
        raise ValueError(f"invalid cron expression {expr!r} (fields: {_FIELDS})")
    try:  # valid, but a day that never comes ("0 8 31 2 *": February the 31st)
        croniter(text, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(f"cron expression {expr!r} never fires: no such day") from None
    return text


def check_timezone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone called ``name``; ValueError with a "did you mean" otherwise."""
    try:
        return zoneinfo.ZoneInfo(name)
    # OSError: a name that is a folder of the zone database ("America") or too long
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError, OSError) as exc:
        close = difflib.get_close_matches(name, zoneinfo.available_timezones(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else " (an IANA name like Asia/Shanghai)"
        raise ValueError(f"unknown time zone {name!r}{hint}") from exc


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a channel's digest is due: ``cron`` read in the zone ``timezone``."""

    cron: str
    timezone: str = "UTC"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def _every_hour(self) -> bool:
        hours = croniter(self.cron).expanded[1]
        return hours == ["*"] or len(hours) == 24

    def next_fire(self, after: datetime) -> datetime:
        """The first firing strictly after ``after`` (aware), in UTC."""
        it = croniter(self.cron, after.astimezone(self.zone))
        every_hour = self._every_hour()
        for _ in range(_MAX_SKIPS):
            when: datetime = it.get_next(datetime)
            if every_hour or not _second_pass(when):
                return when.astimezone(UTC)
        raise ValueError(f"schedule {self.cron!r} never fires")

    def last_fire(self, at: datetime) -> datetime | None:
        """The latest firing at or before ``at`` (aware), in UTC; None when none."""
        # croniter's get_prev is strict, and cron fires on whole minutes: start a second
        # later so that a firing exactly at ``at`` counts
        it = croniter(self.cron, (at + timedelta(seconds=1)).astimezone(self.zone))
        every_hour = self._every_hour()
        for _ in range(_MAX_SKIPS):
            try:
                when: datetime = it.get_prev(datetime)
            except (ValueError, OverflowError):
                return None
            if (every_hour or not _second_pass(when)) and when <= at:
                return when.astimezone(UTC)
        return None


def _second_pass(when: datetime) -> bool:
    """True for the later instant of a wall time that happens twice (fall back).

    Judged by the UTC instants, not by ``fold`` alone: croniter's ``get_prev`` sets
    ``fold=1`` on times that are not ambiguous at all.
    """
    return when.astimezone(UTC) != when.replace(fold=0).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Window:
    """One firing of a channel's schedule: the digest due at ``due_at`` (UTC)."""

    channel: str
    due_at: datetime
    key: str  # "digest:<channel>@2026-03-09T00:00Z", unique per channel and firing


def window(channel: str, due_at: datetime) -> Window:
    utc = due_at.astimezone(UTC)
    return Window(channel, utc, f"digest:{channel}@{utc:%Y-%m-%dT%H:%M}Z")
