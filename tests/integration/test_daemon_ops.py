"""The daemon in production: bounded inputs, startup on a shared database, clean
shutdown, leases on the database's clock, probes and metrics."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from monitor.app import polling
from monitor.app.runtime import Runtime
from monitor.daemon import Daemon
from monitor.models import Alert, Source
from monitor.rules.loader import load_rules
from monitor.rules.reload import RuleBook
from monitor.settings import Settings
from monitor.store import sources as sources_store
from monitor.store.db import make_engine, session_scope, upgrade
from tests.conftest import CHANNELS, ROOT, RULES, SEEDS
from tests.integration.hangup import hangs_up

Run = Any

# nine levels of nine aliases: a few hundred nodes to compose, 387 million values to build
LAUGHS = "\n".join(
    ['lol0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"lol{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    + ["rules: *a9"]
)


def big_file(path: Path, megabytes: int = 50) -> Path:
    line = "  - {id: x, when: {new_term: qwen_models}, severity: low}\n"
    with path.open("w") as f:
        f.write("rules:\n")
        f.write(line * (megabytes * 1024 * 1024 // len(line)))
    return path


# ----------------------------------------------------------------- bounded inputs


def test_rules_check_refuses_alias_bombs_and_huge_files_in_bounded_memory(
    run: Run, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    (rules / "laughs.yaml").write_text(LAUGHS, encoding="utf-8")
    big_file(rules / "huge.yaml")
    tracemalloc.start()
    out = run("rules", "check", str(rules), db=None)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert f"{rules / 'laughs.yaml'}:" in out.stdout and "expands to more than" in out.stdout
    assert f"{rules / 'huge.yaml'}:1:1: the file is over the" in out.stdout
    assert peak < 64 * 1024 * 1024, f"{peak / 1e6:.0f} MB"


@pytest.mark.parametrize("which", ["sources", "channels"])
def test_sources_and_channels_files_are_bounded_too(run: Run, tmp_path: Path, which: str) -> None:
    laughs = tmp_path / f"{which}.yaml"
    laughs.write_text(LAUGHS.replace("rules:", f"{which}:"), encoding="utf-8")
    huge = big_file(tmp_path / f"huge-{which}.yaml", 3)
    for path in (laughs, huge):
        if which == "sources":
            out = run("--sources", str(path), "sources", "check", "x", db=None)
        else:
            out = run("channels", "check", str(path), db=None)
        assert out.returncode == 1 and "Traceback" not in out.stderr
        assert f"{path}:" in out.stdout + out.stderr
        assert ("expands to more than" in out.stdout + out.stderr) or (
            "over the" in out.stdout + out.stderr
        )


@pytest.mark.parametrize("pattern", [r"(\w+\s?)*X", r"(.*a){12}", r"(a|aa)+$"])
def test_slow_patterns_are_refused_at_load(run: Run, tmp_path: Path, pattern: str) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "slow.yaml").write_text(
        f"terms:\n  slow_names:\n    pattern: '{pattern}'\n", encoding="utf-8"
    )
    out = run("rules", "check", str(rules), db=None)
    assert out.returncode == 1
    assert f"{rules / 'slow.yaml'}:3:14: terms.slow_names.pattern:" in out.stdout
    assert "backtrack" in out.stdout


def test_a_running_daemon_keeps_its_rules_on_an_alias_bomb_and_says_so_once(
    tmp_path: Path, engine: Engine
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    settings = Settings(database_url=str(engine.url), sources_file=tmp_path / "none.yaml")
    daemon = Daemon(settings, engine, RuleBook(rules, channels=CHANNELS))
    before = daemon.pipeline.rules
    (rules / "laughs.yaml").write_text(LAUGHS, encoding="utf-8")
    big_file(rules / "huge.yaml")
    tracemalloc.start()
    daemon.reload_rules()
    daemon.reload_rules()  # nothing changed since: no second alert
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 64 * 1024 * 1024, f"{peak / 1e6:.0f} MB"
    assert {r.id for r in daemon.pipeline.rules.rules} == {r.id for r in before.rules}
    with session_scope(engine) as s:
        ops = s.exec(select(Alert).where(col(Alert.rule_id) == "operator:rules")).all()
    assert len(ops) == 1
    details = (ops[0].payload or {})["details"]
    assert any("laughs.yaml" in d for d in details) and any("huge.yaml" in d for d in details)


# ------------------------------------------------------------ a daemon in a process


def _env(db: str, tmp_path: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(
        PYTHONPATH=str(ROOT),
        MONITOR_DATABASE_URL=db,
        MONITOR_RULES__DIR=str(RULES),
        MONITOR_HTTP__ALLOW_NETWORKS='["127.0.0.1/32"]',
        MONITOR_HTTP__JITTER="0",
        MONITOR_SCHEDULE__TICK="0.5",
        HOME=str(tmp_path),
    )
    env.update(more)
    return env


WATCHDOG_S = 180.0  # far more than any test here needs from its daemon


@contextmanager
def daemon(
    env: dict[str, str], cwd: Path, *args: str
) -> Iterator[tuple[subprocess.Popen[str], IO[str]]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", *args],
        env=env, cwd=cwd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    # a daemon that never logs what a test waits for would block that read for ever: it
    # is killed instead, its log ends, and ``wait_for`` fails saying what it waited for
    watchdog = threading.Timer(WATCHDOG_S, proc.kill)
    watchdog.start()
    try:
        yield proc, proc.stderr
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
        proc.stderr.close()


def wait_for(stream: IO[str], text: str, seen: list[str]) -> str:
    """Read the daemon's log until a line holds ``text`` (reading is waiting: no sleep)."""
    for line in stream:
        seen.append(line)
        if text in line:
            return line
    raise AssertionError(f"the daemon ended before saying {text!r}:\n{''.join(seen)}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sources_file(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "sources.yaml"
    text = (SEEDS / "sources.yaml").read_text(encoding="utf-8")
    path.write_text(text.replace("http://127.0.0.1:8765/", base_url), encoding="utf-8")
    return path


def test_one_daemon_per_sqlite_file_while_short_commands_work(tmp_path: Path, run: Run) -> None:
    from monitor.demo_server import serve_directory

    db = f"sqlite:///{tmp_path / 'one.db'}"
    seen: list[str] = []
    with serve_directory(SEEDS) as base:
        env = _env(db, tmp_path, MONITOR_SOURCES_FILE=str(sources_file(tmp_path, base)))
        with daemon(env, tmp_path) as (first, log):
            wait_for(log, "monitor running as", seen)
            second = subprocess.run(
                [sys.executable, "-m", "monitor", "run"],
                env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert second.returncode == 1 and "Traceback" not in second.stderr
            assert "another monitor daemon (pid" in second.stderr
            assert f"already runs on {tmp_path / 'one.db'}" in second.stderr
            listed = run("sources", "list", "--json", db=db)  # a short command, alongside
            assert listed.returncode == 0
            first.send_signal(signal.SIGTERM)
            assert first.wait(30) == 0
            rest = log.read()
    assert "Traceback" not in "".join(seen) + rest


@pytest.mark.postgres
def test_four_commands_start_at_once_on_an_empty_postgresql_database(
    pg_url: str, tmp_path: Path
) -> None:
    env = _env(pg_url, tmp_path)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "monitor", *cmd],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cmd in (["db", "upgrade"], ["sources", "list"], ["alerts"], ["health"])
    ]
    results = [(p.wait(120), p.communicate()[1]) for p in procs]
    for code, err in results:
        assert code == 0 or "failing" in err, err
        assert "duplicate key" not in err and "Traceback" not in err
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        versions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    engine.dispose()
    assert len(versions) == 1


