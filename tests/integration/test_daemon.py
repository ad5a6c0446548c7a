"""The daemon: scheduled polls against a real local server, hot reload, digests, shutdown."""

from __future__ import annotations

import asyncio
import multiprocessing
import shutil
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col, func, select

from monitor.app.batches import BatchReport
from monitor.app.digests import Recorded
from monitor.app.outbox import Dispatcher
from monitor.daemon import Daemon
from monitor.demo_server import serve_directory
from monitor.fetch.client import Fetcher
from monitor.models import Alert, Article, Digest, DigestAlert, Heartbeat
from monitor.notify.channels import Channel, load_channels
from monitor.notify.memory import MemoryNotifier
from monitor.notify.message import OutboundMessage
from monitor.rules.reload import RuleBook
from monitor.settings import HttpSettings, RulesSettings, Settings
from monitor.store.db import make_engine, session_scope, upgrade
from tests.conftest import CHANNELS, RULES, SEEDS, database_outage


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    return target


# Two channels the shipped rules route to; every minute is a digest window.
CHANNELS_FILE = """channels:
  - {name: desk-email, type: email, to: [desk@example.com], schedule: "* * * * *",
     immediate: critical}
  - {name: china-tech-slack, type: slack, url_env: SLACK_URL, schedule: "* * * * *"}
"""


def daemon_channels(tmp_path: Path) -> tuple[Channel, ...]:
    path = tmp_path / "channels.yaml"
    path.write_text(CHANNELS_FILE, encoding="utf-8")
    return load_channels(path, {"SLACK_URL": "https://hooks.slack.test/services/x"})


def make_daemon(
    tmp_path: Path, engine: Engine, rules_dir: Path, base_url: str, *, with_channels: bool = False
) -> Daemon:
    sources = tmp_path / "sources.yaml"
    text = (SEEDS / "sources.yaml").read_text(encoding="utf-8")
    sources.write_text(text.replace("http://127.0.0.1:8765/", base_url), encoding="utf-8")
    settings = Settings(
        database_url=str(engine.url),
        sources_file=sources,
        http=HttpSettings(allow_networks=["127.0.0.1/32"], jitter=0.0),
        rules=RulesSettings(dir=rules_dir),
    )
    channels = daemon_channels(tmp_path) if with_channels else ()
    daemon = Daemon(settings, engine, RuleBook(rules_dir, channels=CHANNELS), channels=channels)
    # the senders are the notifiers' own tests' business: here they keep what they get
    memory = {c.name: MemoryNotifier() for c in channels}
    daemon.dispatcher = Dispatcher(daemon.pipeline, notifiers=memory)
    return daemon


def count(engine: Engine, model: type, *where: object) -> int:
    with session_scope(engine) as s:
        q = select(func.count()).select_from(model)
        for w in where:
            q = q.where(w)  # type: ignore[arg-type]
        return int(s.exec(q).one())


def test_run_polls_on_start_and_stops_on_request(
    tmp_path: Path, engine: Engine, rules_dir: Path
) -> None:
    async def scenario(base_url: str) -> None:
        daemon = make_daemon(tmp_path, engine, rules_dir, base_url)
        stop = asyncio.Event()
        original = daemon.poll_job

        async def poll_then_stop() -> None:
            await original()
            beats.append(count(engine, Heartbeat))  # the worker is listed while it runs
            stop.set()  # the first scheduled poll ran: ask the daemon to stop

        daemon.poll_job = poll_then_stop  # type: ignore[method-assign]
        await asyncio.wait_for(daemon.run(stop), timeout=60)

    beats: list[int] = []
    with serve_directory(SEEDS) as base_url:
        asyncio.run(scenario(base_url))
    assert count(engine, Article) == 15
    # ... and not once it stopped cleanly: `monitor health` lists those running, and
    # those that stopped without a word
    assert beats == [1] and count(engine, Heartbeat) == 0


