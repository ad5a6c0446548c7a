"""The daemon's job table (monitor.scheduler)."""

from __future__ import annotations

import asyncio

from monitor.scheduler import Counters, build_scheduler
from monitor.settings import ScheduleSettings


async def _job() -> None:
    pass


def test_a_fractional_misfire_grace_is_rounded_up_not_refused() -> None:
    """MONITOR_SCHEDULE__MISFIRE_GRACE=0.5 passed validation, then int() made it 0 and
    `monitor run` ended in "internal error: TypeError" from APScheduler."""
    scheduler = build_scheduler(
        ScheduleSettings(misfire_grace=0.5),
        poll=_job, reload=_job, digest=_job, dispatch=_job, evaluate=_job, retention=_job,
        reload_interval=5.0, dispatch_interval=5.0, retention_interval=3600.0,
        counters=Counters(),
    )  # fmt: skip

    async def added() -> dict[str, object]:
        scheduler.start(paused=True)  # the job defaults are applied when it starts
        try:
            return {job.id: job.misfire_grace_time for job in scheduler.get_jobs()}
        finally:
            scheduler.shutdown(wait=False)

    graces = asyncio.run(added())
    assert set(graces) == {"poll", "reload", "digest", "dispatch", "retention", "evaluate"}
    assert set(graces.values()) == {1}


def test_the_scheduler_ticks_while_a_long_poll_runs() -> None:
    """Liveness was beaten when a poll job started only: a poll longer than three ticks
    (a feed of 50,000 items) made /healthz answer 503, and an orchestrator restart a
    healthy daemon. Each tick is heard, the skipped ones too."""
    started: list[int] = []
    ticks: list[int] = []

    async def go() -> None:
        enough = asyncio.Event()
        never = asyncio.Event()

        async def long_poll() -> None:
            started.append(1)
            await never.wait()

        def tick() -> None:
            ticks.append(1)
            if len(ticks) >= 3:
                enough.set()

        scheduler = build_scheduler(
            ScheduleSettings(tick=0.05),
            poll=long_poll, reload=_job, digest=_job, dispatch=_job, evaluate=_job,
            retention=_job, reload_interval=5.0, dispatch_interval=5.0,
            retention_interval=3600.0, counters=Counters(), on_tick=tick,
        )  # fmt: skip
        scheduler.start()
        try:
            await asyncio.wait_for(enough.wait(), 30)
        finally:
            scheduler.shutdown(wait=False)

    asyncio.run(go())
    assert started == [1] and len(ticks) >= 3