# ------------------------------------------------------------------- clean shutdown


@contextmanager
def slow_feed(
    expect: int = 1, on_hangup: Callable[[str], None] | None = None
) -> Iterator[tuple[str, threading.Event]]:
    """A feed server that holds every answer until the client hangs up or the server
    stops: polls stay under way. ``arrived`` is set once ``expect`` requests are waiting;
    ``on_hangup`` gets the path of each request whose client hung up while held."""
    arrived = threading.Event()
    waiting = [0]
    lock = threading.Lock()
    stop_r, stop_w = socket.socketpair()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with lock:
                waiting[0] += 1
                if waiting[0] >= expect:
                    arrived.set()
            if hangs_up(self.connection, 60, wake=stop_r):
                if on_hangup is not None:
                    on_hangup(self.path)
                return
            body = (SEEDS / "feeds" / "markets.rss").read_bytes()
            with suppress(OSError):
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/feed.rss", arrived
    finally:
        stop_w.send(b"x")
        server.shutdown()
        server.server_close()
        stop_r.close()
        stop_w.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_shutdown_during_polls_gives_every_source_back_at_once_without_a_traceback(
    tmp_path: Path, sig: signal.Signals
) -> None:
    db = f"sqlite:///{tmp_path / 'term.db'}"
    seen: list[str] = []
    names = [f"slow{i}" for i in range(6)]
    # two polls reach the server (two connections per host), the others wait their turn
    # inside the client: all six are under way when the signal comes
    with slow_feed(expect=2) as (url, arrived):
        path = tmp_path / "sources.yaml"
        path.write_text(
            "sources:\n"
            + "".join(f"  - {{name: {n}, url: '{url}?{n}', kind: rss}}\n" for n in names)
        )
        env = _env(
            db, tmp_path, MONITOR_SOURCES_FILE=str(path), MONITOR_SCHEDULE__SHUTDOWN_GRACE="1"
        )
        with daemon(env, tmp_path) as (proc, log):
            wait_for(log, "monitor running as", seen)
            assert arrived.wait(30), "the daemon never polled"
            engine = make_engine(db)
            with session_scope(engine) as s:
                for name in names:
                    row = sources_store.by_name(s, name)
                    assert row is not None and row.lease_owner, name  # claimed, under way
            proc.send_signal(sig)
            assert proc.wait(30) == 0
            rest = log.read()
    text = "".join(seen) + rest
    assert "Traceback" not in text and "CancelledError" not in text
    assert "unexpected error" not in text
    assert "cut short by the shutdown" in text
    with session_scope(engine) as s:
        for name in names:
            row = sources_store.by_name(s, name)
            assert row is not None
            # free for anyone now, nothing half-stored, and not counted as a failure
            assert row.lease_owner is None and row.lease_until is None, name
            assert row.poll_count == 0 and row.error_count == 0, name
            assert row.last_error is None, (name, row.last_error)
    engine.dispose()


