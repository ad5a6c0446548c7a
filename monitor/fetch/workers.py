"""Where CPU-bound parsing runs: a thread (default) or a pool of worker processes.

Parsing a feed (feedparser, ~1 ms per item) or a page (Lexbor) holds the GIL, so on the
event loop it would stall every other fetch. A thread keeps the loop responsive. Worker
processes add what a thread cannot (RELIABILITY.md P3, P8):

* parsing on every core;
* a per-parse time limit, enforced inside the worker by a timer signal and, as a
  backstop, by the parent killing a worker that does not answer;
* a memory limit (``RLIMIT_AS``) so a hostile document cannot exhaust the host;
* isolation: a native crash (a segfault in a C parser) kills one worker, becomes
  ``ParseError(kind="native_crash")``, and the pool is rebuilt.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from monitor.errors import FetchError, ParseError

T = TypeVar("T")
_Outcome = tuple[str, Any]


class ParsePool:
    """Runs pure parse functions off the event loop; use ``async with`` or ``aclose()``."""

    def __init__(
        self, processes: int = 0, *, timeout_s: float = 20.0, memory_mb: int = 1024
    ) -> None:
        self.processes = processes
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self._executor: ProcessPoolExecutor | None = None

    async def run(self, fn: Callable[..., T], *args: Any, url: str | None = None) -> T:
        """``fn(*args)``; its ``FetchError`` is re-raised here with kind, url and message."""
        if self.processes <= 0:
            return await asyncio.to_thread(fn, *args)
        executor = self._pool()
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(executor, _invoke, fn, args, self.timeout_s)
        try:
            # the worker's own timer fires first; this backstop catches a worker stuck in C
            async with asyncio.timeout(self.timeout_s + 5.0):
                kind, value = await future
        except TimeoutError as exc:
            self._discard(executor, kill=True)
            raise ParseError(
                "parse_timeout", f"parsing took over {self.timeout_s:g}s", url=url
            ) from exc
        except BrokenProcessPool as exc:
            self._discard(executor, kill=False)
            raise ParseError(
                "native_crash", "the parser process died (killed or crashed)", url=url
            ) from exc
        if kind == "ok":
            return value  # type: ignore[no-any-return]
        raise _rebuild(value, url)

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn: a fresh interpreter, safe whatever threads the daemon runs
            self._executor = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_limit_memory,
                initargs=(self.memory_mb,),
            )
        return self._executor

    def _discard(self, executor: ProcessPoolExecutor, *, kill: bool) -> None:
        if self._executor is executor:
            self._executor = None
        if kill:
            # ProcessPoolExecutor cannot cancel a running task; its workers are killed so a
            # parser stuck in C code does not keep burning a core. ``_processes`` is the
            # only handle on them (CPython 3.11).
            for process in list(getattr(executor, "_processes", {}).values()):
                process.kill()
        executor.shutdown(wait=False, cancel_futures=True)

    async def aclose(self) -> None:
        if self._executor is not None:
            executor, self._executor = self._executor, None
            await asyncio.to_thread(executor.shutdown, True, cancel_futures=True)


def _limit_memory(memory_mb: int) -> None:
    import resource

    limit = memory_mb * 1024 * 1024
    # a hard limit already lower than ours stays in force
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class _Deadline(Exception):
    pass


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Deadline


def _invoke(fn: Callable[..., Any], args: tuple[Any, ...], timeout_s: float) -> _Outcome:
    """Runs in the worker: call ``fn`` under a timer and return a picklable outcome.

    Exceptions are flattened to plain values: ``FetchError`` cannot be pickled back as is
    (its constructor takes keyword arguments that ``args`` does not carry).
    """
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        return "ok", fn(*args)
    except _Deadline:
        return "error", ("ParseError", "parse_timeout", f"parsing took over {timeout_s:g}s", None)
    except MemoryError:
        return "error", ("ParseError", "too_large", "the document needs too much memory", None)
    except FetchError as exc:
        return "error", (type(exc).__name__, exc.kind, _message(exc), getattr(exc, "payload", None))
    except Exception as exc:  # a parser bug must not take the worker down
        return "error", ("ParseError", "parse", f"{type(exc).__name__}: {exc}"[:300], None)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _message(exc: FetchError) -> str:
    text = str(exc)
    prefix = f"{exc.kind}: "
    suffix = f" ({exc.url})" if exc.url else ""
    if text.startswith(prefix):
        text = text[len(prefix) :]
    if suffix and text.endswith(suffix):
        text = text[: -len(suffix)]
    return text


def _rebuild(value: tuple[str, str, str, bytes | None], url: str | None) -> ParseError:
    name, kind, message, payload = value
    if name == "ParserCrash" and payload is not None:
        from monitor.fetch.feeds import ParserCrash

        return ParserCrash(message, url=url or "", payload=payload)
    return ParseError(kind, message, url=url)
