"""Parsing in worker processes: results, typed errors, time limit, crash isolation."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor.errors import ParseError
from monitor.fetch.feeds import ParserCrash, parse_feed
from monitor.fetch.workers import ParsePool

RSS = (
    b'<rss version="2.0"><channel><title>T</title><item><title>A</title>'
    b"<link>http://x.example/a</link><guid>a</guid><description>Body.</description></item></channel></rss>"
)
CRASHER = (
    b'<feed xmlns="http://www.w3.org/2005/Atom" xmlns:georss="http://www.georss.org/georss" '
    b'xmlns:gml="http://www.opengis.net/gml"><entry><title>t</title><georss:where>'
    b'<gml:Point srsName="EPSG:abc"><gml:pos>1 2</gml:pos></gml:Point></georss:where>'
    b"</entry></feed>"
)


def spin(seconds: float) -> str:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return "done"


async def warm(pool: ParsePool, workers: int) -> None:
    """Start the pool's workers with no time limit: a cold start under load (a spawned
    interpreter importing monitor) took longer than the short limits these tests set, and
    the parse that started a worker was timed out before the tested one began."""
    executor = pool._pool()
    jobs = [executor.submit(spin, 0.2) for _ in range(workers)]  # busy at once: n workers
    await asyncio.gather(*(asyncio.wrap_future(j) for j in jobs))


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_worker_processes_parse_and_keep_error_types() -> None:
    async def go() -> None:
        pool = ParsePool(1, timeout_s=5.0)
        try:
            parsed = await pool.run(
                parse_feed, RSS, {}, "http://x.example/f", url="http://x.example/f"
            )
            assert [a.guid for a in parsed.articles] == ["a"]
            with pytest.raises(ParseError) as info:
                await pool.run(parse_feed, b"", {}, "http://x.example/f", url="http://x.example/f")
            assert info.value.kind == "empty_body"
            assert (
                str(info.value) == "empty_body: the server sent an empty body (http://x.example/f)"
            )
            with pytest.raises(ParserCrash) as crash:
                await pool.run(
                    parse_feed, CRASHER, {}, "http://x.example/f", url="http://x.example/f"
                )
            assert crash.value.kind == "parser_crash" and crash.value.payload == CRASHER
        finally:
            await pool.aclose()

    asyncio.run(go())


def test_a_parse_over_the_time_limit_is_stopped_and_the_pool_survives() -> None:
    async def go() -> None:
        pool = ParsePool(1, timeout_s=0.5)
        try:
            started = time.monotonic()
            with pytest.raises(ParseError) as info:
                await pool.run(spin, 30.0)
            assert info.value.kind == "parse_timeout"
            assert time.monotonic() - started < 10.0
            assert await pool.run(spin, 0.0) == "done"
        finally:
            await pool.aclose()

    asyncio.run(go())


def test_a_crashed_worker_is_native_crash_and_the_pool_is_rebuilt() -> None:
    async def go() -> None:
        pool = ParsePool(1, timeout_s=5.0)
        try:
            with pytest.raises(ParseError) as info:
                await pool.run(die)
            assert info.value.kind == "native_crash"
            parsed = await pool.run(parse_feed, RSS, {}, "http://x.example/f")
            assert len(parsed.articles) == 1
        finally:
            await pool.aclose()

    asyncio.run(go())


def test_thread_mode_runs_inline_errors() -> None:
    async def go() -> None:
        pool = ParsePool(0)
        with pytest.raises(ParseError):
            await pool.run(parse_feed, b"", {}, "http://x.example/f")
        assert (await pool.run(parse_feed, RSS, {}, "http://x.example/f")).articles

    asyncio.run(go())


def _worker_pids(pool: ParsePool) -> list[int]:
    executor = pool._executor
    assert executor is not None
    return [p.pid for p in (getattr(executor, "_processes", None) or {}).values() if p.pid]


def test_a_worker_that_died_while_idle_is_replaced_at_the_next_parse() -> None:
    """A worker killed between parses (the OOM killer, an operator's kill) broke the pool
    for good: every later parse of every source failed until a restart."""

    async def go() -> list[str]:
        pool = ParsePool(1, timeout_s=5.0)
        try:
            assert await pool.run(spin, 0.0) == "done"
            executor = pool._executor
            for pid in _worker_pids(pool):
                os.kill(pid, signal.SIGKILL)
            # the pool learns of it on its own thread: until then a task would still be
            # queued (and fail inside the run); the defect was a pool that knew
            for _ in range(500):
                if getattr(executor, "_broken", False):
                    break
                await asyncio.sleep(0.01)
            assert getattr(executor, "_broken", False)
            outcomes = []
            for _ in range(3):
                try:
                    outcomes.append(await pool.run(spin, 0.0))
                except ParseError as exc:
                    outcomes.append(exc.kind)
            return outcomes
        finally:
            await pool.aclose()

    # at most the parse that found the pool broken is lost, not every later one
    assert asyncio.run(go())[-2:] == ["done", "done"]


def test_parses_waiting_for_the_worker_are_not_timed_out_for_their_wait() -> None:
    """The time limit counted a parse's wait behind others: with one worker, parses
    queued behind slow but legal ones timed out, and the worker running an innocent
    parse was killed."""

    async def go() -> list[str]:
        pool = ParsePool(1, timeout_s=0.5, backstop_s=0.5)
        try:
            await warm(pool, 1)
            results = await asyncio.gather(
                *(pool.run(spin, 0.3) for _ in range(6)), return_exceptions=True
            )
            return [r if isinstance(r, str) else type(r).__name__ for r in results]
        finally:
            await pool.aclose()

    assert asyncio.run(go()) == ["done"] * 6


def wait_for(path: str) -> str:
    while not os.path.exists(path):
        time.sleep(0.01)
    return "done"


def test_a_parse_beside_one_killed_for_its_time_limit_is_run_again(tmp_path: Path) -> None:
    """Killing a parse stuck in C kills every worker of the pool: the parse running in the
    other worker was that source's native_crash, a failure of a body that was fine."""
    flag = tmp_path / "stuck-one-ended"

    async def go() -> list[str]:
        pool = ParsePool(2, timeout_s=1.0, backstop_s=0.5)
        try:
            await warm(pool, 2)

            async def stuck() -> int:
                try:
                    return await pool.run(stuck_in_c)
                finally:
                    flag.touch()

            async def beside() -> str:
                await asyncio.sleep(0.9)  # under way in the other worker at the kill (1.5 s)
                return await pool.run(wait_for, str(flag))

            results = await asyncio.gather(stuck(), beside(), return_exceptions=True)
            return [str(getattr(r, "kind", r)) for r in results]
        finally:
            await pool.aclose()

    assert asyncio.run(go()) == ["parse_timeout", "done"]


def test_a_cancelled_parse_holds_its_worker_until_it_ends() -> None:
    """A cancelled parse (a poll cancelled at a stop) goes on in its worker: the next
    parse waited behind it while its own time limit ran, and was timed out."""

    async def go() -> str:
        pool = ParsePool(1, timeout_s=2.0, backstop_s=0.5)
        try:
            await warm(pool, 1)
            first = asyncio.ensure_future(pool.run(spin, 1.8))
            await asyncio.sleep(0.2)  # no event says the worker took it: a moment for the pipe
            first.cancel()
            # 1.6 s left of the first, then 1 s of this one: over its 2.5 s if they overlap
            return await pool.run(spin, 1.0)
        finally:
            await pool.aclose()

    assert asyncio.run(go()) == "done"


def test_a_cancelled_parse_stuck_in_c_is_still_killed_at_its_deadline() -> None:
    """The backstop lived in the cancelled caller: a worker stuck in C code kept its slot
    for ever, and with one worker every later parse waited for ever."""

    async def go() -> str:
        pool = ParsePool(1, timeout_s=1.0, backstop_s=0.5)
        try:
            await warm(pool, 1)
            stuck = asyncio.ensure_future(pool.run(stuck_in_c))
            await asyncio.sleep(0.3)  # no event says the worker took it: a moment for the pipe
            stuck.cancel()
            await asyncio.gather(stuck, return_exceptions=True)
            async with asyncio.timeout(20):  # the deadline is 1.5 s after it started
                return await pool.run(spin, 0.0)
        finally:
            await pool.aclose()

    assert asyncio.run(go()) == "done"


def test_no_parse_starts_workers_after_the_pool_is_closed() -> None:
    async def go() -> str:
        pool = ParsePool(1, timeout_s=1.0)
        await pool.run(spin, 0.0)
        await pool.aclose()
        with pytest.raises(ParseError) as info:
            await pool.run(spin, 0.0)
        assert pool._executor is None  # nothing left running for nobody to stop
        return info.value.kind

    assert asyncio.run(go()) == "stopped"


def stuck_in_c() -> int:
    # one C loop of minutes that never checks for signals: the worker's own timer cannot
    # stop it (the regex engine, by contrast, does check)
    return sum(range(10**11))


_STUCK = """
import asyncio, sys, time
from monitor.fetch.workers import ParsePool
from tests.unit.test_fetch_workers import stuck_in_c, warm

async def go():
    pool = ParsePool(1, timeout_s=0.5, backstop_s=0.5)
    await warm(pool, 1)
    stuck = asyncio.ensure_future(pool.run(stuck_in_c))
    await asyncio.sleep(0.2)  # no event says the worker took it: a moment for the pipe
    stuck.cancel()  # the stop cancels the polls under way
    try:
        await stuck
    except asyncio.CancelledError:
        pass
    started = time.monotonic()
    await pool.aclose()
    print(round(time.monotonic() - started, 1))

asyncio.run(go())
"""


def test_closing_does_not_wait_for_ever_for_a_parse_stuck_in_c() -> None:
    """aclose waited for every worker to finish: a parse stuck in C code, whose poll the
    stop had cancelled (so no backstop would kill it), held the daemon's stop for ever.
    It waits the time limit and the backstop, then kills. In a process of its own, ended
    after 60 s: a stop that hangs must fail the test, not the suite."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run(
        [sys.executable, "-c", _STUCK], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) < 5.0


_SIBLING = """
import asyncio
from monitor.fetch.workers import ParsePool
from tests.unit.test_fetch_workers import die, spin, stuck_in_c, warm

async def go():
    pool = ParsePool(2, timeout_s=1.0, backstop_s=0.5)
    await warm(pool, 2)
    stuck = asyncio.ensure_future(pool.run(stuck_in_c))
    await asyncio.sleep(0.2)  # no event says the worker took it: a moment for the pipe
    kinds = []
    for parse in (pool.run(die), stuck):
        try:
            await parse
        except Exception as exc:
            kinds.append(getattr(exc, "kind", repr(exc)))
    await pool.aclose()
    print(*kinds)

asyncio.run(go())
"""


def test_a_worker_stuck_in_c_dies_with_a_pool_another_worker_crashed() -> None:
    """A crash breaks the whole pool, and the executor stops the other workers with
    SIGTERM, which they ignore: one stuck in C code lived on, and the interpreter's exit
    waited for it for ever. In a process of its own, ended after 60 s: an exit that
    hangs must fail the test, not the suite."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run(
        [sys.executable, "-c", _SIBLING], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.split() == ["native_crash", "native_crash"], out.stderr


def interrupted_then(seconds: float) -> str:
    os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C reaches the whole process group
    os.kill(os.getpid(), signal.SIGTERM)  # as a service manager may signal every process
    return spin(seconds)


def test_ctrl_c_and_sigterm_to_a_worker_do_not_end_its_parse() -> None:
    """Ctrl-C in the terminal (the whole process group) killed the worker under a parse
    and the poll was recorded as a native crash; the parent decides when workers end."""

    async def go() -> str:
        pool = ParsePool(1, timeout_s=5.0)
        try:
            return await pool.run(interrupted_then, 0.1)
        finally:
            await pool.aclose()

    assert asyncio.run(go()) == "done"


_ORPHAN = """
import asyncio, os, time
from monitor.fetch.workers import ParsePool

async def go():
    pool = ParsePool(1)
    await pool.run(time.monotonic)
    print(*[p.pid for p in pool._executor._processes.values()], flush=True)
    os.kill(os.getpid(), 9)  # the parent killed outright: no shutdown reaches the pool

asyncio.run(go())
"""


_ORPHAN_STUCK = """
import asyncio, os
from monitor.fetch.workers import ParsePool
from tests.unit.test_fetch_workers import stuck_in_c, warm

async def go():
    pool = ParsePool(1, timeout_s=600)
    await pool.run(os.getpid)
    print(*[p.pid for p in pool._executor._processes.values()], flush=True)
    asyncio.ensure_future(pool.run(stuck_in_c))
    await asyncio.sleep(0.5)  # no event says the worker took it: a moment for the pipe
    os.kill(os.getpid(), 9)

asyncio.run(go())
"""


@pytest.mark.parametrize("script", [_ORPHAN, _ORPHAN_STUCK], ids=["idle", "stuck in C"])
def test_a_worker_ends_when_its_parent_is_killed(script: str) -> None:
    """Deaf to SIGTERM (above), a worker whose daemon was killed outright would stay for
    ever: its queue never reports an end. It watches its parent and ends with it; one
    stuck in C code, whose watching thread cannot run, is ended by the kernel."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    # the worker shares the script's stdout: read its pid, then wait for the script
    # alone (a worker that lives on would hold the pipe open)
    with subprocess.Popen(
        [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True
    ) as parent:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        parent.wait(timeout=60)
    deadline = time.monotonic() + 10
    alive = True
    while alive and time.monotonic() < deadline:
        try:
            os.kill(pid, 0)  # not our child: nothing to await, so its end is looked for
        except ProcessLookupError:
            alive = False
        else:
            time.sleep(0.1)
    if alive:  # leave no worker spinning behind a failed test
        os.kill(pid, signal.SIGKILL)
    assert not alive


def _resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; glibc's heap")
def test_a_worker_gives_back_what_a_large_feed_took() -> None:
    """A worker kept the heap a large feed had grown to (a 38 MB feed: 137 MB idle for the
    rest of the daemon's life, 42 MB before it); the next parse gives it back first."""
    item = (
        b"<item><title>Item %d</title><link>http://x.example/%d</link><guid>g%d</guid>"
        b"<description>&lt;p&gt;"
        + b"Revenue rose 12%% in the quarter, the company said. " * 20
        + b"&lt;/p&gt;</description></item>"
    )
    large = (
        b'<rss version="2.0"><channel><title>T</title>'
        + b"".join(item % (n, n, n) for n in range(20_000))
        + b"</channel></rss>"
    )

    async def go() -> tuple[float, float, float]:
        pool = ParsePool(1, timeout_s=60.0)
        try:
            await pool.run(parse_feed, RSS, {}, "http://x.example/f")
            assert pool._executor is not None
            (pid,) = pool._executor._processes
            before = _resident_mb(pid)
            parsed = await pool.run(parse_feed, large, {}, "http://x.example/f")
            assert len(parsed.articles) == 20_000
            grown = _resident_mb(pid)
            await pool.run(parse_feed, RSS, {}, "http://x.example/f")
            return before, grown, _resident_mb(pid)
        finally:
            await pool.aclose()

    before, grown, after = asyncio.run(go())
    assert grown - before > 30, (before, grown)  # ~58 MB to give back (~9 MB stay)
    assert after - before < 20, (before, grown, after)