def test_sighup_reloads_the_sources_file(tmp_path: Path) -> None:
    from monitor.demo_server import serve_directory

    db = f"sqlite:///{tmp_path / 'hup.db'}"
    seen: list[str] = []
    with serve_directory(SEEDS) as base:
        path = sources_file(tmp_path, base)
        env = _env(db, tmp_path, MONITOR_SOURCES_FILE=str(path))
        with daemon(env, tmp_path) as (proc, log):
            wait_for(log, "monitor running as", seen)
            with path.open("a") as f:
                f.write(f"  - {{name: extra, url: '{base}feeds/wire.atom', kind: atom}}\n")
            proc.send_signal(signal.SIGHUP)
            wait_for(log, "SIGHUP: reloading", seen)
            wait_for(log, "sources: 4 loaded", seen)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
    engine = make_engine(db)
    with session_scope(engine) as s:
        assert sources_store.by_name(s, "extra") is not None
    engine.dispose()


HUP_CHANNELS = """channels:
  - name: desk-email
    type: email
    to: [analyst@example.com]
    schedule: "0 8 * * 1-5"
  - name: china-tech-slack
    type: slack
    url_env: HUP_SLACK_URL
    schedule: "0 8 * * 1-5"
"""


def test_sighup_reloads_rules_and_channels(tmp_path: Path) -> None:
    """A rule file and a channel added while the daemon runs are in force after SIGHUP;
    a channels file broken afterwards is refused and the channels in use are kept."""
    from monitor.demo_server import serve_directory

    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    channels = tmp_path / "channels.yaml"
    channels.write_text(HUP_CHANNELS, encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'hup.db'}"
    seen: list[str] = []
    with serve_directory(SEEDS) as base:
        env = _env(
            db, tmp_path, MONITOR_SOURCES_FILE=str(sources_file(tmp_path, base)),
            MONITOR_RULES__DIR=str(rules), MONITOR_CHANNELS_FILE=str(channels),
            HUP_SLACK_URL="https://hooks.slack.test/services/T/B/x",
            MONITOR_RULES__RELOAD_INTERVAL="3600",  # only the signal reloads
        )  # fmt: skip
        with daemon(env, tmp_path) as (proc, log):
            wait_for(log, "monitor running as", seen)
            before = len(load_rules(rules, channels=CHANNELS).rules)
            (rules / "extra.yaml").write_text(
                "rules:\n  - id: hup-extra\n    when: {new_term: qwen_models}\n"
                "    notify: [night-email]\n",
                encoding="utf-8",
            )
            with channels.open("a", encoding="utf-8") as f:
                f.write(
                    "  - name: night-email\n    type: email\n    to: [night@example.com]\n"
                    "    schedule: '0 22 * * *'\n"
                )
            proc.send_signal(signal.SIGHUP)
            wait_for(log, "SIGHUP: reloading", seen)
            # the channels first: the new rule names the new channel
            wait_for(log, "channels reloaded: 3 channel(s)", seen)
            wait_for(log, f"rules reloaded: {before + 1} rule(s)", seen)
            channels.write_text("channels:\n  - name: x\n    type: pager\n", encoding="utf-8")
            proc.send_signal(signal.SIGHUP)
            wait_for(log, "keeping the previous channels", seen)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
            rest = log.read()
    assert "Traceback" not in "".join(seen) + rest


