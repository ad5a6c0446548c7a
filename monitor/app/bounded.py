"""Blocking database work a stop waits for at most so long.

A PostgreSQL server that takes a query and never answers holds its caller for ever
(libpq has no timeout for an answer). Run on the event loop, such a call also blocks
the loop, and with it the signal handlers: a stop waiting for it could only be killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def within(fn: Callable[[], T], limit: float, *, name: str) -> T:
    """``fn()`` in a thread of its own, waited for at most ``limit`` seconds
    (``TimeoutError`` after that; ``fn``'s own exception otherwise). The thread is a
    daemon thread: left waiting, it does not hold the process's exit, as a thread of
    the loop's default executor would."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, failure: BaseException | None) -> None:
        if done.done():
            return
        if failure is None:
            done.set_result(result)  # type: ignore[arg-type]
        else:
            done.set_exception(failure)

    def work() -> None:
        result: T | None = None
        failure: BaseException | None = None
        try:
            result = fn()
        except BaseException as exc:  # handed to the waiting coroutine
            failure = exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
            loop.call_soon_threadsafe(settle, result, failure)

    threading.Thread(target=work, name=name, daemon=True).start()
    return await asyncio.wait_for(asyncio.shield(done), limit)
