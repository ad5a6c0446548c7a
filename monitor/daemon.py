"""`monitor run`: the long-lived daemon. Jobs are scheduled by ``scheduler``; their bodies
are here and delegate to ``pipeline``.

Rule files are watched: an edit swaps the whole rule set at once (``RuleBook``); a bad
edit keeps the last good rules, logs every problem with its location and raises one
operator alert. The sources file is watched the same way; SIGHUP reloads sources, rules
and channels at once.

SIGTERM or SIGINT stops it cleanly: no job starts any more, the polls and sends under way
get ``MONITOR_SCHEDULE__SHUTDOWN_GRACE`` seconds to finish and are then cancelled (a poll
cut short while fetching stores nothing, one storing ends its transaction, and each gives
its source back), and every source lease and claimed message this worker still holds
is released, so another worker takes them at once. Stopped while the database does not
answer, the stop is still clean: one log line says what stays held until its lease ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import re
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.app import bounded, metrics, polling, retention
from monitor.app.digests import Recorded
from monitor.app.outbox import Dispatcher
from monitor.errors import FileProblems, MonitorError, SourceFileError
from monitor.fetch.client import Fetcher
from monitor.fetch.source_file import load_sources
from monitor.notify.channels import LOG_CHANNEL, Channel
from monitor.pipeline import BatchReport, Clock, Pipeline, utcnow
from monitor.probes import EmbeddedServer, Liveness, app, server
from monitor.rules.reload import RuleBook
from monitor.scheduler import Counters, build_scheduler
from monitor.settings import Settings
from monitor.store import workers
from monitor.store.alerts import raise_operator_alert
from monitor.store.db import daemon_lock, driver_reason, session_scope, shown_url

RETENTION_RETRY = 3600.0  # seconds: how soon a retention run that failed is tried again

log = logging.getLogger(__name__)

DAEMON_PARSE_WORKERS = 1  # parse processes of `monitor run` when the setting is unset
# Seconds a stop waits for the database to take back the leases, messages and heartbeat
# this worker held (a healthy one takes milliseconds; SQLite's busy wait is 5 s)
RELEASE_LIMIT = 15.0
WARNED_KEPT = 100  # kinds of poll warning remembered per source as already logged
# what changes from one poll to the next in a warning of one kind: counts, quoted
# values, addresses
_WARNING_DETAILS = re.compile(r"https?://\S+|'[^']*'|\"[^\"]*\"|\d+(?:[.,:]\d+)*")

ChannelLoader = Callable[[], tuple[Channel, ...]]


class Daemon:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        rulebook: RuleBook,
        *,
        channels: tuple[Channel, ...] = (),
        channel_loader: ChannelLoader | None = None,
        clock: Clock = utcnow,
        metrics_address: str | None = None,
        web_address: str | None = None,
    ) -> None:
        self.settings = settings
        self.rulebook = rulebook
        self.pipeline = Pipeline(settings, engine, rulebook.current, clock=clock, channels=channels)
        self.dispatcher = Dispatcher(self.pipeline)
        self.clock = clock
        self.counters = Counters()
        self.liveness = Liveness(settings.schedule.tick)
        self.metrics_address = metrics_address
        self.web_address = web_address
        self._channel_loader = channel_loader
        self._sources_stamp: tuple[int, int] | None = None
        self._running: set[asyncio.Task[Any]] = set()
        # when the database stopped answering (monotonic seconds), while it does not
        self._database_lost: float | None = None
        self._pruned_at: float | None = None  # the last retention run that succeeded
        self._warned: dict[str, set[str]] = {}  # source -> kinds of warning logged
        self.fetcher: Fetcher | None = None
        self._stop = asyncio.Event()  # set when a stop begins: no poll round starts after it
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
            metrics.FILE_RELOAD_FAILURES.labels("sources").inc()
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
            if outcome.problems:
                metrics.RULE_RELOAD_FAILURES.inc()
            self._report_rule_problems(outcome.problems)
        return outcome.changed

    def reload_channels(self) -> bool:
        """Read the channels file again (SIGHUP); a bad one keeps the channels in use."""
        if self._channel_loader is None:
            return False
        try:
            channels = self._channel_loader()
        except FileProblems as exc:
            metrics.FILE_RELOAD_FAILURES.labels("channels").inc()
            for problem in exc.problems:
                log.error("%s (keeping the previous channels)", problem)
            self._operator_alert(
                "channels", "channels file rejected; previous channels kept",
                [str(p) for p in exc.problems],
            )  # fmt: skip
            return False
        if channels != self.pipeline.channels:
            # one reference: an atomic swap; the dispatcher makes senders for the new
            # channels at its next round, in a drain under way too
            self.pipeline.channels = channels
            log.info("channels reloaded: %d channel(s)", len(channels))
            if self.rulebook.channels is not None:
                self.rulebook.set_channels({c.name for c in channels} | {LOG_CHANNEL})
        return True

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
        """Poll rounds of a tick each (``polling.poll_due``), one after another while a
        round uses its whole tick: it stopped claiming with sources still due, and the
        tick that fell due meanwhile was skipped (one run at a time), so the next round
        started up to a tick later. A first cycle longer than a tick spent nearly half
        its time waiting so. Each round beats, and reloads a changed sources file."""
        tick = self.settings.schedule.tick
        while True:
            started = time.monotonic()
            await self._poll_round(tick)
            if self._stop.is_set() or time.monotonic() - started < tick:
                return

    async def _poll_round(self, tick: float) -> None:
        self.liveness.beat()
        self.reload_sources()
        assert self.fetcher is not None
        reports = await self.pipeline.poll_due(self.fetcher, claim_for=tick)
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
                continue  # said where it was recorded (monitor.app.polling)
            if r.new:
                log.info("poll %s: %d new, %d alert(s)", r.source, r.new, r.alerts)
            self._log_warnings(r)

    def _log_warnings(self, report: BatchReport) -> None:
        """A poll's warnings (a malformed feed kept in part, dates that cannot be read,
        changing GUIDs), each kind logged once per source, however its counts, dates or
        addresses change from poll to poll: a feed says the same at every poll. A poll
        without warnings ends the spell: a kind that comes back is logged again."""
        if report.error:
            return  # a failed poll says nothing of the feed's warnings
        if not report.warnings:
            self._warned.pop(report.source, None)
            return
        said = self._warned.setdefault(report.source, set())
        for warning in report.warnings:
            kind = _WARNING_DETAILS.sub("#", warning)
            if kind not in said:
                if len(said) >= WARNED_KEPT:
                    said.clear()  # bounded: after that, some are said again
                said.add(kind)
                log.warning("poll %s: %s", report.source, warning)

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
            got = self.pipeline.record_digest(
                channel, window_key=window.key, until=window.due_at, wait=True
            )
            if got is not None:
                out.append(got)
        if out:
            await self.dispatch_job()
        return out

    async def dispatch_job(self) -> None:
        await self.dispatcher.drain()

    async def retention_job(self) -> None:
        """Prune once per MONITOR_RETENTION__INTERVAL. The job is looked at more often
        (RETENTION_RETRY): a run that failed (the database was down) is tried again
        within the hour, not a whole interval later."""
        every = self.settings.retention.interval
        if self._pruned_at is not None and time.monotonic() - self._pruned_at < every:
            return
        # one worker's run is enough, but two at once only find less to delete
        await asyncio.to_thread(retention.prune, self.pipeline)
        self._pruned_at = time.monotonic()

    def _tracked(self, job: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
        """A job whose task the shutdown can wait for, and that ends quietly when it is
        cancelled at shutdown (a cancelled job is no error)."""

        @functools.wraps(job)
        async def run() -> None:
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            try:
                await job()
            except asyncio.CancelledError:
                log.info("job %s cut short by the shutdown", getattr(job, "__name__", "?"))
            except sa.exc.OperationalError as exc:
                if _locked(exc):
                    # SQLite answered; another writer held it past the busy timeout (a
                    # long store): not an outage, and no 503 on /readyz for it
                    self.counters.failed += 1
                    log.warning(
                        "job %s: the database stayed locked by another writer past"
                        " MONITOR_DATABASE__BUSY_TIMEOUT_MS; it runs again at its next time",
                        getattr(job, "__name__", "?"),
                    )
                else:
                    self._database_unavailable(exc)
            else:
                await self._database_answers()
            finally:
                self._running.discard(task)

        return run

    def _database_unavailable(self, exc: sa.exc.OperationalError) -> None:
        """A job that failed because the database did not answer (a server restarted,
        the network cut): one line when the outage begins, not a traceback per job and
        tick; the jobs go on trying at their pace and the daemon keeps running."""
        self.counters.failed += 1
        if self._database_lost is not None:
            log.debug("database still unavailable: %s", driver_reason(exc))
            return
        self._database_lost = time.monotonic()
        log.error(
            "database unavailable (%s): the jobs go on trying; /readyz answers 503 until"
            " it is back",
            driver_reason(exc),
        )

    async def _database_answers(self) -> None:
        """After a job that ended well: the end of an outage, if one was on. Some jobs
        need no database (a reload of unchanged files), so it is asked, off the loop."""
        lost = self._database_lost
        if lost is None:
            return
        try:
            await asyncio.to_thread(_ping, self.pipeline.engine)
        except sa.exc.DBAPIError:
            return
        # several jobs may have asked at once: the first to hear the answer says it
        if self._database_lost is not None:
            self._database_lost = None
            log.warning("database available again after %.0f s", time.monotonic() - lost)

    def reload_all(self) -> None:
        """SIGHUP: sources, rules and channels, now."""
        log.info("SIGHUP: reloading sources, rules and channels")
        if self._sources_stamp is not None:
            self._sources_stamp = (0, 0)  # read it again even when its stamp is the same
        self.reload_sources()
        self.reload_channels()  # first: the rules are checked against its channel names
        self.reload_rules()

    # --------------------------------------------------------------------- run

    async def run(self, stop: asyncio.Event | None = None) -> None:
        # an event of this run's own: one an earlier run's stop set would end it at once
        self._stop = stop or asyncio.Event()
        with daemon_lock(self.pipeline.engine):
            await self._run(self._stop)

    async def _run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        handled: list[int] = []
        for sig, action in (
            (signal.SIGTERM, stop.set),
            (signal.SIGINT, stop.set),
            (signal.SIGHUP, self.reload_all),
        ):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
                loop.add_signal_handler(sig, action)
                handled.append(sig)
        self.reload_sources()
        if not self.pipeline.channels:
            log.warning("no channels file: digests and alerts are recorded, and nothing is sent")
        servers = self._servers()
        served = [asyncio.create_task(s.serve()) for s in servers]
        parse_workers = self.settings.http.parse_workers
        # unset: one parse process, which bounds each parse (RELIABILITY P8) and, on two
        # cores, took a full cycle of 2,000 feeds from 6.8 to 4.3 s (bench_fetch.py)
        async with Fetcher(
            self.settings.http,
            parse_workers=DAEMON_PARSE_WORKERS if parse_workers is None else parse_workers,
        ) as fetcher:
            self.fetcher = fetcher
            scheduler = build_scheduler(
                self.settings.schedule,
                poll=self._tracked(self.poll_job),
                reload=self._tracked(self.reload_job),
                digest=self._tracked(self.digest_job),
                dispatch=self._tracked(self.dispatch_job),
                evaluate=self._tracked(self.evaluate_job),
                retention=self._tracked(self.retention_job),
                reload_interval=self.settings.rules.reload_interval,
                dispatch_interval=self.settings.delivery.interval,
                retention_interval=min(self.settings.retention.interval, RETENTION_RETRY),
                counters=self.counters,
                on_tick=self.liveness.beat,
            )
            log.info(
                "monitor running as %s (database %s)",
                self.pipeline.worker,
                shown_url(self.pipeline.engine.url),
            )
            scheduler.start()
            try:
                await stop.wait()
            finally:
                scheduler.pause()  # no job starts any more
                await self._drain()
                scheduler.shutdown(wait=False)
                await self._release_in_time()
                await self.dispatcher.aclose()
        for s in servers:
            s.should_exit = True
        if served:
            await asyncio.wait(served)
        for handled_sig in handled:
            loop.remove_signal_handler(handled_sig)
        log.info("monitor stopped at %s", datetime.now(UTC).isoformat())

    def _servers(self) -> list[EmbeddedServer]:
        """The HTTP servers in this loop: the probes, the web view, or both on one address."""
        out: list[EmbeddedServer] = []
        probes = app(self.pipeline.engine, self.liveness) if self.metrics_address else None
        if self.web_address:
            from monitor.web.server import embedded, make_view

            rulebook = self.rulebook
            view = make_view(self.settings, self.pipeline.engine, lambda: rulebook.current)
            shared = self.web_address == self.metrics_address
            out.append(embedded(self.web_address, view, probes if shared else None))
            if shared:
                probes = None
        if probes is not None and self.metrics_address:
            out.append(server(self.metrics_address, probes))
            log.info("probes and metrics on http://%s/ (healthz, readyz, metrics)",
                     self.metrics_address)  # fmt: skip
        return out

    async def _drain(self) -> None:
        """Let the jobs under way finish within the grace period, then cancel them."""
        running = set(self._running)
        if not running:
            return
        grace = self.settings.schedule.shutdown_grace
        log.info("stopping: %d job(s) under way, %.0f s to finish", len(running), grace)
        _, late = await asyncio.wait(running, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)

    async def _release_in_time(self) -> None:
        """:meth:`_release`, waited for at most RELEASE_LIMIT (``bounded.within``): a
        server that takes a query and never answers held the stop for ever."""
        reached: list[int] = []
        try:
            await bounded.within(
                lambda: self._release(reached), RELEASE_LIMIT, name="monitor-release"
            )
        except TimeoutError:
            left = self._release_steps()[max(len(reached) - 1, 0) :]
            log.warning(
                "stopping: the database did not answer within %g s; not given back: %s",
                RELEASE_LIMIT,
                "; ".join(what for _, what in left),
            )

    def _release_steps(self) -> tuple[tuple[Callable[[], int], str], ...]:
        s = self.settings
        return (
            (
                lambda: polling.release_leases(self.pipeline),
                f"its sources (other workers poll them within {s.schedule.lease:.0f} s)",
            ),
            (
                self.dispatcher.release,
                f"its claimed messages (sent by another dispatch within {s.delivery.lease:.0f} s)",
            ),
            (self._forget, "its heartbeat (`monitor health` lists it as stopped without a word)"),
        )

    def _release(self, reached: list[int] | None = None) -> None:
        """Give back this worker's source leases and claimed messages, and remove its
        heartbeat. Stopped during an outage, the stop is still clean (exit 0, the servers
        shut down): one line says what stays held and until when, and the steps after the
        first failure are not tried (each would wait for the database again). ``reached``
        gets each step's index as it starts."""
        steps = self._release_steps()
        released: list[int] = []
        for i, (step, _) in enumerate(steps):
            if reached is not None:
                reached.append(i)
            try:
                released.append(step())
            except sa.exc.DBAPIError as exc:
                log.warning(
                    "stopping during a database outage (%s); not given back: %s",
                    driver_reason(exc),
                    "; ".join(what for _, what in steps[i:]),
                )
                break
        sources, messages = [*released, 0, 0][:2]
        if sources or messages:
            log.info(
                "released %d source lease(s) and %d claimed message(s) for other workers",
                sources,
                messages,
            )

    def _forget(self) -> int:
        with session_scope(self.pipeline.engine) as session:
            workers.forget(session, worker=self.pipeline.worker)
        return 0


def _locked(exc: sa.exc.OperationalError) -> bool:
    """SQLite's busy timeout ran out: the database answers, a writer holds it."""
    return "locked" in str(exc.orig).lower() and "sqlite" in type(exc.orig).__module__


def _ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
