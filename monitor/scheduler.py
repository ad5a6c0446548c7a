"""All APScheduler wiring, nothing else: *when* things run. The tables decide *whether*.

APScheduler 3.11 (DESIGN.md section 4). Every job coalesces missed runs into one, never
overlaps itself (max_instances=1), and has an explicit misfire grace time (the default of
one second would drop a run after a short pause; RELIABILITY C1). The poll job is a short
tick that asks the database which sources are due, so a restart resumes from stored state
rather than from in-memory timers (C3).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.settings import ScheduleSettings

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]


class Counters:
    """Missed and skipped runs, for `monitor health` and the logs."""

    def __init__(self) -> None:
        self.missed = 0
        self.skipped = 0
        self.failed = 0


def build_scheduler(
    schedule: ScheduleSettings,
    *,
    poll: Job,
    reload: Job,
    digest: Job,
    dispatch: Job,
    evaluate: Job,
    retention: Job,
    reload_interval: float,
    dispatch_interval: float,
    retention_interval: float,
    counters: Counters,
    on_tick: Callable[[], None] | None = None,
) -> AsyncIOScheduler:
    """The daemon's jobs on one scheduler. ``on_tick`` hears each time the poll job is due,
    whether it starts or is skipped because the last run is still under way: that the
    scheduler ticks is what liveness means (a long poll beat only when it started, and
    /healthz answered 503 for the length of one)."""
    scheduler = AsyncIOScheduler(
        timezone=UTC,
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            # APScheduler takes whole seconds: rounded up, a late job is never refused
            # before the grace set (int() made 0.5 a 0, which it rejects)
            "misfire_grace_time": math.ceil(schedule.misfire_grace),
        },
    )
    now = datetime.now(UTC)
    scheduler.add_job(poll, IntervalTrigger(seconds=schedule.tick), id="poll", next_run_time=now)
    scheduler.add_job(reload, IntervalTrigger(seconds=reload_interval), id="reload")
    # each channel's cron schedule is checked at every tick against the digests stored,
    # so a window missed while the daemon was down is built at the next start
    scheduler.add_job(
        digest, IntervalTrigger(seconds=schedule.tick), id="digest", next_run_time=now
    )
    scheduler.add_job(dispatch, IntervalTrigger(seconds=dispatch_interval), id="dispatch")
    # first run a minute after start (or one interval, if shorter): a restart loop does
    # not prune at every start
    scheduler.add_job(
        retention,
        IntervalTrigger(seconds=retention_interval),
        id="retention",
        next_run_time=now + timedelta(seconds=min(60.0, retention_interval)),
    )
    # stale rules fire on silence, which no new article will ever trigger
    scheduler.add_job(evaluate, IntervalTrigger(seconds=schedule.evaluate_interval), id="evaluate")

    def on_event(event: object) -> None:
        code = getattr(event, "code", 0)
        job_id = getattr(event, "job_id", "?")
        if code == EVENT_JOB_MISSED:
            counters.missed += 1
            log.warning(
                "job %s ran late by more than MONITOR_SCHEDULE__MISFIRE_GRACE: this run is"
                " dropped and the job runs at its next time",
                job_id,
            )
        elif code == EVENT_JOB_MAX_INSTANCES:
            if job_id == "poll" and on_tick is not None:
                on_tick()
            counters.skipped += 1
            # a poll job busy for longer than a tick is the normal state of a busy daemon
            level = logging.DEBUG if job_id == "poll" else logging.WARNING
            log.log(level, "job %s still running: this run skipped", job_id)
        elif code == EVENT_JOB_ERROR:
            counters.failed += 1
            log.error("job %s failed: %s", job_id, getattr(event, "exception", "?"))

    scheduler.add_listener(on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_ERROR)
    if on_tick is not None:
        scheduler.add_listener(
            lambda event: on_tick() if getattr(event, "job_id", None) == "poll" else None,
            EVENT_JOB_SUBMITTED,
        )
    return scheduler