def test_a_poll_round_that_uses_its_whole_tick_is_followed_at_once(
    tmp_path: Path, engine: Engine, rules_dir: Path
) -> None:
    """A backlog (the first cycle of many sources): a round that claimed until its tick
    ended is followed by the next at once, where the scheduler skipped the tick that fell
    due meanwhile and began the next round up to a tick later. A round that ends within
    its tick ends the job; so does a stop."""
    daemon = make_daemon(tmp_path, engine, rules_dir, "http://127.0.0.1:9/")
    tick = 0.05
    schedule = daemon.settings.schedule.model_copy(update={"tick": tick})
    daemon.settings = daemon.settings.model_copy(update={"schedule": schedule})
    rounds: list[float] = []
    full = [2]  # rounds that use their whole tick before one that does not

    async def poll_due(fetcher: Fetcher, *, claim_for: float) -> list[BatchReport]:
        rounds.append(claim_for)
        if full[0]:
            full[0] -= 1
            await asyncio.sleep(claim_for)  # claiming until the tick ends
        return []

    async def job() -> None:
        async with Fetcher(daemon.settings.http, parse_workers=0) as fetcher:
            daemon.fetcher = fetcher
            await daemon.poll_job()

    daemon.pipeline.poll_due = poll_due  # type: ignore[method-assign, assignment]
    asyncio.run(job())
    assert rounds == [tick] * 3
    rounds.clear()
    full[0] = 2
    daemon._stop.set()
    asyncio.run(job())
    assert rounds == [tick]


def test_a_daemon_stopped_once_runs_again_until_told_to_stop(
    tmp_path: Path, engine: Engine, rules_dir: Path
) -> None:
    """A run without a stop event of its caller's (``monitor run``: signals set it) waits
    on one of its own: the one an earlier run's stop set ended the next run before it
    polled."""
    polls: list[int] = []

    async def scenario(base_url: str) -> None:
        daemon = make_daemon(tmp_path, engine, rules_dir, base_url)
        daemon._stop.set()  # as an earlier run's stop left it
        original = daemon.poll_job

        async def poll_then_stop() -> None:
            await original()
            polls.append(count(engine, Article))
            daemon._stop.set()

        daemon.poll_job = poll_then_stop  # type: ignore[method-assign]
        await asyncio.wait_for(daemon.run(), timeout=60)

    with serve_directory(SEEDS) as base_url:
        asyncio.run(scenario(base_url))
    assert polls == [15]


def test_the_daemon_parses_in_a_process_of_its_own_unless_told_otherwise(
    tmp_path: Path, engine: Engine, rules_dir: Path
) -> None:
    """`monitor run` parses in one worker process by default (each parse bounded in time
    and memory, a crash kept to its process: RELIABILITY P8); MONITOR_HTTP__PARSE_WORKERS=0
    keeps parsing in a thread. One-shot commands start no process."""

    async def children_after_a_poll(base_url: str, db: Engine, workers: int | None) -> int:
        daemon = make_daemon(tmp_path, db, rules_dir, base_url)
        daemon.settings = daemon.settings.model_copy(
            update={"http": daemon.settings.http.model_copy(update={"parse_workers": workers})}
        )
        stop = asyncio.Event()
        original, seen = daemon.poll_job, []

        async def poll_then_stop() -> None:
            await original()
            seen.append(len(multiprocessing.active_children()))
            stop.set()

        daemon.poll_job = poll_then_stop  # type: ignore[method-assign]
        await asyncio.wait_for(daemon.run(stop), timeout=60)
        return seen[0]

    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")  # its polls parse too
    upgrade(other)
    before = len(multiprocessing.active_children())
    with serve_directory(SEEDS) as base_url:
        by_default = asyncio.run(children_after_a_poll(base_url, engine, None))
        in_a_thread = asyncio.run(children_after_a_poll(base_url, other, 0))
    assert (by_default - before, in_a_thread - before) == (1, 0)
    assert len(multiprocessing.active_children()) == before  # the pool ended with the daemon
    assert count(engine, Article) == count(other, Article) == 15
    other.dispose()