# ------------------------------------------------------------------------- leases


def _claimed(engine: Engine) -> tuple[Source, Runtime]:
    from monitor.rules.loader import EMPTY

    rt = Runtime(Settings(database_url=str(engine.url)), engine, EMPTY, worker="w1")
    with session_scope(engine) as s:
        s.add(Source(name="feed", url="https://feed.test/rss", next_poll_at=None))
    with session_scope(engine) as s:
        (row,) = sources_store.claim_due(
            s, worker="w1", now=rt.lease_now(s), lease_s=polling.lease_seconds(rt), limit=10
        )
        if engine.dialect.name == "postgresql":
            db_now = s.execute(sa.text("SELECT now()")).scalar_one()
            # the lease is measured by the database's clock, to the microsecond
            assert row.lease_until == db_now + timedelta(seconds=polling.lease_seconds(rt))
    return row, rt


def _renew_and_give_back(engine: Engine) -> None:
    row, rt = _claimed(engine)
    with session_scope(engine) as s:
        first = sources_store.by_name(s, "feed")
        assert first is not None and first.lease_until is not None
        was = first.lease_until
    assert polling.renew_once(rt, "feed", row.lease_token)
    with session_scope(engine) as s:
        now = sources_store.by_name(s, "feed")
        assert now is not None and now.lease_until is not None and now.lease_until >= was
    assert not polling.renew_once(rt, "feed", row.lease_token + 1)  # another's token
    with session_scope(engine) as s:
        assert sources_store.give_back(s, "feed", token=row.lease_token)
    with session_scope(engine) as s:
        free = sources_store.by_name(s, "feed")
        assert free is not None and free.lease_owner is None


def test_leases_are_renewed_and_given_back_with_their_token(engine: Engine) -> None:
    _renew_and_give_back(engine)


@pytest.mark.postgres
def test_leases_use_the_database_clock_on_postgresql(pg_engine: Engine) -> None:
    _renew_and_give_back(pg_engine)


@pytest.mark.postgres
def test_a_lease_held_by_its_own_store_does_not_freeze_the_daemon(pg_engine: Engine) -> None:
    """The renewal waited on the event loop for the source's row, which the poll's own
    store holds until it commits: no other poll, no liveness answer, for as long as the
    store took. It is tried off the loop, and again later."""
    row, rt = _claimed(pg_engine)
    rt.settings = rt.settings.model_copy(
        update={"schedule": rt.settings.schedule.model_copy(update={"lease": 0.6})}
    )
    release = threading.Event()

    def store_holding_the_row() -> None:  # as _store_poll does until its commit
        with session_scope(pg_engine) as s:
            sources_store.by_name(s, "feed", lock=True)
            release.wait(5)

    holder = threading.Thread(target=store_holding_the_row)
    holder.start()

    async def go() -> float:
        renewal = asyncio.create_task(polling._renew(rt, "feed", row.lease_token))
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.sleep(0.5)  # the renewal tries at 0.2 s and 0.4 s, on a held row
        late = loop.time() - started - 0.5
        assert not renewal.done()  # still renewing, not ended by the held row
        release.set()
        holder.join(5)
        await asyncio.sleep(0.3)  # the next try, on a free row
        renewal.cancel()
        return late

    late = asyncio.run(go())
    assert late < 0.2, f"the event loop was held {late:.1f} s"
    with session_scope(pg_engine) as s:
        now = sources_store.by_name(s, "feed")
        assert now is not None and now.lease_until is not None
        # renewed once the row was free: by this lease of 0.6 s, the claim's was 240 s
        assert row.lease_until is not None and now.lease_until < row.lease_until


