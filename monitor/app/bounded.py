"""Blocking database work a stop waits for at most so long.

A PostgreSQL server that takes a query and never answers holds its caller for ever
(libpq has no timeout for an answer). Run on the event loop, such a call also blocks
the loop, and with it the signal handlers: a stop waiting for it could only be killed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")


async def within(fn: Callable[[], T], limit: float, *, name: str) -> T:
    """``fn()`` in a thread of its own, waited for at most ``limit`` seconds
    (``TimeoutError`` after that; ``fn``'s own exception otherwise). The thread is a
    daemon thread: left waiting, it does not hold the process's exit, as a thread of
    the loop's default executor would."""
    job: Future[T] = Future()

    def work() -> None:
        job.set_running_or_notify_cancel()
        try:
            job.set_result(fn())
        except BaseException as exc:  # handed to the waiting coroutine
            job.set_exception(exc)

    threading.Thread(target=work, name=name, daemon=True).start()
    return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(job)), limit)