def test_a_polls_warnings_are_logged_once_per_source(
    tmp_path: Path, engine: Engine, rules_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A feed's warnings (dates that cannot be read, changing GUIDs, a malformed feed
    kept in part) reached `poll --once` and never the daemon's log. Now each is logged,
    once per source, not at every poll."""
    daemon = make_daemon(tmp_path, engine, rules_dir, "http://127.0.0.1:9/")

    def poll(source: str, *warnings: str, error: str | None = None) -> None:
        daemon._log_warnings(BatchReport(source=source, warnings=warnings, error=error))

    with caplog.at_level("WARNING", logger="monitor.daemon"):
        # one kind, however its count and example change from poll to poll
        for n in (3, 4, 5):
            poll("wire", f"{n} item(s) with a date that cannot be read (the first: '{n} Brumaire')")
        poll("site", "1 item(s) with a date that cannot be read (the first: 'x')", "partial")
        poll("wire", error="http_status: 503")  # a failed poll says nothing of warnings
        poll("wire", "6 item(s) with a date that cannot be read (the first: 'y')")
        poll("wire")  # a clean poll: the next time the feed says it, it is logged again
        poll("wire", "2 item(s) with a date that cannot be read (the first: 'z')")
    assert [r.getMessage() for r in caplog.records] == [
        "poll wire: 3 item(s) with a date that cannot be read (the first: '3 Brumaire')",
        "poll site: 1 item(s) with a date that cannot be read (the first: 'x')",
        "poll site: partial",
        "poll wire: 2 item(s) with a date that cannot be read (the first: 'z')",
    ]


def test_rule_edit_is_swapped_in_and_a_bad_edit_keeps_the_last_good(
    tmp_path: Path, engine: Engine, rules_dir: Path
) -> None:
    daemon = make_daemon(tmp_path, engine, rules_dir, "http://127.0.0.1:9/")
    before = daemon.pipeline.rules
    assert before.rules and not before.problems
    extra = rules_dir / "extra.yaml"
    extra.write_text(
        "rules:\n  - id: extra-qwen\n    when: {new_term: qwen_models}\n", encoding="utf-8"
    )
    assert daemon.reload_rules()
    assert "extra-qwen" in {r.id for r in daemon.pipeline.rules.rules}

    extra.write_text(
        "rules:\n  - id: extra-qwen\n    when: {new_term: qwen_modles}\n", encoding="utf-8"
    )
    daemon.reload_rules()
    ids = {r.id for r in daemon.pipeline.rules.rules}
    assert "extra-qwen" in ids  # the last good version of the file stays in force
    with session_scope(engine) as s:
        ops = list(s.exec(select(Alert).where(col(Alert.rule_id) == "operator:rules")))
    assert len(ops) == 1
    assert any("extra.yaml:3:" in d for d in (ops[0].payload or {})["details"])
    daemon.reload_rules()  # nothing changed on disk: no second operator alert
    assert count(engine, Alert, col(Alert.rule_id) == "operator:rules") == 1


def test_digest_is_built_once_per_window(tmp_path: Path, engine: Engine, rules_dir: Path) -> None:
    """Each channel's digest of a window is built once, by whichever of two daemons on
    one database gets there first, and its messages are sent once."""

    async def scenario(base_url: str) -> tuple[list[Recorded], list[Recorded], list[Daemon]]:
        one = make_daemon(tmp_path, engine, rules_dir, base_url, with_channels=True)
        two = make_daemon(tmp_path, engine, rules_dir, base_url, with_channels=True)
        async with Fetcher(one.settings.http) as fetcher:
            one.fetcher = fetcher
            await one.poll_job()
        # the window that holds the poll closes at the next minute
        later = datetime.now(UTC) + timedelta(minutes=1)
        for d in (one, two):
            d.pipeline.clock = d.clock = lambda: later
        first = await one.digest_job()
        second = await two.digest_job()
        return first, second, [one, two]

    with serve_directory(SEEDS) as base_url:
        first, second, daemons = asyncio.run(scenario(base_url))
    assert sorted(r.channel for r in first) == ["china-tech-slack", "desk-email"]
    assert second == []
    assert count(engine, Digest) == 2
    sent: list[OutboundMessage] = []
    for d in daemons:
        for n in d.dispatcher._notifiers.values():
            assert isinstance(n, MemoryNotifier)  # make_daemon gave every channel one
            sent += n.sent
    assert sorted(m.channel for m in sent if m.kind == "digest") == [
        "china-tech-slack", "desk-email",
    ]  # fmt: skip
    # every alert routed to a channel is in that channel's digest, once
    with session_scope(engine) as s:
        shown = s.exec(select(DigestAlert)).all()
    assert shown and len({(x.channel, x.alert_id) for x in shown}) == len(shown)


def test_time_based_rules_fire_on_silence_without_new_articles(
    tmp_path: Path, engine: Engine, rules_dir: Path
) -> None:
    now = [datetime.now(UTC)]

    async def first_poll(daemon: Daemon) -> None:
        async with Fetcher(daemon.settings.http) as fetcher:
            daemon.fetcher = fetcher
            await daemon.poll_job()

    with serve_directory(SEEDS) as base_url:
        daemon = make_daemon(tmp_path, engine, rules_dir, base_url)
        daemon.pipeline.clock = daemon.clock = lambda: now[0]
        asyncio.run(first_poll(daemon))
    stale = col(Alert.rule_id) == "source-stale"
    asyncio.run(daemon.evaluate_job())
    assert count(engine, Alert, stale) == 0  # just polled: nothing is quiet yet
    now[0] += timedelta(days=10)
    asyncio.run(daemon.evaluate_job())
    assert count(engine, Alert, stale) == 3  # each of the three sources went quiet
    asyncio.run(daemon.evaluate_job())
    assert count(engine, Alert, stale) == 3  # and it is said once, not at every tick


def test_a_database_outage_is_one_line_then_one_when_it_is_back(
    tmp_path: Path,
    engine: Engine,
    rules_dir: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A PostgreSQL restart made every job of every tick log a traceback (thousands of
    lines a minute). Now: one line when the database stops answering, one when it is
    back, the jobs going on meanwhile, and no traceback. A job that needs no database
    (a reload of unchanged files) ending well during the outage does not end it."""
    from monitor import daemon as daemon_mod

    daemon = make_daemon(tmp_path, engine, rules_dir, "http://127.0.0.1:9/")
    down = [True]
    real_ping = daemon_mod._ping

    def ping(e: Engine) -> None:
        if down[0]:
            raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))
        real_ping(e)

    monkeypatch.setattr(daemon_mod, "_ping", ping)

    async def needs_the_database() -> None:
        if down[0]:
            raise sa.exc.OperationalError(
                "SELECT 1", {}, Exception("connection refused\n\tIs the server running?")
            )

    async def needs_nothing() -> None:
        pass

    async def ticks() -> None:
        for job in (needs_the_database, needs_nothing, needs_the_database, needs_nothing):
            await daemon._tracked(job)()
        down[0] = False  # the server is back
        await daemon._tracked(needs_the_database)()

    with caplog.at_level("DEBUG", logger="monitor"):
        asyncio.run(ticks())
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "monitor.daemon"]
    assert [m for level, m in said if level == "ERROR"] == [
        "database unavailable (connection refused): the jobs go on trying; /readyz answers"
        " 503 until it is back"
    ]
    back = [m for level, m in said if level == "WARNING"]
    assert len(back) == 1 and back[0].startswith("database available again after")
    assert not any(r.exc_info for r in caplog.records)
    assert daemon.counters.failed == 2


