"""`monitor run`: the long-lived daemon. Jobs are scheduled by ``scheduler``; their bodies
are here and delegate to ``pipeline``.

Rule files are watched: an edit swaps the whole rule set at once (``RuleBook``); a bad
edit keeps the last good rules, logs every problem with its location and raises one
operator alert. The sources file is watched the same way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from monitor.app.digests import Recorded
from monitor.app.outbox import Dispatcher
from monitor.errors import MonitorError, SourceFileError
from monitor.fetch.client import Fetcher
from monitor.fetch.source_file import load_sources
from monitor.notify.channels import Channel
from monitor.pipeline import Clock, Pipeline, utcnow
from monitor.rules.reload import RuleBook
from monitor.scheduler import Counters, build_scheduler, run_until_stopped
from monitor.settings import Settings
from monitor.store import workers
from monitor.store.alerts import raise_operator_alert
from monitor.store.db import session_scope

log = logging.getLogger(__name__)


class Daemon:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        rulebook: RuleBook,
        *,
        channels: tuple[Channel, ...] = (),
        clock: Clock = utcnow,
    ) -> None:
        self.settings = settings
        self.rulebook = rulebook
        self.pipeline = Pipeline(settings, engine, rulebook.current, clock=clock, channels=channels)
        self.dispatcher = Dispatcher(self.pipeline)
        self.clock = clock
        self.counters = Counters()
        self._sources_stamp: tuple[int, int] | None = None
        self.fetcher: Fetcher | None = None
        self._report_rule_problems(rulebook.last_outcome.problems)

    # ----------------------------------------------------------------- reloads

    def reload_sources(self) -> bool:
        """Sync sources.yaml into the database when it changed; keep the old set if bad."""
        path: Path = self.settings.sources_file
        try:
            st = path.stat()
        except OSError as exc:
            if self._sources_stamp is None:
                raise MonitorError(
                    f"{path}: cannot read the sources file ({exc.strerror})"
                ) from exc
            return False
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._sources_stamp:
            return False
        self._sources_stamp = stamp
        try:
            specs = load_sources(path)
        except SourceFileError as exc:
            for problem in exc.problems:
                log.error("%s (keeping the previous sources)", problem)
            self._operator_alert(
                "sources", f"{path} rejected; previous sources kept", [str(p) for p in exc.problems]
            )
            return False
        self.pipeline.sync_sources(specs)
        log.info("sources: %d loaded from %s", len(specs), path)
        return True

    def reload_rules(self) -> bool:
        outcome = self.rulebook.maybe_reload()
        if outcome.changed:
            self.pipeline.rules = self.rulebook.current  # one reference: an atomic swap
            self.pipeline.forget_removed_rules()
            log.info(
                "rules reloaded: %d rule(s) from %d file(s)",
                len(self.rulebook.current.rules),
                len(self.rulebook.current.files),
            )
            self._report_rule_problems(outcome.problems)
        return outcome.changed

    def _report_rule_problems(self, problems: tuple[object, ...]) -> None:
        if not problems:
            return
        for problem in problems:
            log.error("%s (last good version of that file kept)", problem)
        self._operator_alert(
            "rules", "rule files rejected; last good rules kept", [str(p) for p in problems]
        )

    def _operator_alert(self, topic: str, title: str, details: list[str]) -> None:
        with session_scope(self.pipeline.engine) as session:
            raise_operator_alert(
                session, topic=topic, title=title, details=details, now=self.clock()
            )

    # -------------------------------------------------------------------- jobs

    async def poll_job(self) -> None:
        self.reload_sources()
        assert self.fetcher is not None
        reports = await self.pipeline.poll_due(self.fetcher)
        with session_scope(self.pipeline.engine) as session:
            workers.beat(
                session,
                worker=self.pipeline.worker,
                host=socket.gethostname(),
                pid=os.getpid(),
                role="worker",
                now=self.clock(),
            )
        for r in reports:
            if r.error:
                log.warning("poll %s: %s", r.source, r.error)
            elif r.new:
                log.info("poll %s: %d new, %d alert(s)", r.source, r.new, r.alerts)

    async def evaluate_job(self) -> None:
        fired = self.pipeline.evaluate_idle()
        if fired:
            log.info("time-based rules: %d alert(s)", fired)

    async def reload_job(self) -> None:
        self.reload_rules()
        self.reload_sources()

    async def digest_job(self) -> list[Recorded]:
        """Each channel's digest of the window that is due, once, whichever worker gets
        there first (a unique key per channel and window); a restart after several missed
        windows builds one digest covering them all."""
        now = self.clock()
        out = []
        for channel in self.pipeline.channels:
            window = channel.last_window(now)
            if window is None:
                continue
            got = self.pipeline.record_digest(channel, window_key=window.key, until=window.due_at)
            if got is not None:
                out.append(got)
        if out:
            await self.dispatch_job()
        return out

    async def dispatch_job(self) -> None:
        await self.dispatcher.drain()

    # --------------------------------------------------------------------- run

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        self.reload_sources()
        if not self.pipeline.channels:
            log.warning("no channels file: digests and alerts are recorded, and nothing is sent")
        async with Fetcher(self.settings.http) as fetcher:
            self.fetcher = fetcher
            scheduler = build_scheduler(
                self.settings.schedule,
                poll=self.poll_job,
                reload=self.reload_job,
                digest=self.digest_job,
                dispatch=self.dispatch_job,
                evaluate=self.evaluate_job,
                reload_interval=self.settings.rules.reload_interval,
                dispatch_interval=self.settings.delivery.interval,
                counters=self.counters,
            )
            log.info(
                "monitor running as %s (database %s)",
                self.pipeline.worker,
                self.pipeline.engine.url.render_as_string(),
            )
            try:
                await run_until_stopped(scheduler, stop)
            finally:
                released = self.dispatcher.release()
                if released:
                    log.info("released %d claimed message(s) for the next dispatcher", released)
                await self.dispatcher.aclose()
        log.info("monitor stopped at %s", datetime.now(UTC).isoformat())
