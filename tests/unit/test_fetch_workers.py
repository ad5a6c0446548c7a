"""Parsing in worker processes: results, typed errors, time limit, crash isolation."""

from __future__ import annotations

import asyncio
import os
import signal
import time

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