def test_a_stop_during_a_database_outage_is_clean_and_says_what_stays_held(
    tmp_path: Path, engine: Engine, rules_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGTERM while the database did not answer: giving back the leases failed and the
    whole command ended as an error (exit 1), the servers not shut down. Now the stop is
    clean and one line says what stays held, and for how long."""

    async def scenario(base_url: str, lose: Callable[[], None]) -> None:
        daemon = make_daemon(tmp_path, engine, rules_dir, base_url)
        stop = asyncio.Event()
        original = daemon.poll_job

        async def poll_then_lose_the_database() -> None:
            await original()
            lose()
            stop.set()

        daemon.poll_job = poll_then_lose_the_database  # type: ignore[method-assign]
        await asyncio.wait_for(daemon.run(stop), timeout=60)

    with (
        database_outage(engine) as lose,
        serve_directory(SEEDS) as base_url,
        caplog.at_level("INFO", logger="monitor"),
    ):
        asyncio.run(scenario(base_url, lose))
    said = [r.getMessage() for r in caplog.records if r.name == "monitor.daemon"]
    held = [m for m in said if m.startswith("stopping during a database outage")]
    assert held == [
        "stopping during a database outage (unable to open database file); not given back:"
        " its sources (other workers poll them within 240 s); its claimed messages (sent by"
        " another dispatch within 120 s); its heartbeat (`monitor health` lists it as"
        " stopped without a word)"
    ], said
    assert said[-1].startswith("monitor stopped at")
    assert not any(r.exc_info for r in caplog.records)


def test_a_stop_that_lost_the_database_midway_names_only_what_stays_held(
    tmp_path: Path,
    engine: Engine,
    rules_dir: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sources were given back, then the database went: the line names the messages
    and the heartbeat only."""
    daemon = make_daemon(tmp_path, engine, rules_dir, "http://127.0.0.1:9/")

    def down() -> int:
        raise sa.exc.OperationalError("UPDATE", {}, Exception("connection refused"))

    monkeypatch.setattr(daemon.dispatcher, "release", down)  # after the sources' turn
    with caplog.at_level("INFO", logger="monitor"):
        daemon._release()
    said = [r.getMessage() for r in caplog.records if r.name == "monitor.daemon"]
    assert said == [
        "stopping during a database outage (connection refused); not given back: its claimed"
        " messages (sent by another dispatch within 120 s); its heartbeat (`monitor health`"
        " lists it as stopped without a word)"
    ]


def test_a_stop_is_not_held_by_a_database_that_never_answers(
    tmp_path: Path,
    engine: Engine,
    rules_dir: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server that takes a query and never answers (libpq has no timeout for an
    answer): giving back the leases blocked the loop, and the stop never ended, deaf to
    every signal but SIGKILL. It waits RELEASE_LIMIT, says what stays held, and ends."""
    from monitor import daemon as daemon_mod

    monkeypatch.setattr(daemon_mod, "RELEASE_LIMIT", 0.5)
    answer = threading.Event()

    def never_answers(_: object) -> int:
        answer.wait(60)  # released at the end of the test
        return 0

    from monitor.app import polling

    monkeypatch.setattr(polling, "release_leases", never_answers)

    async def scenario() -> None:
        daemon = make_daemon(tmp_path, engine, rules_dir, "http://127.0.0.1:9/")
        stop = asyncio.Event()
        stop.set()
        await asyncio.wait_for(daemon.run(stop), timeout=30)

    try:
        with caplog.at_level("INFO", logger="monitor"):
            asyncio.run(scenario())
    finally:
        answer.set()
    said = [r.getMessage() for r in caplog.records if r.name == "monitor.daemon"]
    assert (
        "stopping: the database did not answer within 0.5 s; not given back: its sources"
        " (other workers poll them within 240 s); its claimed messages (sent by another"
        " dispatch within 120 s); its heartbeat (`monitor health` lists it as stopped"
        " without a word)"
    ) in said, said
    assert said[-1].startswith("monitor stopped at")


def test_a_retention_run_that_failed_is_tried_again_within_the_hour(
    tmp_path: Path, engine: Engine, rules_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retention job ran once a day: a run that met a database outage waited a whole
    day. It is looked at every hour now, and prunes once per interval."""
    from monitor import daemon as daemon_mod

    d = make_daemon(tmp_path, engine, rules_dir, "http://127.0.0.1:9/")
    outcomes = iter(["down", "ok", "ok"])
    ran: list[str] = []

    def prune(_: object) -> None:
        outcome = next(outcomes)
        ran.append(outcome)
        if outcome == "down":
            raise sa.exc.OperationalError("DELETE", {}, Exception("connection refused"))

    from monitor.app import retention

    monkeypatch.setattr(retention, "prune", prune)  # the module the daemon calls it from
    with pytest.raises(sa.exc.OperationalError):
        asyncio.run(d.retention_job())  # the outage: nothing counted as done
    asyncio.run(d.retention_job())  # the next look (within the hour) prunes
    asyncio.run(d.retention_job())  # and the one after waits for the interval
    assert ran == ["down", "ok"]
    assert daemon_mod.RETENTION_RETRY <= 3600 < d.settings.retention.interval