def _poll_cut_short(engine: Engine, *, on_hangup: Callable[[], None]) -> Runtime:
    """A poll of a feed that never ends its answer, cancelled once the request arrived
    (a stop mid-poll); the runtime it ran in."""
    from monitor.fetch.client import Fetcher
    from monitor.rules.loader import EMPTY

    with slow_feed(on_hangup=lambda path: on_hangup()) as (url, arrived):
        settings = Settings(database_url=str(engine.url), http={"allow_networks": ["127.0.0.1/32"]})
        rt = Runtime(settings, engine, EMPTY, worker="w1")
        with session_scope(engine) as s:
            s.add(Source(name="feed", url=url, next_poll_at=None))

        async def cut_short() -> None:
            async with Fetcher(settings.http, parse_workers=0) as fetcher:
                ((spec, token),) = polling._claim(rt, 10, all_sources=False)
                poll = asyncio.create_task(polling.poll_source(rt, fetcher, spec, token=token))
                assert await asyncio.to_thread(arrived.wait, 30), "never polled"
                poll.cancel()
                with suppress(asyncio.CancelledError):
                    await asyncio.wait_for(poll, 20)

        asyncio.run(cut_short())
    return rt


def test_a_poll_cut_short_hangs_up_before_it_gives_its_source_back(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A source given back while its cancelled request is still open could be polled by
    another worker while the origin is still answering this one."""

    hung_up = threading.Event()
    closed_first: list[bool] = []
    give_back = sources_store.give_back

    def checked_give_back(session: Any, name: str, *, token: int) -> bool:
        # the origin sees the connection close before the source is anyone's again
        # (waited for: the close may still be on its way through the loopback)
        closed_first.append(hung_up.wait(5))
        return give_back(session, name, token=token)

    monkeypatch.setattr(sources_store, "give_back", checked_give_back)
    _poll_cut_short(engine, on_hangup=hung_up.set)
    assert closed_first == [True]
    with session_scope(engine) as s:
        row = sources_store.by_name(s, "feed")
        assert row is not None and row.lease_owner is None and row.poll_count == 0


def test_a_poll_cut_short_does_not_wait_for_ever_to_give_its_source_back(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A database that takes the give-back and never answers (libpq has no timeout for
    an answer): the cancelled poll blocked the loop, and with it the stop and its signal
    handlers. It waits GIVE_BACK_LIMIT, says so, and owes the source back."""

    answer = threading.Event()

    def never_answers(session: Any, name: str, *, token: int) -> bool:
        answer.wait(60)  # released at the end of the test
        return False

    monkeypatch.setattr(sources_store, "give_back", never_answers)
    monkeypatch.setattr(polling, "GIVE_BACK_LIMIT", 0.5)
    try:
        with caplog.at_level("WARNING", logger="monitor"):
            rt = _poll_cut_short(engine, on_hangup=lambda: None)
    finally:
        answer.set()
    said = [r.getMessage() for r in caplog.records]
    assert (
        "source feed not given back: the database did not answer within 0.5 s; other"
        " workers poll it when its lease ends, within 240 s"
    ) in said, said
    assert set(rt.owed_back) == {"feed"}  # given back as soon as the database answers


# ----------------------------------------------------------------- observability


def test_probes_and_metrics(tmp_path: Path) -> None:
    from monitor.demo_server import serve_directory

    db = f"sqlite:///{tmp_path / 'probe.db'}"
    port = free_port()
    seen: list[str] = []
    with serve_directory(SEEDS) as base:
        env = _env(db, tmp_path, MONITOR_SOURCES_FILE=str(sources_file(tmp_path, base)))
        with daemon(env, tmp_path, "--metrics-address", f"127.0.0.1:{port}") as (proc, log):
            wait_for(log, "probes and metrics on", seen)
            wait_for(log, "poll ainvest-site:", seen)  # a poll has been counted
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                assert client.get("/healthz").text == "ok\n"
                ready = client.get("/readyz")
                assert ready.status_code == 200 and "schema 0" in ready.text
                metrics = client.get("/metrics").text
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
    for name in (
        "monitor_polls_total{",
        "monitor_poll_duration_seconds_bucket",
        "monitor_articles_total",
        "monitor_stories_total",
        "monitor_alerts_total",
        "monitor_outbox_messages{",
        "monitor_dead_letters",
        "monitor_publication_to_delivery_seconds",
        "monitor_rule_reload_failures_total",
    ):
        assert name in metrics, name
    assert 'monitor_polls_total{result="ok"}' in metrics

    def value(sample: str) -> float:
        found = re.search(rf"^{re.escape(sample)} (\S+)$", metrics, re.M)
        assert found, sample
        return float(found.group(1))

    # counted as they happen: the first poll brought articles, and they started stories
    assert value("monitor_articles_total") >= 1
    assert 1 <= value("monitor_stories_total") <= value("monitor_articles_total")


def test_readiness_fails_on_a_database_behind_the_code(tmp_path: Path) -> None:
    from alembic import command

    from monitor.probes import Liveness, app
    from monitor.store.db import alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine)
    cfg = alembic_config(engine)
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
        conn.commit()

    async def probe() -> tuple[int, int]:
        transport = httpx.ASGITransport(app=app(engine, Liveness(10)))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return (await c.get("/readyz")).status_code, (await c.get("/healthz")).status_code

    assert asyncio.run(probe()) == (503, 200)
    engine.dispose()


