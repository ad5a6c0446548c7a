"""Channel schedules across daylight saving time, and their window keys."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from monitor.notify.channels import Channel
from monitor.notify.schedule import Schedule, check_cron, check_timezone, window


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(text: str, zone: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def fires(schedule: Schedule, after: datetime, n: int) -> list[datetime]:
    out = []
    for _ in range(n):
        after = schedule.next_fire(after)
        out.append(after)
    return out


def test_new_york_spring_forward_fires_once_at_the_first_real_minute() -> None:
    # 2026-03-08: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist that day
    s = Schedule("30 2 * * *", "America/New_York")
    got = fires(s, local("2026-03-06T12:00", "America/New_York"), 3)
    assert got == [utc("2026-03-07T07:30"), utc("2026-03-08T07:00"), utc("2026-03-09T06:30")]


def test_new_york_fall_back_fires_a_repeated_time_once() -> None:
    # 2026-11-01: 01:00-02:00 happens twice (EDT, then EST); a daily digest goes out once
    s = Schedule("30 1 * * *", "America/New_York")
    got = fires(s, local("2026-10-31T12:00", "America/New_York"), 2)
    assert got == [utc("2026-11-01T05:30"), utc("2026-11-02T06:30")]


def test_an_every_half_hour_schedule_runs_through_both_passes_of_the_repeated_hour() -> None:
    s = Schedule("*/30 * * * *", "America/New_York")
    got = fires(s, utc("2026-11-01T04:50"), 5)
    assert got == [utc(f"2026-11-01T{t}") for t in ("05:00", "05:30", "06:00", "06:30", "07:00")]


def test_london_weekday_mornings_keep_local_time_across_both_changes() -> None:
    s = Schedule("0 8 * * 1-5", "Europe/London")
    # spring forward on Sunday 2026-03-29: 08:00 GMT on Friday, 08:00 BST on Monday
    spring = fires(s, utc("2026-03-27T00:00"), 2)
    assert spring == [utc("2026-03-27T08:00"), utc("2026-03-30T07:00")]
    # fall back on Sunday 2026-10-25
    autumn = fires(s, utc("2026-10-23T00:00"), 2)
    assert autumn == [utc("2026-10-23T07:00"), utc("2026-10-26T08:00")]


def test_london_times_inside_the_changes() -> None:
    s = Schedule("30 1 * * *", "Europe/London")
    # 01:30 does not exist on 2026-03-29 (01:00 GMT -> 02:00 BST): fired at 02:00 BST
    assert fires(s, utc("2026-03-28T12:00"), 2) == [
        utc("2026-03-29T01:00"),
        utc("2026-03-30T00:30"),
    ]
    # 01:30 happens twice on 2026-10-25: fired the first time only
    assert fires(s, utc("2026-10-24T12:00"), 2) == [
        utc("2026-10-25T00:30"),
        utc("2026-10-26T01:30"),
    ]


def test_shanghai_has_no_daylight_saving_and_weekdays_are_cron_weekdays() -> None:
    s = Schedule("0 8 * * 1-5", "Asia/Shanghai")
    got = fires(s, utc("2026-03-06T00:00"), 6)  # Friday 08:00 CST, then the next week
    assert got == [utc(f"2026-03-{d:02d}T00:00") for d in (9, 10, 11, 12, 13, 16)]
    # standard crontab: 1-5 is Monday to Friday (APScheduler 3's from_crontab reads it as
    # Tuesday to Saturday), also across the US and European changes
    for when in fires(s, utc("2026-03-01T00:00"), 40):
        assert when.astimezone(ZoneInfo("Asia/Shanghai")).isoweekday() <= 5
        assert when.time().hour == 0 and when.minute == 0


def test_last_fire_includes_the_instant_itself_and_skips_the_repeat() -> None:
    s = Schedule("30 1 * * *", "America/New_York")
    assert s.last_fire(utc("2026-11-01T05:30")) == utc("2026-11-01T05:30")
    assert s.last_fire(utc("2026-11-01T05:29:59")) == utc("2026-10-31T05:30")
    # 01:45 EST, after the second 01:30: the window due is still the first one
    assert s.last_fire(utc("2026-11-01T06:45")) == utc("2026-11-01T05:30")
    spring = Schedule("30 2 * * *", "America/New_York")
    assert spring.last_fire(utc("2026-03-08T12:00")) == utc("2026-03-08T07:00")


def test_windows_are_keyed_by_channel_and_utc_time() -> None:
    desk = Channel(
        name="desk",
        type="email",
        to=("a@example.com",),
        schedule=Schedule("0 8 * * *", "Asia/Shanghai"),
    )
    w = desk.next_window(utc("2026-03-07T12:00"))
    assert w is not None and w.due_at == utc("2026-03-08T00:00")
    assert w.key == "digest:desk@2026-03-08T00:00Z"
    assert desk.last_window(utc("2026-03-08T00:00")) == w
    assert desk.next_window(w.due_at) != w  # strictly after
    assert window("desk", local("2026-03-08T08:00", "Asia/Shanghai")) == w
    assert (
        Channel(name="pager", type="webhook", immediate="critical").next_window(
            utc("2026-01-01T00:00")
        )
        is None
    )


def test_cron_and_zone_checks() -> None:
    assert check_cron("  0   8 * * 1-5 ") == "0 8 * * 1-5"
    for bad in ("0 8 * *", "@daily", "0 25 * * *", "x 8 * * *"):
        with pytest.raises(ValueError):
            check_cron(bad)
    assert str(check_timezone("Europe/London")) == "Europe/London"
    with pytest.raises(ValueError, match="did you mean 'Europe/London'"):
        check_timezone("Europe/Londn")
    with pytest.raises(ValueError, match="unknown time zone"):
        check_timezone("../../etc/passwd")
    # a folder of the zone database, and a name too long for a file: an OSError naming
    # the tzdata path, not the channels file, before
    for odd in ("America", "A" * 300):
        with pytest.raises(ValueError, match="unknown time zone"):
            check_timezone(odd)