def test_metrics_are_scraped_while_the_database_is_down() -> None:
    """A scrape during a database outage gave 500, and Prometheus lost every metric of
    the process for as long as it lasted; now the process's own metrics come, with
    monitor_database_up 0, and the outbox gauges are left out."""
    from monitor.probes import Liveness, app

    down = sa.create_engine("postgresql+psycopg://u@127.0.0.1:1/x")  # nothing listens there

    async def scrape() -> tuple[int, str, int]:
        transport = httpx.ASGITransport(app=app(down, Liveness(10)))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            metrics = await c.get("/metrics")
            return metrics.status_code, metrics.text, (await c.get("/readyz")).status_code

    status, text, ready = asyncio.run(scrape())
    assert status == 200 and ready == 503
    assert "monitor_database_up 0.0" in text and "monitor_polls_total" in text
    assert "monitor_outbox_messages" not in text
    down.dispose()


def test_deployment_files_use_the_probes() -> None:
    k8s = (ROOT / "deploy" / "k8s" / "monitor.yaml").read_text(encoding="utf-8")
    assert "livenessProbe" in k8s and "/healthz" in k8s
    assert "readinessProbe" in k8s and "/readyz" in k8s
    compose = (ROOT / "deploy" / "compose" / "compose.yaml").read_text(encoding="utf-8")
    assert "healthcheck" in compose and "/healthz" in compose


def test_the_kubernetes_manifest_defines_what_it_uses_and_sees_edits() -> None:
    import yaml

    docs = list(yaml.safe_load_all((ROOT / "deploy" / "k8s" / "monitor.yaml").read_text()))
    secrets = {d["metadata"]["name"] for d in docs if d["kind"] == "Secret"}
    (deploy,) = [d for d in docs if d["kind"] == "Deployment"]
    pod = deploy["spec"]["template"]["spec"]
    refs = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for c in pod["containers"] + pod["initContainers"]
        for e in c.get("env", [])
        if "valueFrom" in e
    }
    assert refs <= secrets, refs - secrets
    (daemon,) = pod["containers"]
    # a subPath mount never sees an edit of its ConfigMap: files reload only from
    # directory mounts
    assert all("subPath" not in m for m in daemon["volumeMounts"])
    mounts = [m["mountPath"] for m in daemon["volumeMounts"]]
    env = {e["name"]: e.get("value") for e in daemon["env"]}
    for var in ("MONITOR_RULES__DIR", "MONITOR_SOURCES_FILE", "MONITOR_CHANNELS_FILE"):
        assert any(str(env[var]).startswith(m) for m in mounts), var


def test_the_systemd_unit_keeps_its_data_where_it_may_write() -> None:
    text = (ROOT / "deploy" / "systemd" / "monitor.service").read_text(encoding="utf-8")
    data = re.search(r"^Environment=MONITOR_DATA_DIR=(\S+)$", text, re.M)
    writable = re.search(r"^ReadWritePaths=(.+)$", text, re.M)
    assert data and writable and data.group(1) in writable.group(1).split()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    """systemd's own check, with the unit's install path pointed at this environment's
    monitor (verify checks that the commands exist)."""
    text = (ROOT / "deploy" / "systemd" / "monitor.service").read_text(encoding="utf-8")
    assert "ExecReload=/bin/kill -HUP $MAINPID" in text
    here = str(Path(sys.executable).with_name("monitor"))
    unit = tmp_path / "monitor.service"
    unit.write_text(text.replace("/opt/monitor/.venv/bin/monitor", here), encoding="utf-8")
    out = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    problems = [ln for ln in out.stderr.splitlines() if "monitor.service" in ln]
    assert not problems, out.stderr


def test_a_postgresql_server_that_never_answers_is_given_up_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server that takes the connection and never answers (a host whose packets are
    dropped behaves alike until the system's TCP timeout): connecting waited for ever,
    and a daemon stopped then outlived its service manager's grace. Both engines give up
    after CONNECT_TIMEOUT, unless the URL names its own."""
    from monitor.store import db

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    taken: list[socket.socket] = []

    def take() -> None:
        with suppress(OSError):
            while True:
                taken.append(listener.accept()[0])

    threading.Thread(target=take, daemon=True).start()
    monkeypatch.setattr(db, "CONNECT_TIMEOUT", 1)
    outcome: list[str] = []

    def connect(url: str, make: Callable[[str], Engine]) -> None:
        try:
            with make(url).connect():
                outcome.append("connected")
        except sa.exc.OperationalError as exc:
            outcome.append(str(exc.orig))

    url = f"postgresql+psycopg://monitor@127.0.0.1:{port}/monitor"
    try:
        for case, make in ((url, db.make_engine), (url, db.make_read_engine)):
            worker = threading.Thread(target=connect, args=(case, make), daemon=True)
            worker.start()
            worker.join(30)
            assert not worker.is_alive(), "still connecting after 30 s"
        assert outcome == ["connection timeout expired"] * 2
        # the URL's own is kept
        assert "connect_timeout" not in db._postgres_args(f"{url}?connect_timeout=3")
        monkeypatch.setenv("PGCONNECT_TIMEOUT", "3")  # ... and libpq's variable
        assert "connect_timeout" not in db._postgres_args(url)
    finally:
        listener.close()
        for conn in taken:
            conn.close()


def test_an_open_postgres_connection_finds_a_vanished_server_dead_in_seconds(
    pg_url: str,
) -> None:
    """A connection whose server vanished (packets dropped) waited for the system's
    retransmissions, about 15 minutes, holding a job or the daemon's stop: its socket
    now carries TCP_USER_TIMEOUT and keepalives (the kernel's, read back from it), and
    a URL's own value is kept."""
    from monitor.store import db

    def socket_options(url: str) -> tuple[int, int, int]:
        engine = db.make_engine(url)
        try:
            with engine.connect() as conn:
                raw: Any = conn.connection.dbapi_connection
                sock = socket.socket(fileno=os.dup(raw.fileno()))
                try:
                    return (
                        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
                        sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                    )
                finally:
                    sock.close()
        finally:
            engine.dispose()

    assert socket_options(pg_url) == (30_000, 1, 30)
    joiner = "&" if "?" in pg_url else "?"
    assert socket_options(f"{pg_url}{joiner}keepalives_idle=7")[2] == 7


def test_a_peer_frozen_in_a_transaction_does_not_hold_its_locks_for_ever(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker frozen mid-transaction (a paused container: the kernel still answers for
    its socket) held its row locks, and every worker needing those rows waited for ever.
    The server now ends such a session after ``IDLE_IN_TRANSACTION`` seconds; the frozen
    worker, once resumed, hears it as a lost connection (the database away a moment),
    and an operator's own setting is kept."""
    from concurrent.futures import ThreadPoolExecutor

    from monitor.store import db

    monkeypatch.setattr(db, "IDLE_IN_TRANSACTION", 1)
    engine = db.make_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE held (id int PRIMARY KEY, n int)")
            conn.exec_driver_sql("INSERT INTO held VALUES (1, 0)")
            assert conn.exec_driver_sql("SHOW idle_in_transaction_session_timeout").scalar() == "1s"
        frozen = engine.connect()
        frozen.begin()
        frozen.exec_driver_sql("SELECT n FROM held WHERE id = 1 FOR UPDATE").all()

        def other_worker() -> None:
            with engine.begin() as conn:
                conn.exec_driver_sql("UPDATE held SET n = n + 1 WHERE id = 1")

        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(other_worker)
            try:
                waiting.result(timeout=60)  # before: waited for ever
            finally:
                if not waiting.done():
                    frozen.close()  # let the worker go, so that the failure is reported
        with pytest.raises(sa.exc.OperationalError, match="idle-in-transaction"):
            frozen.exec_driver_sql("SELECT 1")
        frozen.close()
        with engine.connect() as conn:  # the pool has a live connection again
            assert conn.exec_driver_sql("SELECT n FROM held").scalar() == 1
    finally:
        engine.dispose()
    own = pg_url.replace("options=", "options=-cidle_in_transaction_session_timeout%3D5min%20")
    for make in (db.make_engine, db.make_read_engine):
        engine = make(own)
        try:
            with engine.connect() as conn:
                setting = conn.exec_driver_sql("SHOW idle_in_transaction_session_timeout")
                assert setting.scalar() == "5min"
        finally:
            engine.dispose()


def test_a_batch_of_long_documents_is_no_frozen_worker(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Extraction runs inside the batch's transaction, with no statement for its whole
    time: 25 files of 9 MB (75 s) went past the idle limit, the server ended the session
    and `ingest` stored nothing. The batch now says a word to the server as it goes. The
    sleep stands for a long document's extraction, past the limit (1 s here) in all."""
    import time

    from monitor.app import batches
    from monitor.extract import extract as real
    from monitor.pipeline import Pipeline
    from monitor.store import db
    from monitor.values import FetchedArticle

    monkeypatch.setattr(db, "IDLE_IN_TRANSACTION", 1)

    def long_document(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.4)
        return real(*args, **kwargs)

    monkeypatch.setattr(batches, "extract", long_document)
    engine = db.make_engine(pg_url)
    try:
        upgrade(engine)
        pipe = Pipeline(Settings(), engine, load_rules(RULES, channels=CHANNELS))
        items = [
            FetchedArticle(url=f"https://x.test/{n}", guid=str(n), title=f"Report {n}",
                           text=f"Alibaba will invest RMB {n + 100} billion in AI.")
            for n in range(5)
        ]  # fmt: skip
        assert pipe.ingest(items, source="file").new == 5
    finally:
        engine.dispose()


def test_jobs_that_hear_the_database_back_at_once_say_it_once(
    tmp_path: Path, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """Several jobs asked whether the database was back at the same time: the first to
    hear cleared the outage, and each other subtracted its start from None, a TypeError
    traceback in the log and a failed digest or dispatch job."""
    settings = Settings(database_url=str(engine.url), sources_file=tmp_path / "none.yaml")
    daemon = Daemon(settings, engine, RuleBook(RULES, channels=CHANNELS))
    daemon._database_lost = 0.0  # an outage on, as _database_unavailable leaves it

    async def jobs() -> None:
        await asyncio.gather(*(daemon._database_answers() for _ in range(3)))

    with caplog.at_level("WARNING"):
        asyncio.run(jobs())
    said = [r.getMessage() for r in caplog.records if "available again" in r.getMessage()]
    assert len(said) == 1 and daemon._database_lost is None


def test_a_database_locked_by_another_writer_is_no_outage(
    tmp_path: Path, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A job that waited past SQLite's busy timeout behind a long store was reported as a
    database outage ("database unavailable", /readyz 503 until the next job ended well),
    though the database answered all along."""
    import sqlite3

    settings = Settings(database_url=str(engine.url), sources_file=tmp_path / "none.yaml")
    daemon = Daemon(settings, engine, RuleBook(RULES, channels=CHANNELS))

    async def retention_job() -> None:
        raise sa.exc.OperationalError(
            "DELETE ...", {}, sqlite3.OperationalError("database is locked")
        )

    async def run_it() -> None:
        await daemon._tracked(retention_job)()

    with caplog.at_level("WARNING"):
        asyncio.run(run_it())
    assert daemon._database_lost is None and daemon.counters.failed == 1
    assert "stayed locked by another writer" in caplog.text
    assert "database unavailable" not in caplog.text
